# One image, three services and the task each Dagster run gets. The image is the repository at /app
# (WORKDIR): workspace.yaml is there, and DAGSTER_HOME=/app/infra/dagster picks up the production
# instance config, whose run launcher (dagster-aws's EcsRunLauncher) starts every run in a task of
# its own from the "run" task definition, in the daemon's cluster, subnets and security groups.
locals {
  image = "${aws_ecr_repository.flux.repository_url}:${var.image_tag}"

  services = {
    api = {
      command       = ["uvicorn", "flux_api.main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--forwarded-allow-ips", "*"]
      port          = 8000
      cpu           = 512
      memory        = 1024
      desired_count = var.api_desired_count
    }
    webserver = {
      command       = ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "workspace.yaml"]
      port          = 3000
      cpu           = 512
      memory        = 2048
      desired_count = 1
    }
    # Runs go to tasks of their own: the daemon only evaluates sensors and schedules.
    daemon = {
      command       = ["dagster-daemon", "run", "-w", "workspace.yaml"]
      port          = null
      cpu           = 512
      memory        = 2048
      desired_count = 1
    }
  }

  # A run's task: a batch of 100 tenants trains on its 2 vCPUs (the launcher sets its command).
  tasks = merge(local.services, {
    run = {
      command       = []
      port          = null
      cpu           = 2048
      memory        = 8192
      desired_count = 0
    }
  })

  flux_environment = {
    FLUX_ENVIRONMENT         = "production"
    FLUX_LANDING_URL         = "s3://${aws_s3_bucket.flux["landing"].bucket}"
    FLUX_MLFLOW_TRACKING_URI = var.mlflow_tracking_uri
    FLUX_SAGEMAKER_ROLE_ARN  = aws_iam_role.sagemaker.arn
    FLUX_SAGEMAKER_IMAGE_URI = local.image
    FLUX_SAGEMAKER_S3_URL    = "s3://${aws_s3_bucket.flux["artifacts"].bucket}/sagemaker"
    DAGSTER_HOME             = "/app/infra/dagster"
    # The family, not the resource: the run task's own environment holds this name.
    FLUX_DAGSTER_RUN_TASK_DEFINITION = "${local.name}-run"
    # Each run in its own task: more machines, not more processes on one.
    FLUX_DAGSTER_MAX_CONCURRENT_RUNS = tostring(var.max_concurrent_runs)
    AWS_DEFAULT_REGION       = var.region
  }

  # ECS reads these from Secrets Manager at task start; "<arn>:<json key>::" picks one key.
  flux_secrets = {
    FLUX_DATABASE_URL               = "${aws_secretsmanager_secret.database.arn}:url::"
    FLUX_DATABASE_PASSWORD_PIPELINE = "${aws_secretsmanager_secret.database.arn}:password_pipeline::"
    FLUX_DATABASE_PASSWORD_API      = "${aws_secretsmanager_secret.database.arn}:password_api::"
    FLUX_DATABASE_PASSWORD_ANALYST  = "${aws_secretsmanager_secret.database.arn}:password_analyst::"
    FLUX_DAGSTER_PG_URL             = "${aws_secretsmanager_secret.database.arn}:dagster_pg_url::"
    FLUX_TOKEN_SECRET               = aws_secretsmanager_secret.token_secret.arn
  }
}

resource "aws_ecr_repository" "flux" {
  name                 = local.name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "flux" {
  repository = aws_ecr_repository.flux.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the last 50 images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 50 }
      action       = { type = "expire" }
    }]
  })
}

resource "aws_cloudwatch_log_group" "flux" {
  for_each = local.tasks

  name              = "/flux/${var.environment}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.flux.arn
}

resource "aws_ecs_cluster" "flux" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_task_definition" "flux" {
  for_each = local.tasks

  family                   = "${local.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name         = each.key
    image        = local.image
    essential    = true
    command      = each.value.command
    portMappings = each.value.port == null ? [] : [{ containerPort = each.value.port, protocol = "tcp" }]
    environment  = [for name, value in local.flux_environment : { name = name, value = value }]
    secrets      = [for name, arn in local.flux_secrets : { name = name, valueFrom = arn }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.flux[each.key].name
        awslogs-region        = var.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

resource "aws_ecs_service" "flux" {
  for_each = local.services

  name            = each.key
  cluster         = aws_ecs_cluster.flux.id
  task_definition = aws_ecs_task_definition.flux[each.key].arn
  desired_count   = each.value.desired_count
  launch_type     = "FARGATE"

  # Two Dagster daemons at once would both run the schedule: the daemon is stopped before its
  # replacement starts. The others roll without a gap.
  deployment_minimum_healthy_percent = each.key == "daemon" ? 0 : 100
  deployment_maximum_percent         = each.key == "daemon" ? 100 : 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.app.id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = each.key == "api" ? [each.value.port] : []
    content {
      target_group_arn = aws_lb_target_group.api.arn
      container_name   = each.key
      container_port   = load_balancer.value
    }
  }

  depends_on = [aws_lb_listener.https]
}

# -- the API's load balancer (the Dagster webserver stays private: it has no login) -------------

resource "aws_lb" "api" {
  name                       = "${local.name}-api"
  load_balancer_type         = "application"
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  # checkov:skip=CKV_AWS_91: the API logs every request itself (flux_api/logs.py: tenant, route, status, time); ALB logs would repeat them
  # checkov:skip=CKV2_AWS_28: a WAF is the account's choice; its managed rules need tuning to an API of JSON and CSV uploads
}

resource "aws_lb_target_group" "api" {
  name                 = "${local.name}-api"
  port                 = local.services.api.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path    = "/healthz"
    matcher = "200"
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}
