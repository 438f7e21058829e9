"""Forecasts: writing each champion's horizon into ``flux.forecasts``, and reading it back out."""
