"""Faults in the middle of the pipeline's own work, through the real processes: PostgreSQL gone
during a training run, MLflow's store unreachable when the models are registered, the API
killed in the middle of a streaming upload, the Dagster daemon killed while runs are queued.

After each recovery: every upload has settled exactly once, the staged rows are those of one
clean load, and the forecasts exist (one champion per metric, one registered version each).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
import typing
import urllib.request
from uuid import UUID

import psutil
import sqlalchemy as sa
from private_stack import PrivateStack

from flux_api.security import create_access_token
from flux_core.db.connections import plain_url, role_url, service_database
from flux_core.db.tables import forecasts, model_versions, users
from flux_core.demo import RESTAURANTS, demo_sales
from flux_core.ingest.loader import load_uploads
from flux_core.landing import landing_zone
from flux_core.users import hash_password

HISTORY_DAYS = 120
HORIZON = 28


def history(days: int = HISTORY_DAYS, restaurant: int = 1) -> bytes:
    frame = demo_sales(RESTAURANTS[restaurant], dt.date.today() - dt.timedelta(days=1)).tail(days)
    return frame.to_csv(index=False).encode()


def clean_rows(body: bytes) -> dict[tuple[str, str], float]:
    rows: dict[tuple[str, str], float] = {}
    header, *lines = body.decode().splitlines()
    names = header.split(",")
    for line in lines:
        cells = dict(zip(names, line.split(","), strict=True))
        for metric in ("sales", "covers"):
            rows[(metric, cells["date"])] = float(cells[metric])
    return rows


def wait_for(predicate: typing.Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def training_started(process: psutil.Process) -> bool:
    try:
        return any(
            "flux_core.training.entrypoint" in " ".join(child.cmdline())
            for child in process.children(recursive=True)
        )
    except psutil.NoSuchProcess:
        return False


def assert_forecast_once(stack: PrivateStack, tenant: UUID, body: bytes) -> None:
    [upload] = stack.uploads_of(tenant)
    assert (upload.status, upload.rows_loaded) == ("loaded", HISTORY_DAYS)
    assert stack.staged(tenant) == clean_rows(body)
    with stack.engine().connect() as conn:
        champions = conn.execute(
            sa.select(model_versions.c.metric, model_versions.c.model_name).where(
                model_versions.c.tenant_id == tenant, model_versions.c.is_champion
            )
        ).all()
        versions = conn.execute(
            sa.select(sa.func.count())
            .select_from(model_versions)
            .where(model_versions.c.tenant_id == tenant)
        ).scalar_one()
        points = conn.execute(
            sa.select(forecasts.c.metric, sa.func.count())
            .where(forecasts.c.tenant_id == tenant)
            .group_by(forecasts.c.metric)
        ).all()
    assert sorted(c.metric for c in champions) == ["covers", "sales"]
    assert versions == 2  # the failed attempts recorded none
    assert dict(points) == {"covers": HORIZON, "sales": HORIZON}
    registry = sa.create_engine(
        plain_url(
            role_url(
                stack.settings, "pipeline", database=service_database(stack.settings, "mlflow")
            )
        )
    )
    with registry.connect() as conn:
        registered = conn.execute(
            sa.text(
                "select name, count(*) from mlflow.model_versions where name = any(:names) "
                "group by name"
            ),
            {"names": [c.model_name for c in champions]},
        ).all()
    registry.dispose()
    assert sorted(n for _, n in registered) == [1, 1]


def test_postgres_gone_during_training_then_mlflow_unreachable_then_recovered(
    private_stack: PrivateStack,
) -> None:
    stack = private_stack
    tenant = stack.tenant()
    body = history()
    stack.upload(tenant, body)

    # 1. PostgreSQL goes away while the models train, and comes back after the run has ended.
    run = stack.popen("run", "--tenant", str(tenant))
    wait_for(lambda: training_started(psutil.Process(run.pid)), 600, "the training to start")
    stack.stop_database()
    run.wait(600)
    stack.start_database()
    assert run.returncode != 0

    # 2. MLflow's store refuses connections while the models train (the rest of the database is up).
    owner = sa.create_engine(
        plain_url(role_url(stack.settings, "owner")), isolation_level="AUTOCOMMIT"
    )
    mlflow_db = service_database(stack.settings, "mlflow")
    run = stack.popen("run", "--tenant", str(tenant))
    wait_for(lambda: training_started(psutil.Process(run.pid)), 600, "the training to start")
    with owner.connect() as conn:
        conn.execute(sa.text(f'alter database "{mlflow_db}" allow_connections false'))
        conn.execute(
            sa.text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :db"),
            {"db": mlflow_db},
        )
    try:
        output, _ = run.communicate(timeout=600)
    finally:
        with owner.connect() as conn:
            conn.execute(sa.text(f'alter database "{mlflow_db}" allow_connections true'))
    owner.dispose()
    assert run.returncode != 0, output[-2000:]

    # 3. The retry, with everything back.
    stack.flux("run", "--tenant", str(tenant))
    assert_forecast_once(stack, tenant, body)


def _send_slowly(port: int, token: str, body: bytes, stop_after: int) -> None:
    """A multipart upload sent in pieces; the connection is abandoned after ``stop_after`` bytes
    of the file (the test kills the server then)."""
    boundary = "flux-fault-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + len(body) + len(tail)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(
            (
                f"POST /v1/uploads HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {token}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {length}\r\n\r\n"
            ).encode()
            + head
        )
        for start in range(0, stop_after, 64 * 1024):
            connection.sendall(body[start : min(start + 64 * 1024, stop_after)])
            time.sleep(0.01)


def test_api_killed_in_the_middle_of_a_streaming_upload(private_stack: PrivateStack) -> None:
    stack = private_stack
    tenant = stack.tenant()
    with stack.engine().begin() as conn:
        user = conn.execute(
            sa.insert(users)
            .values(
                tenant_id=tenant,
                email=f"owner-{tenant}@faults.example",
                password_hash=hash_password("a password for the faults test"),
                role="owner",
            )
            .returning(users.c.user_id)
        ).scalar_one()
    token = create_access_token(user, tenant, "owner", stack.settings)
    lines = [
        f"{dt.date(2020, 1, 1) + dt.timedelta(days=i)},{100 + i % 50}.25,{10 + i % 9}"
        for i in range(2000)
    ]
    body = ("date,sales,covers\n" + "\n".join(lines) + "\n").encode()
    port = stack.settings.api_port
    stack.flux("api", "--background")
    pid = int((stack.home / "run" / "api.pid").read_text())
    _send_slowly(port, token, body, stop_after=len(body) // 2)
    psutil.Process(pid).kill()  # SIGKILL: no cleanup of any kind
    wait_for(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
        30,
        "the API to die",
    )
    stack.flux("stop")  # forgets the dead server; stops the database too
    stack.start_database()

    zone = landing_zone(stack.settings)
    assert zone.list_keys(f"uploads/tenant={tenant}/", None, 10) == []
    assert stack.uploads_of(tenant) == []
    assert not list((stack.home / "landing").rglob(".incoming-*"))

    # Sent again to a new API, it loads once.
    stack.flux("api", "--background")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/uploads",
        data=_multipart(body),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "multipart/form-data; boundary=flux-fault-boundary",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        upload = UUID(json.loads(response.read())["upload_id"])
    [outcome] = load_uploads(stack.engine(), zone, [upload])
    assert (outcome.status, outcome.rows_loaded) == ("loaded", 2000)
    assert len(stack.staged(tenant)) == 4000
    assert [u.status for u in stack.uploads_of(tenant)] == ["loaded"]


def _multipart(body: bytes) -> bytes:
    boundary = "flux-fault-boundary"
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )


def _run_statuses(stack: PrivateStack, since: int = 0) -> list[str]:
    """The statuses of the runs in launch order, from the ``since``-th on (earlier tests' runs
    share the module's stack)."""
    dagster = sa.create_engine(
        plain_url(
            role_url(
                stack.settings, "pipeline", database=service_database(stack.settings, "dagster")
            )
        ),
        poolclass=sa.NullPool,
    )
    try:
        with dagster.connect() as conn:
            statuses = conn.execute(sa.text("select status from runs order by id")).scalars()
            return list(statuses)[since:]
    except sa.exc.ProgrammingError:  # Dagster has not made its tables yet
        return []
    finally:
        dagster.dispose()


def test_the_dagster_daemon_killed_and_restarted_while_runs_are_queued(
    private_stack: PrivateStack,
) -> None:
    stack = private_stack
    first, second = stack.tenant(), stack.tenant()
    before = len(_run_statuses(stack))
    bodies = {first: history(restaurant=0), second: history(restaurant=2)}
    # At first no run may start (a limit of 0): the sensor queues them, the queue holds them.
    stack.upload(first, bodies[first])
    stack.flux("daemon", "--background", FLUX_DAGSTER_MAX_CONCURRENT_RUNS="0")
    wait_for(lambda: _run_statuses(stack, before).count("QUEUED") == 1, 180, "a queued run")
    stack.upload(second, bodies[second])
    wait_for(lambda: _run_statuses(stack, before).count("QUEUED") == 2, 180, "a second queued run")

    daemon = psutil.Process(int((stack.home / "run" / "daemon.pid").read_text()))
    daemon.kill()  # SIGKILL: the daemon alone, mid-flight
    daemon.wait(30)
    assert _run_statuses(stack, before) == ["QUEUED", "QUEUED"]

    stack.flux("stop")  # forgets the dead daemon, ends what it left, and the database
    stack.start_database()
    stack.flux("daemon", "--background", FLUX_DAGSTER_MAX_CONCURRENT_RUNS="2")
    wait_for(
        lambda: _run_statuses(stack, before) == ["SUCCESS", "SUCCESS"],
        600,
        "the queued runs to finish",
    )
    for tenant, body in bodies.items():
        assert_forecast_once(stack, tenant, body)
