"""The training library: candidate models, the backtest, the champion, the entrypoint a training
job runs, its backends (a local process or SageMaker), and the MLflow registry."""
