# The token signing key: generated once, read by the tasks as FLUX_TOKEN_SECRET.
resource "random_password" "token_secret" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "token_secret" {
  name                    = "${local.name}/token-secret"
  description             = "FLUX_TOKEN_SECRET: signs the API's JWTs"
  recovery_window_in_days = 7
  kms_key_id              = aws_kms_key.flux.arn
  # checkov:skip=CKV2_AWS_57: rotating the signing key signs every user out; rotate it by hand (infra/README.md)
}

resource "aws_secretsmanager_secret_version" "token_secret" {
  secret_id     = aws_secretsmanager_secret.token_secret.id
  secret_string = random_password.token_secret.result
}

# Database URLs and role passwords, as JSON (keys in README.md). They derive from the master
# password that only RDS knows, so an operator writes this secret once after the first apply.
resource "aws_secretsmanager_secret" "database" {
  name                    = "${local.name}/database"
  description             = "FLUX_DATABASE_URL, role passwords and Dagster's storage URL (JSON)"
  recovery_window_in_days = 7
  kms_key_id              = aws_kms_key.flux.arn
  # checkov:skip=CKV2_AWS_57: the role passwords change with ALTER ROLE, which needs a rotation Lambda not written yet (infra/README.md)
}
