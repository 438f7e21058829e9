# PostgreSQL 15 on RDS. TimescaleDB is not offered on RDS: Flux takes its plain-PostgreSQL path here.
resource "aws_db_subnet_group" "flux" {
  name       = local.name
  subnet_ids = var.private_subnet_ids
}

resource "aws_db_parameter_group" "flux" {
  name   = "${local.name}-postgres15"
  family = "postgres15"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "aws_db_instance" "flux" {
  identifier     = local.name
  engine         = "postgres"
  engine_version = "15"
  instance_class = var.db_instance_class

  db_name  = "flux"
  username = "flux_owner"
  # RDS generates the master password and keeps it (rotated) in Secrets Manager: never in state.
  manage_master_user_password = true

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_allocated_storage_gb * 5
  storage_type          = "gp3"
  storage_encrypted     = true

  db_subnet_group_name   = aws_db_subnet_group.flux.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  multi_az               = var.db_multi_az
  parameter_group_name   = aws_db_parameter_group.flux.name

  backup_retention_period         = 14
  copy_tags_to_snapshot           = true
  deletion_protection             = var.deletion_protection
  skip_final_snapshot             = false
  final_snapshot_identifier       = "${local.name}-final"
  auto_minor_version_upgrade      = true
  enabled_cloudwatch_logs_exports = ["postgresql"]
  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.flux.arn
  # Harmless while unused: Flux's roles sign in with passwords from Secrets Manager.
  iam_database_authentication_enabled = true
  # checkov:skip=CKV_AWS_118: Performance Insights (on) shows the load by query; OS-level enhanced monitoring needs an IAM role for RDS, not worth it yet
}
