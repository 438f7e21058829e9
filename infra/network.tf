# Who may talk to whom: internet -> load balancer -> app tasks -> database.
resource "aws_security_group" "alb" {
  name        = "${local.name}-alb"
  description = "Flux API load balancer"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "app" {
  name        = "${local.name}-app"
  description = "Flux ECS tasks (API, Dagster webserver and daemon)"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "db" {
  name        = "${local.name}-db"
  description = "Flux PostgreSQL: reachable from the app tasks only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each = toset(var.api_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS to the API"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each = toset(var.api_ingress_cidrs)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP, redirected to HTTPS"
  # checkov:skip=CKV_AWS_260: port 80 only answers with a redirect to HTTPS (aws_lb_listener.http)
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_api" {
  security_group_id            = aws_security_group.alb.id
  description                  = "to the API tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.services.api.port
  to_port                      = local.services.api.port
  referenced_security_group_id = aws_security_group.app.id
}

resource "aws_vpc_security_group_ingress_rule" "app_from_alb" {
  security_group_id            = aws_security_group.app.id
  description                  = "API traffic from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = local.services.api.port
  to_port                      = local.services.api.port
  referenced_security_group_id = aws_security_group.alb.id
}

# The tasks call AWS APIs (S3, SageMaker, ECR, Secrets Manager), MLflow and the database.
resource "aws_vpc_security_group_egress_rule" "app_out" {
  security_group_id = aws_security_group.app.id
  description       = "outbound"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "db_from_app" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the app tasks"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.app.id
}
