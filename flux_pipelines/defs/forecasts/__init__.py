"""Forecasting: each tenant-metric's champion predicts the horizon into ``flux.forecasts``."""
