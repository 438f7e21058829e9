"""Forecasting: the assets and checks that write each champion's horizon."""
