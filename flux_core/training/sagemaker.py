"""The SageMaker ``TrainingBackend``: the same script-mode entrypoint, run as ONE training job per batch
(or per share of its tenants, ``FLUX_SAGEMAKER_PARALLEL_JOBS``, all started at once).

``train`` = ``submit`` + ``wait`` + ``collect``:

- ``submit`` writes the batch's channel (one Parquet file) to
  ``<FLUX_SAGEMAKER_S3_URL>/training/<job>/train/`` and calls ``CreateTrainingJob``: our image,
  ``TrainingInputMode=File``, the entrypoint as ``ContainerEntrypoint`` (and ``sagemaker_program``),
  hyperparameters as strings, managed spot training with a checkpoint prefix, output under
  ``<FLUX_SAGEMAKER_S3_URL>/models/``.
- ``wait`` polls ``DescribeTrainingJob`` with a growing delay until Completed, Failed or Stopped;
  past its deadline it stops the job (a forgotten job keeps billing) and raises.
- ``collect`` downloads ``model.tar.gz`` (and ``output.tar.gz`` when present) and extracts them into
  ``workdir/opt-ml/model`` and ``workdir/opt-ml/output/data``: the layout ``LocalTrainingBackend``
  returns, so ``results.json`` and the models are read the same way.

With ``FLUX_SAGEMAKER_S3_URL=s3://<artifacts>/sagemaker`` (what infra/ passes) the keys fall under the
``sagemaker/training/`` and ``sagemaker/models/`` prefixes the IAM roles grant.
"""

from __future__ import annotations

import logging
import re
import secrets
import tarfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pandas as pd
from botocore.config import Config
from botocore.exceptions import ClientError

from flux_core.settings import SageMakerSettings
from flux_core.training.backends import (
    TrainingJobFailed,
    TrainingResult,
    job_result,
    sagemaker_layout,
    write_job_inputs,
)
from flux_core.training.job_files import DRIVERS_FILE, ENTRYPOINT_MODULE, PLANS_FILE, TRAIN_FILE

log = logging.getLogger("flux.training.sagemaker")

TERMINAL_FAILURES = ("Failed", "Stopped")
# CreateTrainingJob is refused while the account's instance quota is in use (100 batch runs
# can start at once): those are waited out like a busy job, not reported as failures.
RETRYABLE_CREATE_ERRORS = ("ResourceLimitExceeded", "ThrottlingException")
JOB_NAME_MAX = 63
JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
MODEL_ARCHIVE, OUTPUT_ARCHIVE = "model.tar.gz", "output.tar.gz"


class TrainingJobTimeout(TrainingJobFailed):
    """The job did not finish before the backend's deadline; it was asked to stop."""


@dataclass(frozen=True)
class Polling:
    """DescribeTrainingJob's pace: jobs run for minutes to hours, and the API is rate-limited."""

    first_delay: float = 20.0
    factor: float = 1.5
    max_delay: float = 120.0
    # Beyond the job's own MaxWaitTime: instance start-up, image pull and the upload of the model.
    deadline_margin: float = 3600.0


def training_job_name(base: str, now: datetime, token: str) -> str:
    """``flux-<base>-<UTC time>-<token>``: SageMaker names are unique forever, so a retried run
    (same base) gets a new one; the IAM policy only allows ``training-job/flux-*``."""
    cleaned = re.sub(r"[^a-zA-Z0-9]+", "-", base).strip("-").removeprefix("flux-") or "batch"
    suffix = f"-{now:%Y%m%d%H%M%S}-{token}"
    room = JOB_NAME_MAX - len("flux-") - len(suffix)
    name = f"flux-{cleaned[:room].rstrip('-')}{suffix}"
    assert JOB_NAME_PATTERN.match(name), name
    return name


def split_s3_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// URL: {url!r}")
    return parsed.netloc, parsed.path.strip("/")


def describe_failure(description: Mapping[str, Any]) -> str:
    status, secondary = description["TrainingJobStatus"], description.get("SecondaryStatus", "")
    reason = description.get("FailureReason") or "no FailureReason given"
    return f"training job {description['TrainingJobName']} {status} ({secondary}): {reason}"


def status_history(description: Mapping[str, Any]) -> str:
    """What SageMaker says happened (the job's own log is in CloudWatch, not here)."""
    lines = [
        f"{t.get('Status')}: {t.get('StatusMessage', '')}".rstrip(": ")
        for t in description.get("SecondaryStatusTransitions", [])
    ]
    billed = description.get("BillableTimeInSeconds")
    trained = description.get("TrainingTimeInSeconds")
    if trained is not None:
        lines.append(f"training {trained}s, billed {billed}s (spot saves the difference)")
    return "\n".join(lines)


def _extract(archive: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        # "data": no absolute paths, no links out of target, no devices (the archive is remote).
        tar.extractall(target, filter="data")


def tenant_shares(data: pd.DataFrame, parts: int) -> list[set[str]]:
    """The batch's tenants in up to ``parts`` shares of near-equal size (a tenant's metrics stay
    together: its series share drivers, and the global model sees whole restaurants)."""
    tenants = sorted(set(data["tenant_id"].astype(str)))
    parts = max(1, min(parts, len(tenants)))
    size, extra = divmod(len(tenants), parts)
    shares, first = [], 0
    for i in range(parts):
        last = first + size + (1 if i < extra else 0)
        shares.append(set(tenants[first:last]))
        first = last
    return shares


def _of_tenants(frame: pd.DataFrame, tenants: set[str]) -> pd.DataFrame:
    return frame[frame["tenant_id"].astype(str).isin(tenants)].reset_index(drop=True)


def _failed_series(data: pd.DataFrame, error: str) -> list[dict[str, Any]]:
    """A failed job's series, as the entrypoint reports a series that failed."""
    pairs = data[["tenant_id", "metric"]].drop_duplicates().itertuples(index=False)
    return [
        {"tenant_id": str(t), "metric": str(m), "status": "failed", "error": error, "seconds": 0.0}
        for t, m in pairs
    ]


class SageMakerTrainingBackend:
    """Runs the training entrypoint as one SageMaker training job per batch of tenants."""

    def __init__(
        self,
        settings: SageMakerSettings,
        *,
        sagemaker_client: Any | None = None,
        s3_client: Any | None = None,
        polling: Polling = Polling(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.role_arn, self.image_uri, s3_url = settings.require()
        self.bucket, self.prefix = split_s3_url(s3_url)
        self.settings = settings
        config = Config(retries={"max_attempts": 8, "mode": "standard"})
        self.sagemaker = sagemaker_client or boto3.client(
            "sagemaker",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            config=config,
        )
        self.s3 = s3_client or boto3.client(
            "s3", endpoint_url=settings.endpoint_url, region_name=settings.region, config=config
        )
        self.polling, self.sleep, self.clock = polling, sleep, clock

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _uri(self, *parts: str) -> str:
        return f"s3://{self.bucket}/{self._key(*parts)}"

    @property
    def deadline_seconds(self) -> float:
        return self.settings.wait_seconds + self.polling.deadline_margin

    def train(
        self,
        data: pd.DataFrame,
        hyperparameters: Mapping[str, object],
        *,
        job_name: str,
        workdir: Path,
        drivers: pd.DataFrame | None = None,
        plans: Sequence[Mapping[str, Any]] = (),
    ) -> TrainingResult:
        """One job per share of the batch's tenants (``parallel_jobs``), all started before any
        is waited on; a share whose job fails fails its own series only."""
        shares = tenant_shares(data, self.settings.parallel_jobs)
        if len(shares) <= 1:
            return self._train_one(data, hyperparameters, job_name, workdir, drivers, plans)
        started = self.clock()
        submitted = []
        for i, tenants in enumerate(shares):
            part = _of_tenants(data, tenants)
            names = self.submit(
                part,
                hyperparameters,
                job_name=f"{job_name}-{i}",
                workdir=workdir / f"job-{i}",
                drivers=None if drivers is None else _of_tenants(drivers, tenants),
                plans=[p for p in plans if str(p["tenant_id"]) in tenants],
            )
            submitted.append((names, part))
        deadline = started + self.deadline_seconds
        results: list[dict[str, Any]] = []
        tails, failed = [], 0
        for i, (name, part) in enumerate(submitted):
            try:
                done = self.collect(
                    self.wait(name, deadline), workdir / f"job-{i}", seconds=self.clock() - started
                )
            except TrainingJobFailed as exc:
                tails.append(f"{name}: {exc}")
                results.extend(_failed_series(part, str(exc)))
                failed += 1
                continue
            tails.append(f"{name}:\n{done.log_tail}")
            results.extend(
                {**r, "model_path": str(done.model_path(r))} if r.get("model_path") else r
                for r in done.results
            )
        if failed == len(submitted):
            raise TrainingJobFailed("every job of the batch failed:\n" + "\n".join(tails))
        return TrainingResult(
            job_name=",".join(name for name, _ in submitted),
            model_dir=workdir,
            output_dir=workdir,
            results=results,
            seconds=self.clock() - started,
            log_tail="\n".join(tails)[-4000:],
        )

    def _train_one(
        self,
        data: pd.DataFrame,
        hyperparameters: Mapping[str, object],
        job_name: str,
        workdir: Path,
        drivers: pd.DataFrame | None,
        plans: Sequence[Mapping[str, Any]],
    ) -> TrainingResult:
        started = self.clock()
        name = self.submit(
            data, hyperparameters, job_name=job_name, workdir=workdir, drivers=drivers, plans=plans
        )
        description = self.wait(name, deadline=started + self.deadline_seconds)
        return self.collect(description, workdir, seconds=self.clock() - started)

    def create_request(
        self, name: str, hyperparameters: Mapping[str, object], tenant_metrics: int
    ) -> dict[str, Any]:
        """The CreateTrainingJob request for one batch (public so that it can be read and tested)."""
        stopping: dict[str, int] = {"MaxRuntimeInSeconds": self.settings.max_runtime_seconds}
        request: dict[str, Any] = {
            "TrainingJobName": name,
            "RoleArn": self.role_arn,
            "AlgorithmSpecification": {
                "TrainingImage": self.image_uri,
                "TrainingInputMode": "File",
                # Our image, not a SageMaker framework image: the entrypoint is named outright.
                "ContainerEntrypoint": ["python", "-m", ENTRYPOINT_MODULE],
            },
            # SageMaker stores hyperparameters as strings; the entrypoint parses them back.
            "HyperParameters": {
                **{key: str(value) for key, value in hyperparameters.items()},
                "sagemaker_program": ENTRYPOINT_MODULE.replace(".", "/") + ".py",
            },
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "ContentType": "application/x-parquet",
                    "InputMode": "File",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": self._uri("training", name, "train") + "/",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": self._uri("models")},
            # One instance: the entrypoint is not distributed, a second would repeat the work.
            "ResourceConfig": {
                "InstanceType": self.settings.instance_type,
                "InstanceCount": 1,
                "VolumeSizeInGB": self.settings.volume_size_gb,
            },
            "StoppingCondition": stopping,
            "Environment": {"PYTHONUNBUFFERED": "1"},
            "Tags": [
                {"Key": "flux:batch", "Value": name},
                {"Key": "flux:tenant-metrics", "Value": str(tenant_metrics)},
            ],
        }
        if self.settings.spot:
            stopping["MaxWaitTimeInSeconds"] = self.settings.wait_seconds
            request["EnableManagedSpotTraining"] = True
            request["CheckpointConfig"] = {
                "S3Uri": self._uri("checkpoints", name) + "/",
                "LocalPath": "/opt/ml/checkpoints",
            }
        return request

    def submit(
        self,
        data: pd.DataFrame,
        hyperparameters: Mapping[str, object],
        *,
        job_name: str,
        workdir: Path,
        drivers: pd.DataFrame | None = None,
        plans: Sequence[Mapping[str, Any]] = (),
    ) -> str:
        """Upload the channel and create the job; returns SageMaker's job name."""
        name = training_job_name(job_name, datetime.now(UTC), secrets.token_hex(2))
        layout = write_job_inputs(workdir, data, hyperparameters, drivers, plans)
        # The channel is the prefix: every file uploaded under it reaches the job.
        for file in (TRAIN_FILE, DRIVERS_FILE, PLANS_FILE):
            if (layout["train"] / file).exists():
                self.s3.upload_file(
                    str(layout["train"] / file),
                    self.bucket,
                    self._key("training", name, "train", file),
                )
        tenant_metrics = int(data.groupby(["tenant_id", "metric"]).ngroups) if len(data) else 0
        request = self.create_request(name, hyperparameters, tenant_metrics)
        deadline, delay = self.clock() + self.deadline_seconds, self.polling.first_delay
        while True:
            try:
                self.sagemaker.create_training_job(**request)
                break
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in RETRYABLE_CREATE_ERRORS or self.clock() + delay > deadline:
                    raise TrainingJobFailed(f"CreateTrainingJob {name} refused: {exc}") from exc
                log.warning("CreateTrainingJob %s: %s; retrying in %.0fs", name, code, delay)
                self.sleep(delay)
                delay = min(delay * self.polling.factor, self.polling.max_delay)
        log.info("created training job %s: %d tenant-metrics", name, tenant_metrics)
        return name

    def wait(self, name: str, deadline: float | None = None) -> dict[str, Any]:
        """Poll until the job ends; the Completed description, else ``TrainingJobFailed``."""
        deadline = deadline if deadline is not None else self.clock() + self.deadline_seconds
        delay, seen = self.polling.first_delay, ""
        while True:
            description: dict[str, Any] = self.sagemaker.describe_training_job(TrainingJobName=name)
            status = description["TrainingJobStatus"]
            secondary = description.get("SecondaryStatus", "")
            if f"{status}/{secondary}" != seen:
                seen = f"{status}/{secondary}"
                log.info("training job %s: %s", name, seen)
            if status == "Completed":
                return description
            if status in TERMINAL_FAILURES:
                raise TrainingJobFailed(describe_failure(description))
            if self.clock() + delay > deadline:
                self.stop(name)
                raise TrainingJobTimeout(
                    f"training job {name} still {status} ({secondary}) at the deadline; "
                    "asked SageMaker to stop it"
                )
            self.sleep(delay)
            delay = min(delay * self.polling.factor, self.polling.max_delay)

    def stop(self, name: str) -> None:
        try:
            self.sagemaker.stop_training_job(TrainingJobName=name)
        except ClientError as exc:  # already ending, or not ours to stop: the caller raises anyway
            log.warning("StopTrainingJob %s: %s", name, exc)

    def collect(
        self, description: Mapping[str, Any], workdir: Path, *, seconds: float
    ) -> TrainingResult:
        """Fetch and extract the job's archives into the local backend's layout."""
        name = description["TrainingJobName"]
        layout = sagemaker_layout(workdir / "opt-ml")
        model_uri = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if not model_uri:
            raise TrainingJobFailed(f"training job {name} completed without ModelArtifacts")
        bucket, key = split_s3_url(model_uri)
        archive = layout["output"] / MODEL_ARCHIVE
        archive.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.s3.download_file(bucket, key, str(archive))
        except ClientError as exc:
            raise TrainingJobFailed(
                f"training job {name}: cannot fetch {model_uri}: {exc}"
            ) from exc
        _extract(archive, layout["model"])
        # SageMaker uploads /opt/ml/output/data beside the model; the results are in both.
        output_key = key.rsplit("/", 1)[0] + "/" + OUTPUT_ARCHIVE
        output_archive = layout["output"] / OUTPUT_ARCHIVE
        try:
            self.s3.download_file(bucket, output_key, str(output_archive))
            _extract(output_archive, layout["output_data"])
        except ClientError:
            log.info("training job %s has no %s", name, OUTPUT_ARCHIVE)
            layout["output_data"].mkdir(parents=True, exist_ok=True)
        return job_result(name, layout, seconds=seconds, log_tail=status_history(description))
