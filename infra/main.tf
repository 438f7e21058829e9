data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name       = "flux-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Prefixes in the artifacts bucket; the SageMaker role sees only the three under sagemaker/.
  training_prefix   = "sagemaker/training"
  model_prefix      = "sagemaker/models"
  checkpoint_prefix = "sagemaker/checkpoints"
  mlflow_prefix     = "mlflow"
}
