# One customer-managed key for the logs and the secrets: rotated yearly, and its policy names who
# may use it (the account's IAM policies, and CloudWatch Logs for Flux's own log groups).
resource "aws_kms_key" "flux" {
  description             = "${local.name}: CloudWatch logs and Secrets Manager secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "flux" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.flux.key_id
}

data "aws_iam_policy_document" "kms" {
  # checkov:skip=CKV_AWS_109: in a key policy, resource "*" is this key alone; the account's IAM policies decide who else
  # checkov:skip=CKV_AWS_111: the same: a key policy's "*" is the key, and the account root is its administrator
  # checkov:skip=CKV_AWS_356: the same
  statement {
    sid       = "AccountIamPolicies"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "FluxLogGroups"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:/flux/${var.environment}/*"]
    }
  }
}
