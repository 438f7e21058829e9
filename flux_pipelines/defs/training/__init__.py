"""Training: candidate models, backtest, SageMaker entrypoint, backends, MLflow registry."""
