"""Typed settings, read from the environment (prefix ``FLUX_``).

Every setting has a default that works on a bare machine: with nothing configured, Flux starts its
own PostgreSQL under ``FLUX_HOME``, keeps the landing zone in a local folder and MLflow's artifacts
beside it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_TOKEN_SECRET = "flux-development-secret-do-not-use-in-production"  # noqa: S105
# The dashboard's own development default (flux_web/lib/config.ts refuses it the same way).
DEV_WEB_SESSION_SECRET = "flux-dashboard-development-session-secret-not-for-production"  # noqa: S105

Role = Literal["owner", "pipeline", "api", "analyst"]
TokenAlgorithm = Literal["HS256", "RS256"]
BackendKind = Literal["local", "sagemaker"]


class SageMakerNotConfigured(ValueError):
    pass


class SageMakerSettings(BaseModel):
    """``FLUX_SAGEMAKER_*``: where and how training jobs run (read only when the backend is used)."""

    role_arn: str | None = Field(default=None, description="execution role the job runs as")
    image_uri: str | None = Field(default=None, description="the Flux image (ECR) the job runs")
    s3_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix: channels go under training/, models under models/",
    )
    instance_type: str = "ml.m5.xlarge"
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    max_runtime_seconds: int = Field(default=6 * 3600, ge=60, le=28 * 24 * 3600)
    max_wait_seconds: int | None = Field(
        default=None,
        description="spot: runtime plus time waiting for capacity; unset: twice the runtime",
    )
    spot: bool = Field(default=True, description="managed spot training (with checkpoints)")
    parallel_jobs: int = Field(
        default=1,
        ge=1,
        le=100,
        description="jobs a batch is split into (by tenant), all started at once",
    )
    region: str | None = Field(default=None, description="unset: boto3's (AWS_DEFAULT_REGION)")
    endpoint_url: str | None = Field(
        default=None,
        description="one endpoint for SageMaker and S3 (moto in tests); unset: AWS",
    )

    @model_validator(mode="after")
    def _wait_covers_runtime(self) -> SageMakerSettings:
        if self.max_wait_seconds is not None and self.max_wait_seconds < self.max_runtime_seconds:
            raise ValueError("FLUX_SAGEMAKER_MAX_WAIT_SECONDS must be >= MAX_RUNTIME_SECONDS")
        return self

    @property
    def wait_seconds(self) -> int:
        return self.max_wait_seconds or 2 * self.max_runtime_seconds

    def require(self) -> tuple[str, str, str]:
        """role ARN, image URI and S3 URL, or an error that names every missing variable."""
        values = {"ROLE_ARN": self.role_arn, "IMAGE_URI": self.image_uri, "S3_URL": self.s3_url}
        missing = [f"FLUX_SAGEMAKER_{name}" for name, value in values.items() if not value]
        if missing:
            raise SageMakerNotConfigured(
                f"the SageMaker training backend needs {', '.join(missing)}"
            )
        assert self.role_arn and self.image_uri and self.s3_url
        if urlparse(self.s3_url).scheme != "s3" or not urlparse(self.s3_url).netloc:
            raise SageMakerNotConfigured(
                f"FLUX_SAGEMAKER_S3_URL must be s3://bucket[/prefix], not {self.s3_url!r}"
            )
        return self.role_arn, self.image_uri, self.s3_url


class FluxSettings(BaseSettings):
    # FLUX_SAGEMAKER_ROLE_ARN fills sagemaker.role_arn: one split after the prefix keeps the
    # names infra/ passes, and leaves flat names such as FLUX_TOKEN_SECRET flat.
    model_config = SettingsConfigDict(
        env_prefix="FLUX_", extra="ignore", env_nested_delimiter="_", env_nested_max_split=1
    )

    environment: Literal["development", "test", "production"] = "development"
    home: Path = Field(
        default=PROJECT_ROOT / ".flux",
        description="local state: cluster, Dagster home, MLflow, landing zone",
    )
    database_url: str | None = Field(
        default=None,
        description="owner connection (runs migrations); unset: the cluster Flux starts under FLUX_HOME",
    )
    database_password_pipeline: SecretStr | None = None
    database_password_api: SecretStr | None = None
    database_password_analyst: SecretStr | None = None
    pg_bin_dir: Path | None = Field(
        default=None, description="where initdb/pg_ctl live; unset: searched"
    )
    pg_port: int | None = Field(
        default=None, description="port of the local cluster; unset: chosen once and kept"
    )
    landing_url: str | None = Field(
        default=None, description="file:///path or s3://bucket/prefix; unset: FLUX_HOME/landing"
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint (MinIO, moto); unset: AWS"
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="unset: MLflow store in the project's PostgreSQL"
    )
    token_secret: SecretStr = SecretStr(DEV_TOKEN_SECRET)
    token_issuer: str = "flux"
    token_audience: str = "flux-api"
    token_ttl_minutes: int = 30
    token_algorithm: TokenAlgorithm = Field(
        default="HS256",
        description="HS256: Flux signs and verifies with FLUX_TOKEN_SECRET; RS256: an external "
        "identity provider signs, Flux verifies with FLUX_TOKEN_PUBLIC_KEYS and issues none",
    )
    token_public_keys: str | None = Field(
        default=None,
        description="RS256 only: PEM text with one or more RSA public keys, a JWKS document, "
        "or the path of a file holding either",
    )
    training_backend: BackendKind = Field(
        default="local",
        description="local: a process on this machine; sagemaker: spot training jobs",
    )
    sagemaker: SageMakerSettings = Field(default_factory=SageMakerSettings)
    forecast_horizon_days: int = Field(default=28, ge=1, le=366)
    backtest_windows: int = Field(default=3, ge=1, le=12)
    nightly_skip_hours: float = Field(
        default=12,
        ge=0,
        le=24,
        description="the nightly leaves out a tenant whose every champion was trained within this "
        "many hours before it and after the tenant's latest upload (its upload run did it); "
        "0: none is left out for that (tenants an upload run is still training always are)",
    )
    upload_max_bytes: int = 100 * 1024 * 1024
    dagster_max_concurrent_runs: int = Field(
        default=2,
        ge=0,
        description="Dagster runs at a time (the queued run coordinator's limit); 0 holds every "
        "run in the queue",
    )
    log_level: str = "INFO"
    api_url: str = Field(
        default="http://127.0.0.1:8000",
        description="where the dashboard's server calls the API; `flux api` serves on its port",
    )
    web_port: int = Field(default=3001, description="the dashboard's port (`make web`)")
    web_session_secret: SecretStr = Field(
        default=SecretStr(DEV_WEB_SESSION_SECRET),
        description="seals the dashboard's session cookie (32 characters or more)",
    )

    @model_validator(mode="after")
    def _refuse_placeholder_secret_outside_development(self) -> FluxSettings:
        if (
            self.environment == "production"
            and self.token_secret.get_secret_value() == DEV_TOKEN_SECRET
        ):
            raise ValueError(
                "FLUX_TOKEN_SECRET must be set to a real secret when FLUX_ENVIRONMENT=production"
            )
        return self

    @model_validator(mode="after")
    def _session_secret_long_enough(self) -> FluxSettings:
        if len(self.web_session_secret.get_secret_value()) < 32:
            raise ValueError("FLUX_WEB_SESSION_SECRET must have at least 32 characters")
        return self

    def web_session_secret_problem(self) -> str | None:
        """Why the dashboard must not start with this session secret: its development default
        anywhere but in development (checked where the dashboard starts, and by the dashboard)."""
        if (
            self.environment != "development"
            and self.web_session_secret.get_secret_value() == DEV_WEB_SESSION_SECRET
        ):
            return (
                f"FLUX_WEB_SESSION_SECRET must be set to a secret of your own when "
                f"FLUX_ENVIRONMENT={self.environment}: its development default is refused"
            )
        return None

    @model_validator(mode="after")
    def _rs256_needs_public_keys(self) -> FluxSettings:
        if self.token_algorithm == "RS256" and not self.token_public_keys:
            raise ValueError("FLUX_TOKEN_ALGORITHM=RS256 needs FLUX_TOKEN_PUBLIC_KEYS")
        return self

    @property
    def landing_root(self) -> str:
        return self.landing_url or (self.home / "landing").resolve().as_uri()

    @property
    def api_port(self) -> int:
        return urlparse(self.api_url).port or 80

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.home / "mlflow-artifacts"


@lru_cache(maxsize=1)
def get_settings() -> FluxSettings:
    return FluxSettings()
