# Two private buckets with the same hardening: the landing zone (raw uploads, kept as received)
# and the artifacts bucket (MLflow artifacts, SageMaker training input and model output).
locals {
  buckets = {
    landing   = "${local.name}-landing-${local.account_id}"
    artifacts = "${local.name}-artifacts-${local.account_id}"
  }
}

resource "aws_s3_bucket" "flux" {
  for_each = local.buckets

  bucket = each.value
  # checkov:skip=CKV2_AWS_61: each bucket has its lifecycle rules below (landing, artifacts); checkov does not follow the for_each key
  # checkov:skip=CKV2_AWS_62: nothing consumes bucket events: the landing sensor lists the landing zone
  # checkov:skip=CKV_AWS_18: access is logged by CloudTrail data events, an account-wide trail (infra/README.md)
  # checkov:skip=CKV_AWS_144: a second region is a disaster-recovery decision with its own cost; versioning covers deletes
}

resource "aws_s3_bucket_ownership_controls" "flux" {
  for_each = aws_s3_bucket.flux

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "flux" {
  for_each = aws_s3_bucket.flux

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "flux" {
  for_each = aws_s3_bucket.flux

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

# SSE-KMS with the AWS-managed key: no key policy to keep in step with the IAM roles.
resource "aws_s3_bucket_server_side_encryption_configuration" "flux" {
  for_each = aws_s3_bucket.flux

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

data "aws_iam_policy_document" "tls_only" {
  for_each = aws_s3_bucket.flux

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "flux" {
  for_each = aws_s3_bucket.flux

  bucket = each.value.id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  # A bucket policy put before the public access block can be refused as "public".
  depends_on = [aws_s3_bucket_public_access_block.flux]
}

# Raw uploads are evidence of what a tenant sent: current versions are kept forever;
# only overwritten or deleted versions move to cheaper storage.
resource "aws_s3_bucket_lifecycle_configuration" "landing" {
  bucket = aws_s3_bucket.flux["landing"].id

  rule {
    id     = "old-versions-to-cheaper-storage"
    status = "Enabled"
    filter {}

    noncurrent_version_transition {
      noncurrent_days = 30
      storage_class   = "STANDARD_IA"
    }

    noncurrent_version_transition {
      noncurrent_days = 90
      storage_class   = "GLACIER_IR"
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.flux]
}

# Training channels are written afresh for every job: a month is plenty to debug one.
resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.flux["artifacts"].id

  rule {
    id     = "expire-training-input"
    status = "Enabled"
    filter {
      prefix = "${local.training_prefix}/"
    }
    expiration {
      days = 30
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
  }

  # A job's checkpoints matter only while it runs (and is restarted after a spot interruption).
  rule {
    id     = "expire-checkpoints"
    status = "Enabled"
    filter {
      prefix = "${local.checkpoint_prefix}/"
    }
    expiration {
      days = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "old-versions-to-cheaper-storage"
    status = "Enabled"
    filter {}
    noncurrent_version_transition {
      noncurrent_days = 30
      storage_class   = "STANDARD_IA"
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.flux]
}
