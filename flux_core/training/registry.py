"""MLflow: one registered model per tenant-metric, a version per training, aliases ``champion``
and ``challenger``.

Every training registers one version: the run's best candidate (never one that lost to the
seasonal-naive baseline on the run's backtest windows), refitted on all the data. Aliases:

- ``@champion`` moves to the new version. Every candidate of the run, including the kind the
  previous champion was, was scored on the same windows, so the new version is the best on the
  newest data; the previous champion, trained on older data, cannot be scored on those windows
  without having seen them.
- ``@challenger`` goes to the previous champion: the best registered non-champion, kept so a
  regression can be rolled back (``set_registered_model_alias(name, "champion", challenger)``).
  The run's own runner-up (the best other candidate on the same windows) is recorded in the
  version's backtest (``challenger``) and its metrics, without a version of its own.

Each version also lands in ``flux.model_versions`` (what the API shows), with ``is_champion``
moved to it in the same transaction.

A *refit* (``selection.py``: the champion's selection kept, refitted on the latest data) changes
only the fitted model: its run (params, backtest metrics, ``backtest.json``) is its selection's.
So it registers only what changed (``register_refit``): the new model file in a copy of the
pyfunc directory every version shares, and a version linked to the selection's run, tagged with
the selection it carries. That is 5 calls to the store instead of some 140 (run, params,
metrics, logged model, artifacts, version), which a night of 20,000 refits would pay.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from uuid import UUID

import mlflow
import mlflow.pyfunc
import pandas as pd
import sqlalchemy as sa
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient

from flux_core.db.connections import role_url, service_database
from flux_core.db.tables import model_versions
from flux_core.settings import FluxSettings
from flux_core.training.model import MODEL_FILE, DemandModel, load_demand_model

EXPERIMENT = "flux-demand"
CHAMPION = "champion"
CHALLENGER = "challenger"
STORE_SCHEMA = "mlflow"
_SERVING_PACKAGES = ("pandas", "numpy", "prophet", "xgboost-cpu", "holidays")


def default_store_url(settings: FluxSettings) -> sa.URL:
    """MLflow's store in the project's PostgreSQL, in a schema of its own (see ``ensure_store``)."""
    url = role_url(
        settings, "pipeline", database=service_database(settings, "mlflow"), driver="psycopg2"
    )
    return url.update_query_dict({"options": f"-csearch_path={STORE_SCHEMA}"})


def tracking_uri(settings: FluxSettings) -> str:
    """The configured MLflow server, or MLflow's store in the project's PostgreSQL."""
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    return default_store_url(settings).render_as_string(hide_password=False)


# Held while the store is set up: two nightly runs starting together on a new store both ran
# MLflow's table migrations, and one of them failed (a duplicate type in pg_type).
_STORE_SETUP_LOCK = 0x466C7578_4D4C


def ensure_store(settings: FluxSettings) -> None:
    """MLflow's tables go in a schema of their own, which the pipeline role creates and owns;
    one process at a time creates the schema and MLflow's tables (an advisory lock)."""
    if settings.mlflow_tracking_uri:
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    engine = sa.create_engine(default_store_url(settings), poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(sa.select(sa.func.pg_advisory_lock(_STORE_SETUP_LOCK)))
            try:
                conn.execute(sa.schema.CreateSchema(STORE_SCHEMA, if_not_exists=True))
                SqlAlchemyStore(
                    tracking_uri(settings), settings.mlflow_artifacts.resolve().as_uri()
                )
            finally:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(_STORE_SETUP_LOCK)))
    finally:
        engine.dispose()


def registered_model_name(tenant_id: str | UUID, metric: str) -> str:
    return f"flux-{tenant_id}-{metric}"


class DemandModelPyfunc(PythonModel):
    """Input: a DataFrame with a ``date`` column; output: date, p10, p50, p90."""

    model: DemandModel

    def load_context(self, context: Any) -> None:
        self.model = load_demand_model(Path(context.artifacts["model"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return self.model.predict(model_input["date"])


@dataclass(frozen=True)
class RegisteredVersion:
    model_name: str
    version: int
    run_id: str
    kind: str


@lru_cache(maxsize=1)
def _pinned_serving_packages() -> tuple[str, ...]:
    pins = []
    for package in _SERVING_PACKAGES:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pins.append(package)
    return tuple(pins)


def _pip_requirements() -> list[str]:
    return list(_pinned_serving_packages())


def _params(result: dict[str, Any]) -> list[Param]:
    backtest: dict[str, Any] = result["backtest"]
    values = {
        "tenant_id": result["tenant_id"],
        "metric": result["metric"],
        "champion": result["champion"],
        "country": result.get("country"),
        "horizon": backtest.get("horizon"),
        "windows": ",".join(backtest.get("windows", [])),
        "candidates": ",".join(backtest.get("candidates", {})),
        "challenger_kind": backtest.get("challenger"),
        "seed": backtest.get("seed"),
        "closed_weekdays": ",".join(map(str, backtest.get("closed_weekdays", []))),
        "last_observed_date": result.get("last_observed_date"),
        # A refit keeps the selection of an earlier version: which, and why it was not reselected.
        "selection_mode": (backtest.get("selection") or {}).get("mode", "select"),
        "selection_reason": (backtest.get("selection") or {}).get("reason", ""),
        "selected_version": (backtest.get("selection") or {}).get("selected_version"),
    }
    return [Param(key, str(value)) for key, value in values.items()]


METRICS = ("wape", "mase", "rmsle", "bias", "coverage", "log_q10", "log_q90")


def _metrics(backtest: dict[str, Any]) -> dict[str, float]:
    """Every candidate's backtest metrics (``<kind>.<metric>``) and the champion's, unprefixed."""
    metrics: dict[str, float] = {}
    for kind, score in backtest.get("candidates", {}).items():
        for name in METRICS:
            if isinstance(score.get(name), int | float):
                metrics[f"{kind}.{name}"] = float(score[name])
    for name, value in backtest.get("accuracy", {}).items():
        if isinstance(value, int | float):
            metrics[name] = float(value)
    return metrics


class ModelRegistry:
    def __init__(self, settings: FluxSettings) -> None:
        # A version's environment is its pinned serving packages (``_pip_requirements``). Left
        # on, MLflow also copies the uv.lock and pyproject.toml of the working directory into
        # every version: 600 KB each, 6 GB a night at 10,000 tenants, and describing whatever
        # project ran the job. MLflow reads it when a model is logged, so the registry sets it.
        os.environ.setdefault("MLFLOW_UV_AUTO_DETECT", "false")
        # MLflow draws a tqdm bar for each artifact it copies: no one sees it in a run, and
        # registrations in threads deadlocked on tqdm's write lock (two of eight, every time).
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        self.settings = settings
        ensure_store(settings)
        self.uri = tracking_uri(settings)
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    @cached_property
    def _experiment_id(self) -> str:
        return self.experiment_id()

    def experiment_id(self) -> str:
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        if experiment is not None:
            return str(experiment.experiment_id)
        artifacts = self.settings.mlflow_artifacts.resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
        return str(self.client.create_experiment(EXPERIMENT, artifact_location=artifacts.as_uri()))

    def register(
        self, engine: sa.Engine, result: dict[str, Any], model_path: Path
    ) -> RegisteredVersion:
        """Log the run, register a new version, make it champion (in MLflow and model_versions)."""
        tenant_id, metric = str(result["tenant_id"]), str(result["metric"])
        backtest: dict[str, Any] = result["backtest"]
        name = registered_model_name(tenant_id, metric)
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        with mlflow.start_run(
            experiment_id=self._experiment_id,
            run_name=f"{tenant_id}-{metric}",
            tags={
                "tenant_id": tenant_id,
                "metric": metric,
                "selection": (backtest.get("selection") or {}).get("mode", "select"),
            },
        ) as run:
            run_id = run.info.run_id
            self.client.log_batch(run_id, params=_params(result))
            mlflow.log_dict(backtest, "backtest.json")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=DemandModelPyfunc(),
                artifacts={"model": str(model_path)},
                pip_requirements=_pip_requirements(),
                registered_model_name=name,
            )
            # Logged after the model, with its id: the run's metrics and the model's in one
            # call. Logged before, MLflow links them to the model one query per metric (a
            # quarter of a registration).
            now = int(time.time() * 1000)
            self.client.log_batch(
                run_id,
                metrics=[
                    Metric(key, value, now, 0, model_id=info.model_id)
                    for key, value in _metrics(backtest).items()
                ],
            )
        number = int(info.registered_model_version)  # type: ignore[arg-type]
        return self._crown(engine, result, number, run_id)

    def _crown(
        self, engine: sa.Engine, result: dict[str, Any], number: int, run_id: str
    ) -> RegisteredVersion:
        """Version ``number`` becomes @champion (the previous one @challenger) in MLflow and in
        flux.model_versions."""
        tenant_id, metric = str(result["tenant_id"]), str(result["metric"])
        name = registered_model_name(tenant_id, metric)
        previous = self.alias_version(name, CHAMPION)
        self.client.set_registered_model_alias(name, CHAMPION, str(number))
        if previous is not None and previous != number:
            self.client.set_registered_model_alias(name, CHALLENGER, str(previous))
        record_model_version(
            engine,
            tenant_id=UUID(tenant_id),
            metric=metric,
            version=number,
            model_name=name,
            model_kind=str(result["champion"]),
            backtest=result["backtest"],
            mlflow_run_id=run_id,
        )
        return RegisteredVersion(name, number, run_id, str(result["champion"]))

    def register_result(
        self, engine: sa.Engine, result: dict[str, Any], model_path: Path
    ) -> RegisteredVersion:
        """A training result registered the way its mode asks (a refit: ``register_refit``)."""
        selection = result["backtest"].get("selection") or {}
        if selection.get("mode") == "refit" and selection.get("selected_version"):
            return self.register_refit(engine, result, model_path)
        return self.register(engine, result, model_path)

    @cached_property
    def _artifact_location(self) -> str:
        return str(self.client.get_experiment(self._experiment_id).artifact_location)

    @cached_property
    def _pyfunc_template(self) -> Path:
        """A pyfunc model directory as ``register`` logs one, with a placeholder model file: each
        refit copies it and puts its own model file in."""
        root = Path(tempfile.mkdtemp(prefix="flux-pyfunc-"))
        placeholder = root / MODEL_FILE
        placeholder.write_bytes(b"")
        mlflow.pyfunc.save_model(
            str(root / "model"),
            python_model=DemandModelPyfunc(),
            artifacts={"model": str(placeholder)},
            pip_requirements=_pip_requirements(),
        )
        return root / "model"

    def register_refit(
        self, engine: sa.Engine, result: dict[str, Any], model_path: Path
    ) -> RegisteredVersion:
        """A new version of the refitted model, on its selection's run (module docstring)."""
        tenant_id, metric = str(result["tenant_id"]), str(result["metric"])
        backtest: dict[str, Any] = result["backtest"]
        selection = backtest["selection"]
        name = registered_model_name(tenant_id, metric)
        selected = self.client.get_model_version(name, str(selection["selected_version"]))
        source = f"{self._artifact_location}/refits/{name}/{uuid.uuid4().hex}"
        with tempfile.TemporaryDirectory(prefix="flux-refit-") as folder:
            directory = Path(folder) / "model"
            shutil.copytree(self._pyfunc_template, directory)
            shutil.copyfile(model_path, directory / "artifacts" / MODEL_FILE)
            get_artifact_repository(source).log_artifacts(str(directory))
        created = self.client.create_model_version(
            name,
            source,
            run_id=selected.run_id,
            tags={
                "selection_mode": "refit",
                "selected_version": str(selection["selected_version"]),
                "selection_reason": str(selection.get("reason", "")),
                "last_observed_date": str(result.get("last_observed_date")),
            },
        )
        return self._crown(engine, result, int(created.version), str(selected.run_id))

    def alias_version(self, name: str, alias: str) -> int | None:
        try:
            return int(self.client.get_model_version_by_alias(name, alias).version)
        except MlflowException:
            return None

    def champion_version(self, tenant_id: str | UUID, metric: str) -> int:
        name = registered_model_name(tenant_id, metric)
        return int(self.client.get_model_version_by_alias(name, CHAMPION).version)

    def load_champion(self, tenant_id: str | UUID, metric: str) -> tuple[DemandModel, int]:
        """The model behind ``models:/<name>@champion`` and its version number.

        The alias is read once and the version loaded by number: read twice, a training moving
        the alias in between would pair one version's number with another's model."""
        mlflow.set_tracking_uri(self.uri)
        mlflow.set_registry_uri(self.uri)
        number = self.champion_version(tenant_id, metric)
        name = registered_model_name(tenant_id, metric)
        loaded = mlflow.pyfunc.load_model(f"models:/{name}/{number}")
        wrapper = loaded.unwrap_python_model()
        if not isinstance(wrapper, DemandModelPyfunc):
            raise TypeError(f"{name}@{CHAMPION} is not a Flux demand model")
        return wrapper.model, number


def record_model_version(
    engine: sa.Engine,
    *,
    tenant_id: UUID,
    metric: str,
    version: int,
    model_name: str,
    model_kind: str,
    backtest: dict[str, Any],
    mlflow_run_id: str,
) -> None:
    """The new version becomes the only champion of its tenant-metric, atomically."""
    candidates = backtest.get("candidates", {})
    baseline = backtest.get("baseline", "seasonal_naive")
    with engine.begin() as conn:
        conn.execute(
            sa.update(model_versions)
            .where(
                model_versions.c.tenant_id == tenant_id,
                model_versions.c.metric == metric,
                model_versions.c.is_champion,
            )
            .values(is_champion=False)
        )
        conn.execute(
            sa.insert(model_versions).values(
                tenant_id=tenant_id,
                metric=metric,
                version=version,
                model_name=model_name,
                model_kind=model_kind,
                is_champion=True,
                wape=candidates.get(model_kind, {}).get("wape"),
                baseline_wape=candidates.get(baseline, {}).get("wape"),
                backtest=backtest,
                mlflow_run_id=mlflow_run_id,
            )
        )
