"""`make stop` stops everything Flux started, children included, and waits for each; the
database goes last. Run as a developer would, in a FLUX_HOME (and a PostgreSQL) of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from flux_pipelines import services

FLUX = str(Path(sys.executable).with_name("flux"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(pid: int) -> set[int]:
    root = psutil.Process(pid)
    return {pid, *(child.pid for child in root.children(recursive=True))}


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def test_stop_ends_the_ui_the_api_the_dashboard_and_their_children(tmp_path: Path) -> None:
    assert services.dashboard_built(), "`make test` builds the dashboard first (make web-build)"
    home = tmp_path / "home"
    api_port, web_port, ui_port = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("FLUX_DATABASE_URL", "DAGSTER_HOME")}
    env |= {
        "FLUX_HOME": str(home),
        "FLUX_ENVIRONMENT": "test",
        "FLUX_API_URL": f"http://127.0.0.1:{api_port}",
        "FLUX_WEB_PORT": str(web_port),
        "FLUX_WEB_SESSION_SECRET": "a session secret for this test only, long enough",
        "DAGSTER_HOME": str(home / "dagster"),
    }

    def flux(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [FLUX, *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    flux("db", "up")
    flux("db", "migrate")
    try:
        flux("ui", "--background", "--port", str(ui_port))
        flux("web")  # the dashboard, and the API since none answers
        run = home / "run"
        started = {name: int((run / f"{name}.pid").read_text()) for name in ("ui", "api", "web")}
        # The UI is `dagster dev`: its webserver, daemon and code server are its children.
        deadline = time.monotonic() + 60
        while len(_tree(started["ui"])) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        processes = set().union(*(_tree(pid) for pid in started.values()))
        assert len(_tree(started["ui"])) >= 3
        postgres = {
            p.pid
            for p in psutil.process_iter(["cmdline"])
            if str(home / "pg") in " ".join(p.info["cmdline"] or [])
        }
        assert postgres

        stopped = flux("stop")
    finally:
        subprocess.run([FLUX, "stop"], env=env, capture_output=True, timeout=300, check=False)

    assert _alive(processes) == set(), stopped.stdout
    assert _alive(postgres) == set()
    assert sorted(p.name for p in (home / "run").glob("*.pid")) == []
    for name in ("ui", "api", "web"):
        assert f"stopped the {name} server" in stopped.stdout
    # The database last: after every server.
    assert stopped.stdout.strip().splitlines()[-1] == "stopped the local PostgreSQL cluster"
