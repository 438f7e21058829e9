terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # State holds the generated token secret: keep it in an encrypted, private bucket.
  # Configure with `terraform init -backend-config=...` (see README.md).
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "flux"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
