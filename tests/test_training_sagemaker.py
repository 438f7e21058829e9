"""SageMakerTrainingBackend against moto's server on loopback (real HTTP, real S3 objects).

moto records a CreateTrainingJob and answers DescribeTrainingJob, but it runs nothing: every job is
``Completed`` the moment it is created, with no ``model.tar.gz``, and it has no StopTrainingJob.
So ``PlaysSageMaker`` does SageMaker's part here: jobs start ``InProgress`` (moto's job object is
patched in this process), and when the backend sleeps between polls it runs the job the way
SageMaker would (the channel from S3, the hyperparameters and command moto recorded, the REAL
entrypoint as a process), uploads ``model.tar.gz`` where moto says the artifacts are, and sets the
job's final status in moto. The deadline, StopTrainingJob and a refused CreateTrainingJob, which
moto cannot produce, are driven through botocore's Stubber.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.stub import ANY, Stubber
from moto.sagemaker.models import FakeTrainingJob, sagemaker_backends
from moto_server import MOTO_ACCOUNT, MOTO_REGION, create_bucket
from test_training_synthetic import features_frame, synthetic_series

from flux_core.settings import SageMakerNotConfigured, SageMakerSettings
from flux_core.training.backends import LocalTrainingBackend, TrainingJobFailed
from flux_core.training.candidates import BASELINE
from flux_core.training.job_files import ENTRYPOINT_MODULE, TRAIN_FILE
from flux_core.training.model import load_demand_model
from flux_core.training.sagemaker import (
    JOB_NAME_PATTERN,
    Polling,
    SageMakerTrainingBackend,
    TrainingJobTimeout,
    split_s3_url,
    tenant_shares,
    training_job_name,
)
from flux_pipelines.defs.training.resources import TrainingBackendResource

ROLE = f"arn:aws:iam::{MOTO_ACCOUNT}:role/flux-test-sagemaker"
IMAGE = f"{MOTO_ACCOUNT}.dkr.ecr.{MOTO_REGION}.amazonaws.com/flux:test"
# The baseline only: these tests are about the transport; the candidates have tests of their own.
HYPERPARAMETERS = {"horizon": 7, "backtest_windows": 1, "seed": 3, "candidates": BASELINE}


class FakeClock:
    """Time that passes only when the backend sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    return create_bucket(moto_endpoint)


@pytest.fixture
def sagemaker_settings(moto_endpoint: str, bucket: str) -> SageMakerSettings:
    return SageMakerSettings(
        role_arn=ROLE,
        image_uri=IMAGE,
        s3_url=f"s3://{bucket}/sagemaker",
        endpoint_url=moto_endpoint,
        region=MOTO_REGION,
        max_runtime_seconds=3600,
        max_wait_seconds=7200,
    )


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=MOTO_REGION)


def batch(*, bad_tenant: bool = True) -> pd.DataFrame:
    frames = [features_frame(str(uuid.uuid4()), "sales", synthetic_series(90, seed=1))]
    if (
        bad_tenant
    ):  # negative sales cannot be trained on: recorded in results.json, the job still succeeds
        bad = features_frame(str(uuid.uuid4()), "sales", synthetic_series(30, seed=2))
        bad.loc[bad.index[5], "value"] = -1.0
        frames.append(bad)
    return pd.concat(frames, ignore_index=True)


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def moto_job(name: str) -> FakeTrainingJob:
    job: FakeTrainingJob = sagemaker_backends[MOTO_ACCOUNT][MOTO_REGION].training_jobs[name]
    return job


def s3_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    response = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in response.get("Contents", []))


def tar_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for child in sorted(directory.iterdir()):
            tar.add(child, arcname=child.name)  # SageMaker archives the folder's content
    return buffer.getvalue()


class PlaysSageMaker:
    """The injected ``sleep``: records each delay; at the ``run_at``-th one, runs the job."""

    def __init__(self, endpoint: str, clock: FakeClock, scratch: Path, outcome: str) -> None:
        self.sagemaker, self.s3 = client("sagemaker", endpoint), client("s3", endpoint)
        self.clock, self.scratch, self.outcome = clock, scratch, outcome
        self.delays: list[float] = []
        self.run_at = 2
        self.ran: str | None = None

    def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.clock.now += delay
        if len(self.delays) == self.run_at:
            jobs = self.sagemaker.list_training_jobs(StatusEquals="InProgress")
            for summary in jobs["TrainingJobSummaries"]:
                self.run(summary["TrainingJobName"])

    def run(self, name: str) -> None:
        self.ran = name
        job = moto_job(name)
        if self.outcome == "Stopped":  # spot capacity never came within MaxWaitTimeInSeconds
            job.training_job_status, job.secondary_status = "Stopped", "MaxWaitTimeExceeded"
            return
        described = self.sagemaker.describe_training_job(TrainingJobName=name)
        root = self.scratch / name
        channel, config = root / "input/data/train", root / "input/config"
        model, output = root / "model", root / "output"
        for folder in (channel, config, model, output / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        source = described["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
        bucket, prefix = split_s3_url(source)
        for key in s3_keys(self.s3, bucket, prefix):
            self.s3.download_file(bucket, key, str(channel / Path(key).name))
        (config / "hyperparameters.json").write_text(json.dumps(described["HyperParameters"]))
        command = list(described["AlgorithmSpecification"]["ContainerEntrypoint"])
        command[0] = sys.executable if command[0] == "python" else command[0]
        env = {
            **os.environ,
            "SM_CHANNEL_TRAIN": str(channel),
            "SM_INPUT_CONFIG_DIR": str(config),
            "SM_MODEL_DIR": str(model),
            "SM_OUTPUT_DIR": str(output),
            "SM_OUTPUT_DATA_DIR": str(output / "data"),
            **described.get("Environment", {}),
        }
        finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if finished.returncode != 0:
            # SageMaker reports the first 1024 characters of /opt/ml/output/failure.
            reason = (output / "failure").read_text()[:1024]
            job.training_job_status, job.secondary_status = "Failed", "Failed"
            # moto's job has no such attribute; its describe reports every attribute it has.
            job.failure_reason = f"AlgorithmError: {reason}"  # type: ignore[attr-defined]
            return
        artifacts = described["ModelArtifacts"]["S3ModelArtifacts"]
        bucket, key = split_s3_url(artifacts)
        self.s3.put_object(Bucket=bucket, Key=key, Body=tar_directory(model))
        output_key = key.rsplit("/", 1)[0] + "/output.tar.gz"
        self.s3.put_object(Bucket=bucket, Key=output_key, Body=tar_directory(output / "data"))
        job.training_job_status, job.secondary_status = "Completed", "Completed"


@pytest.fixture
def jobs_start_in_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto completes a job on creation; real jobs start InProgress and take a while."""
    created = FakeTrainingJob.__init__

    def starting(self: FakeTrainingJob, *args: Any, **kwargs: Any) -> None:
        created(self, *args, **kwargs)
        self.training_job_status, self.secondary_status = "InProgress", "Starting"

    monkeypatch.setattr(FakeTrainingJob, "__init__", starting)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def play(outcome: str, endpoint: str, clock: FakeClock, tmp_path: Path) -> PlaysSageMaker:
    return PlaysSageMaker(endpoint, clock, tmp_path / "sagemaker-instance", outcome)


def backend_for(
    settings: SageMakerSettings, sleep: Any, clock: FakeClock, **clients: Any
) -> SageMakerTrainingBackend:
    polling = Polling(first_delay=20, factor=1.5, max_delay=120)
    return SageMakerTrainingBackend(settings, polling=polling, sleep=sleep, clock=clock, **clients)


def test_one_job_per_batch_with_spot_checkpoints_and_the_channel_in_s3(
    sagemaker_settings: SageMakerSettings,
    moto_endpoint: str,
    bucket: str,
    tmp_path: Path,
) -> None:
    data = batch()
    base = f"demand-{uuid.uuid4().hex[:8]}"
    backend = SageMakerTrainingBackend(sagemaker_settings)
    name = backend.submit(data, HYPERPARAMETERS, job_name=base, workdir=tmp_path)

    sagemaker, s3 = client("sagemaker", moto_endpoint), client("s3", moto_endpoint)
    jobs = sagemaker.list_training_jobs(NameContains=base)["TrainingJobSummaries"]
    assert [job["TrainingJobName"] for job in jobs] == [name]  # two tenants, ONE job
    assert name.startswith(f"flux-{base}-") and len(name) <= 63 and JOB_NAME_PATTERN.match(name)

    described = sagemaker.describe_training_job(TrainingJobName=name)
    assert described["RoleArn"] == ROLE
    assert described["EnableManagedSpotTraining"] is True
    assert described["CheckpointConfig"] == {
        "S3Uri": f"s3://{bucket}/sagemaker/checkpoints/{name}/",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert described["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 3600,
        "MaxWaitTimeInSeconds": 7200,
    }
    assert described["ResourceConfig"] == {
        "InstanceType": "ml.m5.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
    }
    algorithm = described["AlgorithmSpecification"]
    assert (algorithm["TrainingImage"], algorithm["TrainingInputMode"]) == (IMAGE, "File")
    assert algorithm["ContainerEntrypoint"] == ["python", "-m", ENTRYPOINT_MODULE]
    assert described["HyperParameters"] == {
        "horizon": "7",
        "backtest_windows": "1",
        "seed": "3",
        "candidates": BASELINE,
        "sagemaker_program": "flux_core/training/entrypoint.py",
    }
    [channel] = described["InputDataConfig"]
    assert channel["ChannelName"] == "train"
    channel_uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
    assert channel_uri == f"s3://{bucket}/sagemaker/training/{name}/train/"
    assert described["OutputDataConfig"] == {"S3OutputPath": f"s3://{bucket}/sagemaker/models"}

    # The channel holds the whole batch, as the entrypoint will read it.
    key = f"sagemaker/training/{name}/train/{TRAIN_FILE}"
    assert s3_keys(s3, bucket, "sagemaker/") == [key]
    uploaded = pd.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    pd.testing.assert_frame_equal(uploaded, data)

    # A retried run (same base name) must not collide: SageMaker names are unique forever.
    again = backend.submit(data, HYPERPARAMETERS, job_name=base, workdir=tmp_path / "again")
    assert again != name


@pytest.mark.usefixtures("jobs_start_in_progress")
def test_waits_with_backoff_then_brings_the_models_back_from_s3(
    sagemaker_settings: SageMakerSettings,
    moto_endpoint: str,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    data = batch()
    good, bad = data["tenant_id"].unique()
    sagemaker = play("Completed", moto_endpoint, clock, tmp_path)
    backend = backend_for(sagemaker_settings, sagemaker, clock)

    job = backend.train(data, HYPERPARAMETERS, job_name="demand-e2e", workdir=tmp_path / "work")

    assert job.job_name == sagemaker.ran
    # Described InProgress twice (after 0 s and 20 s), Completed after 20 + 30 s.
    assert sagemaker.delays == [20.0, 30.0]
    assert job.seconds == 50.0
    # The same layout the local backend returns; results.json read identically.
    assert job.model_dir == tmp_path / "work" / "opt-ml" / "model"
    trained_by_sagemaker = tmp_path / "sagemaker-instance" / job.job_name / "model"
    assert job.results == json.loads((trained_by_sagemaker / "results.json").read_text())["results"]
    by_tenant = {r["tenant_id"]: r for r in job.results}
    assert by_tenant[bad]["status"] == "failed"
    assert "negative values" in by_tenant[bad]["error"]
    assert by_tenant[good]["status"] == "succeeded"
    model = load_demand_model(job.model_path(by_tenant[good]))
    assert (model.tenant_id, model.metric) == (good, "sales")
    assert len(model.predict(model.future_dates(7))) == 7
    outputs = json.loads((job.output_dir / "results.json").read_text())
    assert outputs["config"]["horizon"] == 7  # the hyperparameters moto recorded reached it


@pytest.mark.usefixtures("jobs_start_in_progress")
def test_local_and_sagemaker_backends_return_the_same_layout(
    sagemaker_settings: SageMakerSettings,
    moto_endpoint: str,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    data = batch(bad_tenant=False)
    local = LocalTrainingBackend().train(
        data, HYPERPARAMETERS, job_name="local", workdir=tmp_path / "local"
    )
    remote = backend_for(
        sagemaker_settings, play("Completed", moto_endpoint, clock, tmp_path), clock
    ).train(data, HYPERPARAMETERS, job_name="remote", workdir=tmp_path / "remote")

    def files(root: Path) -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    assert files(remote.model_dir) == files(local.model_dir)
    assert files(remote.output_dir) == files(local.output_dir)
    # Seeded training: the same results from the same batch, wherever it ran (but the timings).
    assert without_timings(remote.results) == without_timings(local.results)


@pytest.mark.usefixtures("jobs_start_in_progress")
def test_a_failed_job_raises_with_the_entrypoints_failure_reason(
    sagemaker_settings: SageMakerSettings,
    moto_endpoint: str,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    no_values = batch(bad_tenant=False).drop(columns=["value"])
    backend = backend_for(sagemaker_settings, play("Failed", moto_endpoint, clock, tmp_path), clock)
    with pytest.raises(TrainingJobFailed, match=r"Failed \(Failed\): AlgorithmError: .*lacks"):
        backend.train(no_values, {}, job_name="demand-fails", workdir=tmp_path / "work")


@pytest.mark.usefixtures("jobs_start_in_progress")
def test_a_stopped_job_raises_with_its_secondary_status(
    sagemaker_settings: SageMakerSettings,
    moto_endpoint: str,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    sagemaker = play("Stopped", moto_endpoint, clock, tmp_path)
    backend = backend_for(sagemaker_settings, sagemaker, clock)
    with pytest.raises(TrainingJobFailed, match=r"Stopped \(MaxWaitTimeExceeded\)") as raised:
        backend.train(batch(), HYPERPARAMETERS, job_name="demand-stop", workdir=tmp_path / "w")
    assert sagemaker.ran is not None and sagemaker.ran in str(raised.value)


def test_a_completed_job_without_model_artifacts_is_a_failure(
    sagemaker_settings: SageMakerSettings, clock: FakeClock, tmp_path: Path
) -> None:
    # Plain moto: Completed at once, and nothing at S3ModelArtifacts.
    backend = backend_for(sagemaker_settings, lambda delay: None, clock)
    with pytest.raises(TrainingJobFailed, match=r"cannot fetch s3://.*/model\.tar\.gz"):
        backend.train(batch(), HYPERPARAMETERS, job_name="demand-empty", workdir=tmp_path)


def test_a_refused_create_is_retried_and_a_job_past_its_deadline_is_stopped(
    sagemaker_settings: SageMakerSettings,
    moto_endpoint: str,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    settings = sagemaker_settings.model_copy(
        update={"max_runtime_seconds": 60, "max_wait_seconds": 120}
    )
    stubbed = client("sagemaker", moto_endpoint)
    delays: list[float] = []

    def sleep(delay: float) -> None:
        delays.append(delay)
        clock.now += delay

    backend = SageMakerTrainingBackend(
        settings,
        sagemaker_client=stubbed,
        polling=Polling(first_delay=10, factor=2, max_delay=40, deadline_margin=0),
        sleep=sleep,
        clock=clock,
    )
    in_progress = {
        "TrainingJobName": ANY,
        "TrainingJobArn": f"arn:aws:sagemaker:{MOTO_REGION}:{MOTO_ACCOUNT}:training-job/x",
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Training",
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30},
        "StoppingCondition": {},
        "CreationTime": datetime.now(UTC),
        "ModelArtifacts": {"S3ModelArtifacts": "s3://b/k"},
    }
    with Stubber(stubbed) as stub:
        stub.add_client_error(
            "create_training_job",
            service_error_code="ResourceLimitExceeded",
            service_message="The account-level service limit 'ml.m5.xlarge for spot training "
            "job usage' is 4 Instances",
            http_status_code=400,
        )
        stub.add_response("create_training_job", {"TrainingJobArn": "arn:x"})
        for _ in range(5):
            stub.add_response("describe_training_job", {**in_progress, "TrainingJobName": "x"})
        stub.add_response("stop_training_job", {})
        with pytest.raises(TrainingJobTimeout, match="still InProgress \\(Training\\)"):
            backend.train(batch(), HYPERPARAMETERS, job_name="demand-slow", workdir=tmp_path)
        stub.assert_no_pending_responses()  # every describe made, then StopTrainingJob
    # Create retried after 10 s; then polls at 10, 20, 40 (capped), 40: the deadline is 120 s.
    assert delays == [10, 10, 20, 40, 40]
    assert clock.now == 120


def test_job_names_fit_sagemaker_and_the_iam_prefix() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    name = training_job_name("flux-demand_" + "x" * 80 + "!!", now, "beef")
    assert len(name) == 63 and JOB_NAME_PATTERN.match(name)
    assert name.startswith("flux-demand-xx") and not name.startswith("flux-flux-")
    assert name.endswith("-20260102030405-beef")
    assert re.fullmatch(r"flux-batch-\d{14}-[0-9a-f]{4}", training_job_name("!!", now, "0a1b"))


def test_the_resource_picks_the_backend_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    moto_endpoint: str,
) -> None:
    for name in ("ROLE_ARN", "IMAGE_URI", "S3_URL", "INSTANCE_TYPE", "ENDPOINT_URL"):
        monkeypatch.delenv(f"FLUX_SAGEMAKER_{name}", raising=False)
    monkeypatch.delenv("FLUX_TRAINING_BACKEND", raising=False)
    assert isinstance(TrainingBackendResource().backend(), LocalTrainingBackend)

    monkeypatch.setenv("FLUX_TRAINING_BACKEND", "sagemaker")
    with pytest.raises(SageMakerNotConfigured, match="FLUX_SAGEMAKER_ROLE_ARN.*IMAGE_URI.*S3_URL"):
        TrainingBackendResource().backend()
    assert isinstance(TrainingBackendResource(kind="local").backend(), LocalTrainingBackend)

    monkeypatch.setenv("FLUX_SAGEMAKER_ROLE_ARN", ROLE)
    monkeypatch.setenv("FLUX_SAGEMAKER_IMAGE_URI", IMAGE)
    monkeypatch.setenv("FLUX_SAGEMAKER_S3_URL", "s3://artifacts/sagemaker")
    monkeypatch.setenv("FLUX_SAGEMAKER_INSTANCE_TYPE", "ml.c5.2xlarge")
    monkeypatch.setenv("FLUX_SAGEMAKER_ENDPOINT_URL", moto_endpoint)
    backend = TrainingBackendResource().backend()
    assert isinstance(backend, SageMakerTrainingBackend)
    request = backend.create_request("flux-x", {"horizon": 28}, tenant_metrics=3)
    assert request["ResourceConfig"]["InstanceType"] == "ml.c5.2xlarge"
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://artifacts/sagemaker/training/flux-x/train/"
    )
    assert backend.sagemaker.meta.endpoint_url == moto_endpoint

    monkeypatch.setenv("FLUX_TRAINING_BACKEND", "kubernetes")
    with pytest.raises(ValueError, match="kubernetes"):
        TrainingBackendResource().backend()


class FailsOneJob(PlaysSageMaker):
    """Plays SageMaker, but the job named with ``doomed`` fails (its instance died)."""

    doomed = "-1-"

    def run(self, name: str) -> None:
        if self.doomed in name:
            job = moto_job(name)
            job.training_job_status, job.secondary_status = "Failed", "Failed"
            job.failure_reason = "InternalServerError: the instance died"  # type: ignore[attr-defined]
            return
        super().run(name)


@pytest.mark.usefixtures("jobs_start_in_progress")
def test_a_batch_split_into_jobs_started_at_once_and_one_failing_alone(
    sagemaker_settings: SageMakerSettings,
    moto_endpoint: str,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(4)]
    data = pd.concat(
        [
            features_frame(tenant, metric, synthetic_series(60, seed=i))
            for i, tenant in enumerate(ids)
            for metric in ("sales", "covers")
        ],
        ignore_index=True,
    )
    tenants = sorted(data["tenant_id"].unique())
    settings = sagemaker_settings.model_copy(update={"parallel_jobs": 2})
    sagemaker = FailsOneJob(moto_endpoint, clock, tmp_path / "instance", "Completed")
    base = f"split-{uuid.uuid4().hex[:6]}"
    job = backend_for(settings, sagemaker, clock).train(
        data, HYPERPARAMETERS, job_name=base, workdir=tmp_path / "work"
    )

    listed = client("sagemaker", moto_endpoint).list_training_jobs(NameContains=base)
    names = sorted(j["TrainingJobName"] for j in listed["TrainingJobSummaries"])
    assert len(names) == 2 and sorted(job.job_name.split(",")) == names
    # Both were created before the first was waited on: one poll delay ran both.
    assert sagemaker.delays[:2] == [20.0, 30.0] and job.seconds == 50.0
    by_series = {(r["tenant_id"], r["metric"]): r for r in job.results}
    assert set(by_series) == {(t, m) for t in tenants for m in ("sales", "covers")}
    # Two tenants a job, each with both its metrics; the failed job's are failed, nothing else.
    failed = {t for (t, _), r in by_series.items() if r["status"] == "failed"}
    assert failed == set(tenants[2:])
    assert all("the instance died" in by_series[(t, "sales")]["error"] for t in failed)
    for tenant in tenants[:2]:
        model = load_demand_model(job.model_path(by_series[(tenant, "covers")]))
        assert (model.tenant_id, model.metric) == (tenant, "covers")


def test_shares_keep_a_tenants_metrics_together_and_are_near_equal() -> None:
    data = pd.DataFrame(
        {"tenant_id": [f"t{i // 2}" for i in range(14)], "metric": ["sales", "covers"] * 7}
    )
    shares = tenant_shares(data, 3)
    assert [len(s) for s in shares] == [3, 2, 2]
    assert set().union(*shares) == {f"t{i}" for i in range(7)}
    assert tenant_shares(data, 50) == [{f"t{i}"} for i in range(7)]
    assert tenant_shares(data, 1) == [{f"t{i}" for i in range(7)}]
