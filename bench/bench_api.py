"""``GET /v1/forecasts`` under load: token verification and RLS, 10,000 tenants in the table.

Seeds a database of its own (``flux_bench`` on the project's cluster, migrated like any other) with
10,000 restaurants, each with an owner and 28 days of one metric's forecast, starts uvicorn on
loopback, and loads it with ``wrk`` (tokens spread over 2,000 tenants) against the forecast route
and, in the same run, against ``/healthz`` (no database) for the ratio. Goal: >= 1,000 requests/s
with p99 <= 50 ms and no errors.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import URL

from flux_api.security import create_access_token
from flux_core.db.connections import ensure_database, get_engine, plain_url
from flux_core.db.migrate import migrate
from flux_core.db.tables import forecasts, model_versions, tenants, users
from flux_core.settings import FluxSettings
from flux_core.users import hash_password

DATABASE = "flux_bench"
TENANTS = 10_000
DAYS = 28
TOKENS = 2_000
WORKERS = int(os.environ.get("FLUX_BENCH_WORKERS", "2"))
CONNECTIONS = int(os.environ.get("FLUX_BENCH_CONNECTIONS", "16"))
DURATION = os.environ.get("FLUX_BENCH_DURATION", "15s")
FIRST_DAY = date(2026, 1, 1)


def _bench_settings() -> tuple[FluxSettings, URL]:
    admin = ensure_database(FluxSettings())
    url = plain_url(admin.set(database=DATABASE))
    os.environ["FLUX_DATABASE_URL"] = url  # for the uvicorn workers
    return FluxSettings(database_url=url, token_ttl_minutes=120), admin


def _seeded(settings: FluxSettings) -> bool:
    engine = get_engine("pipeline", settings)
    try:
        with engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(tenants)).scalar_one()
    except sa.exc.SQLAlchemyError:
        return False
    return count >= TENANTS


def _create_and_seed(settings: FluxSettings, admin: URL) -> None:
    with psycopg.connect(plain_url(admin), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{DATABASE}" with (force)')
        conn.execute(f'create database "{DATABASE}" owner flux_owner')
    migrate(settings)
    password_hash = hash_password("bench password, never used")
    engine = get_engine("pipeline", settings)
    tenant_ids = [uuid.uuid4() for _ in range(TENANTS)]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(tenants),
            [{"tenant_id": t, "name": f"bench-{i}"} for i, t in enumerate(tenant_ids)],
        )
        conn.execute(
            sa.insert(users),
            [
                {
                    "user_id": t,  # one owner per tenant; reusing the id keeps the seed simple
                    "tenant_id": t,
                    "email": f"owner-{i}@bench.example",
                    "password_hash": password_hash,
                    "role": "owner",
                }
                for i, t in enumerate(tenant_ids)
            ],
        )
        conn.execute(
            sa.insert(model_versions),
            [
                {
                    "tenant_id": t,
                    "metric": "sales",
                    "version": 1,
                    "model_name": f"flux-{t}-sales",
                    "model_kind": "xgboost",
                    "is_champion": True,
                    "wape": 0.12,
                    "baseline_wape": 0.2,
                }
                for t in tenant_ids
            ],
        )
        for chunk in range(0, TENANTS, 1000):
            conn.execute(
                sa.insert(forecasts),
                [
                    {
                        "tenant_id": t,
                        "metric": "sales",
                        "date": FIRST_DAY + timedelta(days=d),
                        "p10": 900.0 + d,
                        "p50": 1000.0 + d,
                        "p90": 1100.0 + d,
                        "model_version": 1,
                    }
                    for t in tenant_ids[chunk : chunk + 1000]
                    for d in range(DAYS)
                ],
            )
    with psycopg.connect(plain_url(admin.set(database=DATABASE)), autocommit=True) as conn:
        conn.execute("vacuum analyze")


def _tokens(settings: FluxSettings) -> list[str]:
    with get_engine("pipeline", settings).connect() as conn:
        rows = conn.execute(
            sa.select(users.c.user_id, users.c.tenant_id).order_by(users.c.email).limit(TENANTS)
        ).all()
    step = max(1, len(rows) // TOKENS)
    return [create_access_token(u, t, "owner", settings) for u, t in rows[::step][:TOKENS]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int) -> subprocess.Popen[bytes]:
    uvicorn = str(Path(sys.executable).with_name("uvicorn"))
    env = {**os.environ, "FLUX_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [uvicorn, "flux_api.main:app", "--host", "127.0.0.1", "--port", str(port)]
        + ["--workers", str(WORKERS), "--no-access-log", "--log-level", "warning"]
        + ["--loop", "uvloop", "--http", "httptools"],
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2):  # noqa: S310
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("the API did not become ready")


LUA = """
tokens = {%s}
counter = 0
request = function()
  counter = counter + 1
  local token = tokens[(counter * 7919 %% #tokens) + 1]
  return wrk.format("GET", "%s", {["Authorization"] = "Bearer " .. token})
end
"""


def _wrk(url: str, path: str, tokens: list[str]) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % (",".join(f'"{t}"' for t in tokens), path))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    return _parse_wrk(out)


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _parse_wrk(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors}


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    settings, admin = _bench_settings()
    started = time.monotonic()
    if not _seeded(settings):
        _create_and_seed(settings, admin)
        print(f"seeded {TENANTS} tenants x {DAYS} days in {time.monotonic() - started:.0f} s")
    else:
        migrate(settings)  # a reused database follows the code's migrations (/readyz checks)
    tokens = _tokens(settings)
    port = _free_port()
    server = _serve(port)
    url = f"http://127.0.0.1:{port}"
    try:
        _wrk(url, "/healthz", tokens[:10])  # warm-up: imports, pools, caches
        _wrk(
            url,
            f"/v1/forecasts?start={FIRST_DAY}&end={FIRST_DAY + timedelta(days=DAYS - 1)}",
            tokens,
        )
        results = {
            "GET /v1/forecasts (28 days, JWT + RLS)": _wrk(
                url,
                f"/v1/forecasts?start={FIRST_DAY}&end={FIRST_DAY + timedelta(days=DAYS - 1)}",
                tokens,
            ),
            "GET /healthz (no database)": _wrk(url, "/healthz", tokens[:10]),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"uvicorn workers={WORKERS}, wrk -t1 -c{CONNECTIONS} -d{DURATION}, {len(tokens)} tenants' tokens"
    )
    for name, r in results.items():
        print(
            f"{name:42s} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:6.2f} ms  "
            f"p99 {r['p99_ms']:6.2f} ms  errors {r['errors']:.0f}"
        )
    forecast, bare = results.values()
    print(f"forecasts / healthz throughput ratio: {forecast['rps'] / bare['rps']:.2f}")
    ok = forecast["rps"] >= 1000 and forecast["p99_ms"] <= 50 and forecast["errors"] == 0
    print("goal (>= 1000 req/s, p99 <= 50 ms, no errors):", "met" if ok else "NOT met")
