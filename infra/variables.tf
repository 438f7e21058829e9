variable "region" {
  description = "AWS region to deploy Flux into."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Name of this deployment (e.g. prod, staging); part of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "vpc_id" {
  description = "Existing VPC to run in. Its private subnets need a NAT gateway (or VPC endpoints) to reach ECR, S3, Secrets Manager, SageMaker and CloudWatch."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets (at least two AZs) for the ECS tasks and the database."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "RDS needs subnets in at least two availability zones."
  }
}

variable "public_subnet_ids" {
  description = "Public subnets (at least two AZs) for the API's load balancer."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "An application load balancer needs subnets in at least two availability zones."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for the API's HTTPS listener."
  type        = string
}

variable "api_ingress_cidrs" {
  description = "CIDR blocks allowed to reach the API's load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "image_tag" {
  description = "Tag of the Flux image in ECR to run (tags are immutable: use the git commit)."
  type        = string
}

variable "mlflow_tracking_uri" {
  description = "MLflow tracking server the services log to (e.g. https://mlflow.example.com or a SageMaker managed MLflow ARN); its artifact root should be s3://<artifacts bucket>/mlflow."
  type        = string
}

variable "db_instance_class" {
  description = "RDS instance class for PostgreSQL."
  type        = string
  default     = "db.t4g.medium"
}

variable "db_allocated_storage_gb" {
  description = "Initial database storage in GiB (storage autoscaling grows it up to 5x)."
  type        = number
  default     = 50
}

variable "db_multi_az" {
  description = "Run the database with a standby in a second AZ."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the database from deletion (turn off only to tear an environment down)."
  type        = bool
  default     = true
}

variable "api_desired_count" {
  description = "Number of API tasks behind the load balancer."
  type        = number
  default     = 2
}

variable "log_retention_days" {
  description = "How long CloudWatch keeps service and training logs."
  type        = number
  default     = 365
}

variable "max_concurrent_runs" {
  description = "Dagster runs at once, each in its own ECS task of 2 vCPUs (100 tenants a run)"
  type        = number
  default     = 10
}
