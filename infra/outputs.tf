output "landing_bucket" {
  description = "Landing-zone bucket (FLUX_LANDING_URL=s3://<this>)."
  value       = aws_s3_bucket.flux["landing"].bucket
}

output "artifacts_bucket" {
  description = "MLflow and SageMaker artifacts bucket."
  value       = aws_s3_bucket.flux["artifacts"].bucket
}

output "db_endpoint" {
  description = "PostgreSQL endpoint (host:port)."
  value       = aws_db_instance.flux.endpoint
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret RDS keeps the master (flux_owner) password in."
  value       = aws_db_instance.flux.master_user_secret[0].secret_arn
}

output "database_secret_arn" {
  description = "Secret to fill with the database URLs and role passwords (see README.md)."
  value       = aws_secretsmanager_secret.database.arn
}

output "ecr_repository_url" {
  description = "Where to push the Flux image."
  value       = aws_ecr_repository.flux.repository_url
}

output "api_url" {
  description = "The API's load balancer; point a DNS name with the certificate's domain at it."
  value       = "https://${aws_lb.api.dns_name}"
}

output "sagemaker_role_arn" {
  description = "Execution role for Flux's SageMaker training jobs."
  value       = aws_iam_role.sagemaker.arn
}

output "ecs_cluster" {
  description = "ECS cluster running the API and Dagster."
  value       = aws_ecs_cluster.flux.name
}
