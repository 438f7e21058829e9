locals {
  landing_arn   = aws_s3_bucket.flux["landing"].arn
  artifacts_arn = aws_s3_bucket.flux["artifacts"].arn
}

# -- SageMaker execution role: what a training job may touch ---------------------------------

data "aws_iam_policy_document" "sagemaker_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "sagemaker" {
  name               = "${local.name}-sagemaker"
  description        = "Flux training jobs: read the training channel, write the model"
  assume_role_policy = data.aws_iam_policy_document.sagemaker_assume.json
}

data "aws_iam_policy_document" "sagemaker" {
  statement {
    sid       = "ListTrainingPrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.artifacts_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.training_prefix}/*", "${local.checkpoint_prefix}/*"]
    }
  }

  statement {
    sid       = "ReadTrainingInput"
    actions   = ["s3:GetObject"]
    resources = ["${local.artifacts_arn}/${local.training_prefix}/*"]
  }

  statement {
    sid       = "WriteModelOutput"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.artifacts_arn}/${local.model_prefix}/*"]
  }

  # Managed spot training syncs /opt/ml/checkpoints to this prefix and back after an
  # interruption, so a restarted job skips the tenants it already trained.
  statement {
    sid       = "SpotCheckpoints"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.artifacts_arn}/${local.checkpoint_prefix}/*"]
  }

  statement {
    sid = "TrainingLogs"
    actions = [
      "logs:CreateLogGroup",
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogStreams",
    ]
    resources = [
      "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/sagemaker/TrainingJobs",
      "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/aws/sagemaker/TrainingJobs:*",
    ]
  }

  # The job runs the Flux image itself (the entrypoint needs Prophet and XGBoost).
  statement {
    sid       = "PullFluxImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.flux.arn]
  }

  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # this action has no resource-level scope
  }
}

resource "aws_iam_role_policy" "sagemaker" {
  name   = "training"
  role   = aws_iam_role.sagemaker.id
  policy = data.aws_iam_policy_document.sagemaker.json
}

# -- ECS: the task role (what Flux's code may do) and the execution role (what ECS does) ------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  description        = "Flux API and Dagster services"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket"]
    resources = [local.landing_arn, local.artifacts_arn]
  }

  statement {
    sid       = "LandingReadWrite"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.landing_arn}/*"]
  }

  # The SageMaker backend uploads each job's channel and fetches its model.tar.gz;
  # MLflow clients write artifacts to S3 themselves unless the server proxies them.
  statement {
    sid     = "ArtifactsReadWrite"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [
      "${local.artifacts_arn}/${local.training_prefix}/*",
      "${local.artifacts_arn}/${local.mlflow_prefix}/*",
    ]
  }

  statement {
    sid       = "ModelsRead"
    actions   = ["s3:GetObject"]
    resources = ["${local.artifacts_arn}/${local.model_prefix}/*"]
  }

  statement {
    sid = "TrainingJobs"
    actions = [
      "sagemaker:CreateTrainingJob",
      "sagemaker:DescribeTrainingJob",
      "sagemaker:StopTrainingJob",
      "sagemaker:AddTags",
    ]
    resources = ["arn:${local.partition}:sagemaker:${var.region}:${local.account_id}:training-job/flux-*"]
  }

  # dagster-aws's EcsRunLauncher, from the daemon and the webserver: a task per run.
  statement {
    sid       = "LaunchRunTasks"
    actions   = ["ecs:RunTask"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:task-definition/${local.name}-run:*"]
  }

  statement {
    sid     = "WatchRunTasks"
    actions = ["ecs:DescribeTasks", "ecs:StopTask", "ecs:TagResource"]
    resources = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:task/${local.name}/*"]
  }

  statement {
    sid = "ReadTaskConfiguration"
    # These ECS and EC2 reads take no resource-level permission.
    actions   = ["ecs:DescribeTaskDefinition", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"]
    resources = ["*"]
  }

  statement {
    sid       = "PassTheRunTaskRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.task.arn, aws_iam_role.execution.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "PassOnlyTheSageMakerRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.sagemaker.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "task" {
  name   = "flux"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  description        = "ECS: pull the Flux image, write logs, inject secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    actions = ["secretsmanager:GetSecretValue"]
    resources = [
      aws_secretsmanager_secret.database.arn,
      aws_secretsmanager_secret.token_secret.arn,
    ]
  }

  statement {
    sid       = "DecryptTheSecrets"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.flux.arn]
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}
