"""Training: the Dagster assets, checks and resources that run the training library."""
