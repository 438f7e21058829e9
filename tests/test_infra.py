"""The Terraform in ``infra/`` keeps the promises of DESIGN.md: parsed with python-hcl2.

Terraform itself cannot run here (no provider downloads), so these tests read the configuration
and check the properties a reviewer would: private encrypted storage, a private database,
least-privilege roles, and services started in production mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

try:
    import hcl2
    from hcl2.utils import SerializationOptions
except ImportError as error:  # a missing parser must fail the run, never skip it
    raise ImportError(
        "tests/test_infra.py needs python-hcl2 (>=8.1,<9) in the dev dependencies"
    ) from error

INFRA = Path(__file__).resolve().parent.parent / "infra"
OPTIONS = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=False)
SERVICES = {"api", "webserver", "daemon"}

Body = dict[str, Any]


@dataclass
class Terraform:
    resources: dict[tuple[str, str], Body] = field(default_factory=dict)
    data: dict[tuple[str, str], Body] = field(default_factory=dict)
    variables: dict[str, Body] = field(default_factory=dict)
    outputs: dict[str, Body] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    terraform: list[Body] = field(default_factory=list)

    def resource(self, kind: str, name: str) -> Body:
        assert (kind, name) in self.resources, f"no resource {kind}.{name} in infra/"
        return self.resources[(kind, name)]

    def of_kind(self, kind: str) -> dict[str, Body]:
        return {name: body for (k, name), body in self.resources.items() if k == kind}

    def policy_documents(self) -> list[Body]:
        return [body for (kind, _), body in self.data.items() if kind == "aws_iam_policy_document"]

    def policy_document(self, policy_expression: str) -> Body:
        """The ``aws_iam_policy_document`` a ``policy = data....json`` attribute points at."""
        match = re.fullmatch(
            r"\$\{data\.aws_iam_policy_document\.(\w+)(\[[^\]]*\])?\.json\}", policy_expression
        )
        assert match, f"policy is not a data.aws_iam_policy_document: {policy_expression}"
        return self.data[("aws_iam_policy_document", match.group(1))]


def _blocks(labelled: list[dict[str, Any]], depth: int) -> list[tuple[tuple[str, ...], Body]]:
    found: list[tuple[tuple[str, ...], Body]] = []
    for entry in labelled:
        stack: list[tuple[tuple[str, ...], Any]] = [((), entry)]
        while stack:
            labels, node = stack.pop()
            if len(labels) == depth:
                found.append((labels, node))
            else:
                stack.extend((labels + (key,), value) for key, value in node.items())
    return found


@pytest.fixture(scope="module")
def tf() -> Terraform:
    files = sorted(INFRA.glob("*.tf"))
    assert files, f"no .tf files in {INFRA}"
    parsed = Terraform()
    for path in files:
        document = hcl2.loads(path.read_text(), serialization_options=OPTIONS)
        for kind, target in (("resource", parsed.resources), ("data", parsed.data)):
            for (block_type, name), body in _blocks(document.get(kind, []), 2):
                assert (block_type, name) not in target, f"{kind} {block_type}.{name} defined twice"
                target[(block_type, name)] = body
        for (name,), body in _blocks(document.get("variable", []), 1):
            parsed.variables[name] = body
        for (name,), body in _blocks(document.get("output", []), 1):
            parsed.outputs[name] = body
        for block in document.get("locals", []):
            duplicated = parsed.locals.keys() & block.keys()
            assert not duplicated, f"locals defined twice: {duplicated}"
            parsed.locals.update(block)
        parsed.terraform.extend(document.get("terraform", []))
    return parsed


def _applies_to_landing(body: Body) -> bool:
    """True when a bucket setting covers the landing bucket: for_each over all, or it by name."""
    return body.get(
        "for_each"
    ) == "${aws_s3_bucket.flux}" or 'aws_s3_bucket.flux["landing"]' in str(body.get("bucket", ""))


def _statements(document: Body) -> list[Body]:
    return list(document.get("statement", []))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_terraform_and_provider_versions_are_pinned(tf: Terraform) -> None:
    (settings,) = tf.terraform
    assert settings["required_version"].startswith(">= 1.")
    (providers,) = settings["required_providers"]
    assert providers["aws"]["source"] == "hashicorp/aws"
    assert providers["aws"]["version"].startswith("~> 5.")


def test_every_variable_has_a_description(tf: Terraform) -> None:
    assert {"region", "environment"} <= tf.variables.keys()
    undocumented = [
        name for name, body in tf.variables.items() if not str(body.get("description", "")).strip()
    ]
    assert not undocumented, f"variables without a description: {undocumented}"


def test_outputs_name_what_a_deployer_needs(tf: Terraform) -> None:
    assert {
        "landing_bucket",
        "artifacts_bucket",
        "db_endpoint",
        "ecr_repository_url",
    } <= tf.outputs.keys()
    assert all(body.get("description") for body in tf.outputs.values())


def test_landing_bucket_is_private_encrypted_and_versioned(tf: Terraform) -> None:
    bucket = tf.resource("aws_s3_bucket", "flux")
    assert bucket["for_each"] == "${local.buckets}"
    assert {"landing", "artifacts"} <= tf.locals["buckets"].keys()

    public_access = [
        b
        for b in tf.of_kind("aws_s3_bucket_public_access_block").values()
        if _applies_to_landing(b)
    ]
    assert public_access, "no public access block covers the landing bucket"
    for block in public_access:
        for setting in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ):
            assert block[setting] is True, setting

    versioning = [
        b for b in tf.of_kind("aws_s3_bucket_versioning").values() if _applies_to_landing(b)
    ]
    assert versioning and all(
        b["versioning_configuration"][0]["status"] == "Enabled" for b in versioning
    )

    encryption = [
        b
        for b in tf.of_kind("aws_s3_bucket_server_side_encryption_configuration").values()
        if _applies_to_landing(b)
    ]
    assert encryption, "no server-side encryption covers the landing bucket"
    for config in encryption:
        defaults = config["rule"][0]["apply_server_side_encryption_by_default"][0]
        assert defaults["sse_algorithm"] in {"aws:kms", "aws:kms:dsse", "AES256"}


def test_buckets_refuse_plain_http(tf: Terraform) -> None:
    policies = [b for b in tf.of_kind("aws_s3_bucket_policy").values() if _applies_to_landing(b)]
    assert policies, "no bucket policy on the landing bucket"
    for policy in policies:
        statements = _statements(tf.policy_document(policy["policy"]))
        assert any(
            s.get("effect") == "Deny"
            and any(
                c["variable"] == "aws:SecureTransport" and c["values"] == ["false"]
                for c in s.get("condition", [])
            )
            for s in statements
        ), "no statement denies requests without TLS"


def test_landing_lifecycle_keeps_raw_uploads(tf: Terraform) -> None:
    lifecycle = tf.resource("aws_s3_bucket_lifecycle_configuration", "landing")
    assert _applies_to_landing(lifecycle)
    rules = lifecycle["rule"]
    assert not any("expiration" in rule for rule in rules), "current raw uploads must never expire"
    assert not any("transition" in rule for rule in rules), (
        "only old versions move to cheaper storage"
    )
    transitions = [t for rule in rules for t in rule.get("noncurrent_version_transition", [])]
    assert transitions and all(t["storage_class"] != "STANDARD" for t in transitions)


def test_database_is_private_encrypted_and_postgres_15(tf: Terraform) -> None:
    (db,) = tf.of_kind("aws_db_instance").values()
    assert db["engine"] == "postgres" and str(db["engine_version"]).split(".")[0] == "15"
    assert db["publicly_accessible"] is False
    assert db["storage_encrypted"] is True
    assert db["manage_master_user_password"] is True
    assert "password" not in db, "the master password belongs to Secrets Manager, not to state"
    assert db["skip_final_snapshot"] is False


def test_database_is_reachable_only_from_the_app_security_group(tf: Terraform) -> None:
    (db,) = tf.of_kind("aws_db_instance").values()
    assert db["vpc_security_group_ids"] == ["${aws_security_group.db.id}"]
    subnets = tf.resource("aws_db_subnet_group", tf_name(db["db_subnet_group_name"]))
    assert subnets["subnet_ids"] == "${var.private_subnet_ids}"

    ingress = [
        rule
        for rule in tf.of_kind("aws_vpc_security_group_ingress_rule").values()
        if rule["security_group_id"] == "${aws_security_group.db.id}"
    ]
    assert ingress, "the database security group has no ingress rule"
    for rule in ingress:
        assert rule.get("referenced_security_group_id") == "${aws_security_group.app.id}"
        assert "cidr_ipv4" not in rule and "cidr_ipv6" not in rule
    inline = tf.resource("aws_security_group", "db")
    assert "ingress" not in inline, (
        "inline rules would bypass the ingress-rule resources checked here"
    )


def tf_name(reference: str) -> str:
    """``${aws_x.name.attr}`` -> ``name``."""
    match = re.fullmatch(r"\$\{\w+\.(\w+)\.\w+\}", reference)
    assert match, reference
    return match.group(1)


def _role_policies(tf: Terraform, role: str) -> list[Body]:
    bodies = [
        body
        for body in tf.of_kind("aws_iam_role_policy").values()
        if body["role"] in {f"${{aws_iam_role.{role}.id}}", f"${{aws_iam_role.{role}.name}}"}
    ]
    assert bodies, f"role {role} has no policy"
    return [tf.policy_document(body["policy"]) for body in bodies]


def test_sagemaker_role_is_least_privilege(tf: Terraform) -> None:
    tf.resource("aws_iam_role", "sagemaker")
    attached = [
        body
        for kind in ("aws_iam_role_policy_attachment", "aws_iam_role_policy_attachments_exclusive")
        for body in tf.of_kind(kind).values()
        if "aws_iam_role.sagemaker" in str(body.get("role", body.get("role_name", "")))
    ]
    assert not attached, (
        "the SageMaker role takes no managed policies (e.g. AmazonSageMakerFullAccess)"
    )

    training, model = tf.locals["training_prefix"], tf.locals["model_prefix"]
    checkpoints = tf.locals["checkpoint_prefix"]
    checkpoint_access: set[str] = set()
    for document in _role_policies(tf, "sagemaker"):
        for statement in _statements(document):
            assert statement.get("effect", "Allow") == "Allow"
            assert "not_actions" not in statement and "not_resources" not in statement
            for action in statement["actions"]:
                assert "*" not in action, f"wildcard action {action!r} in the SageMaker role"
            s3_actions = {a for a in statement["actions"] if a.startswith("s3:")}
            object_resources = [r for r in statement["resources"] if "/" in r]
            if all("${local.checkpoint_prefix}/" in r for r in object_resources or [""]):
                checkpoint_access |= s3_actions
                continue
            if s3_actions & {"s3:PutObject", "s3:DeleteObject"}:
                assert object_resources and all(
                    "${local.model_prefix}/" in r for r in object_resources
                )
                assert "s3:DeleteObject" not in s3_actions
            if "s3:GetObject" in s3_actions:
                assert object_resources and all(
                    "${local.training_prefix}/" in r for r in object_resources
                )
    # Spot training: SageMaker writes checkpoints and reads them back after an interruption.
    assert {"s3:GetObject", "s3:PutObject"} <= checkpoint_access
    assert "s3:DeleteObject" not in checkpoint_access
    assert len({training, model, checkpoints}) == 3


def test_pass_role_names_only_the_roles_each_service_needs(tf: Terraform) -> None:
    """The SageMaker role, to SageMaker only; the ECS task roles, to ECS only (the run
    launcher's tasks): each PassRole names its roles and the one service they may go to."""
    pass_role = [
        statement
        for document in tf.policy_documents()
        for statement in _statements(document)
        if any(
            a.lower() in {"iam:passrole", "iam:*", "*"}
            for a in _as_list(statement.get("actions", []))
        )
    ]
    assert pass_role, "nothing may pass the SageMaker role: training jobs could not start"
    allowed = {
        ("${aws_iam_role.sagemaker.arn}",): "sagemaker.amazonaws.com",
        ("${aws_iam_role.task.arn}", "${aws_iam_role.execution.arn}"): "ecs-tasks.amazonaws.com",
    }
    passed = {}
    for statement in pass_role:
        assert statement["actions"] == ["iam:PassRole"]
        roles = tuple(statement["resources"])
        assert roles in allowed, f"PassRole on {roles}"
        [condition] = _as_list(statement["condition"])
        assert condition["variable"] == "iam:PassedToService"
        passed[roles] = condition["values"]
    assert passed == {roles: [service] for roles, service in allowed.items()}

    task_statements = [s for d in _role_policies(tf, "task") for s in _statements(d)]
    actions = {a for s in task_statements for a in s["actions"]}
    assert {
        "iam:PassRole",
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
    } <= actions
    assert not any("*" in a for a in actions), "the task role grants a wildcard action"


def test_ecs_tasks_run_flux_in_production(tf: Terraform) -> None:
    definitions = tf.of_kind("aws_ecs_task_definition")
    assert definitions
    for name, definition in definitions.items():
        containers = definition["container_definitions"]
        assert "local.flux_environment" in containers, f"{name} does not pass Flux's environment"
        assert "local.flux_secrets" in containers, f"{name} does not pass Flux's secrets"
        assert definition["requires_compatibilities"] == ["FARGATE"]
        assert definition["task_role_arn"] == "${aws_iam_role.task.arn}"
        if "for_each" in definition:
            assert definition["for_each"] == "${local.tasks}"
            assert set(tf.locals["services"]) == SERVICES
            # The services' task definitions, and each Dagster run's (the EcsRunLauncher of
            # infra/dagster/dagster.yaml starts it; the launcher sets its command).
            assert tf.locals["tasks"].startswith("${merge(local.services, {run = {")

    environment, secrets = tf.locals["flux_environment"], tf.locals["flux_secrets"]
    assert environment["FLUX_ENVIRONMENT"] == "production"
    assert environment["FLUX_LANDING_URL"].startswith('s3://${aws_s3_bucket.flux["landing"]')
    assert environment["FLUX_MLFLOW_TRACKING_URI"]
    for secret in ("FLUX_DATABASE_URL", "FLUX_TOKEN_SECRET"):
        assert secret not in environment, f"{secret} must come from Secrets Manager, not plain text"
        assert secrets[secret].startswith("${aws_secretsmanager_secret."), secret


def test_dagster_daemon_never_runs_twice(tf: Terraform) -> None:
    daemon = tf.locals["services"]["daemon"]
    assert daemon["desired_count"] == 1
    service = tf.resource("aws_ecs_service", "flux")
    # A rolling deploy must stop the old daemon before the new one starts.
    assert service["deployment_maximum_percent"] == '${each.key == "daemon" ? 100 : 200}'
    assert service["deployment_minimum_healthy_percent"] == '${each.key == "daemon" ? 0 : 100}'
