"""The servers Flux starts for a developer (API, dashboard, Dagster UI and daemon, MLflow UI), and
stopping them so that nothing of them is left.

Each server starts in a session of its own (``start_new_session``), its pid kept under
``FLUX_HOME/run``. Stopping it ends the whole tree: the process, every descendant found while it
was still alive (``dagster dev`` starts a webserver, a daemon and a code server, and those start
run workers), and whatever is left of its session; SIGTERM first, SIGKILL for what has not exited
after a grace period, and it returns only once every one of them is gone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from flux_core.settings import PROJECT_ROOT, FluxSettings

# In the order ``stop`` ends them: what depends on another goes first.
SERVICES = ("web", "ui", "daemon", "mlflow", "api")
GRACE_SECONDS = 20.0


@dataclass(frozen=True)
class Service:
    name: str
    command: Sequence[str]
    env: Mapping[str, str]
    cwd: Path = PROJECT_ROOT
    ready_url: str | None = None  # answers 200 once the server serves


def run_dir(settings: FluxSettings) -> Path:
    folder = settings.home / "run"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_file(settings: FluxSettings, name: str) -> Path:
    folder = settings.home / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.log"


def _pid_file(settings: FluxSettings, name: str) -> Path:
    return run_dir(settings) / f"{name}.pid"


def running_pid(settings: FluxSettings, name: str) -> int | None:
    """The pid of the named server if it was started here and still runs."""
    path = _pid_file(settings, name)
    try:
        pid = int(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        process = psutil.Process(pid)
        if process.status() != psutil.STATUS_ZOMBIE:
            return pid
    except psutil.NoSuchProcess:
        pass
    path.unlink(missing_ok=True)
    return None


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def spawn(settings: FluxSettings, service: Service) -> subprocess.Popen[bytes]:
    """Start the service in a session of its own, its output appended to its log file."""
    with log_file(settings, service.name).open("ab") as log:
        process = subprocess.Popen(
            list(service.command),
            cwd=service.cwd,
            env={**os.environ, **service.env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _pid_file(settings, service.name).write_text(str(process.pid))
    return process


def start_background(settings: FluxSettings, service: Service, timeout: float = 120.0) -> int:
    """Start the service unless it runs already, and wait until it answers; its pid."""
    pid = running_pid(settings, service.name)
    if pid is not None:
        return pid
    process = spawn(settings, service)
    deadline = time.monotonic() + timeout
    while service.ready_url and not answers(service.ready_url):
        if process.poll() is not None:
            _pid_file(settings, service.name).unlink(missing_ok=True)
            raise RuntimeError(
                f"the {service.name} server exited with {process.returncode}; "
                f"see {log_file(settings, service.name)}"
            )
        if time.monotonic() > deadline:
            stop(settings, service.name)
            raise RuntimeError(
                f"the {service.name} server did not answer {service.ready_url} in {timeout:.0f} s; "
                f"see {log_file(settings, service.name)}"
            )
        time.sleep(0.25)
    return process.pid


def run_foreground(settings: FluxSettings, service: Service) -> int:
    """Run the service attached to the terminal until it exits or Ctrl-C; its exit status."""
    process = subprocess.Popen(
        list(service.command),
        cwd=service.cwd,
        env={**os.environ, **service.env},
        start_new_session=True,  # its tree is ours to end, as a background one's
    )
    _pid_file(settings, service.name).write_text(str(process.pid))
    try:
        return process.wait()
    except KeyboardInterrupt:
        end_tree(process.pid)
        return process.wait()
    finally:
        if running_pid(settings, service.name) in (None, process.pid):
            _pid_file(settings, service.name).unlink(missing_ok=True)


def _tree(pid: int) -> list[psutil.Process]:
    """The process, its descendants, and anything else left in its session."""
    found: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(pid)
        found[pid] = root
        found.update((child.pid, child) for child in root.children(recursive=True))
    except psutil.NoSuchProcess:
        pass
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == pid:
                found.setdefault(process.pid, process)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return list(found.values())


def end_tree(pid: int, grace: float = GRACE_SECONDS) -> list[int]:
    """SIGTERM the process tree, SIGKILL what is left after ``grace``; the pids that existed."""
    processes = _tree(pid)
    for process in processes:
        try:
            process.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(processes, timeout=grace)
    # Children started while the first ones were stopping.
    alive = list({p.pid: p for p in [*alive, *_tree(pid)]}.values())
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=grace)
    return [p.pid for p in processes]


def stop(settings: FluxSettings, name: str) -> bool:
    """Stop the named server and all it started; whether it was running."""
    pid = running_pid(settings, name)
    if pid is None:
        return False
    end_tree(pid)
    _pid_file(settings, name).unlink(missing_ok=True)
    return True


# -- the servers themselves ---------------------------------------------------------------------

WEB_ROOT = PROJECT_ROOT / "flux_web"


def bin_path(name: str) -> str:
    """A command of this virtualenv."""
    return str(Path(sys.executable).with_name(name))


def api_service(
    settings: FluxSettings, host: str = "127.0.0.1", port: int | None = None
) -> Service:
    port = port or settings.api_port
    return Service(
        "api",
        [bin_path("uvicorn"), "flux_api.main:app", "--host", host, "--port", str(port)],
        {},
        ready_url=f"http://{host}:{port}/healthz",
    )


def web_service(settings: FluxSettings) -> Service:
    """``next start`` on the dashboard's production build, with the settings it reads."""
    return Service(
        "web",
        [str(WEB_ROOT / "node_modules" / ".bin" / "next"), "start", "-H", "127.0.0.1"]
        + ["-p", str(settings.web_port)],
        {
            "NODE_ENV": "production",
            "FLUX_API_URL": settings.api_url,
            "FLUX_ENVIRONMENT": settings.environment,
            "FLUX_WEB_SESSION_SECRET": settings.web_session_secret.get_secret_value(),
            "NEXT_TELEMETRY_DISABLED": "1",
        },
        cwd=WEB_ROOT,
        ready_url=f"{settings.web_url}/healthz",
    )


class DashboardNotReady(RuntimeError):
    """The dashboard cannot start: ``str()`` says why and what to do."""


def dashboard_built() -> bool:
    return (WEB_ROOT / ".next" / "BUILD_ID").exists()


def start_dashboard(settings: FluxSettings) -> str:
    """Serve the dashboard in the background, and the API it calls unless that answers already;
    what was done, as a line for the terminal."""
    if problem := settings.web_session_secret_problem():
        raise DashboardNotReady(problem)
    if not dashboard_built():
        raise DashboardNotReady("the dashboard is not built: `make web` builds and serves it")
    if answers(f"{settings.api_url.rstrip('/')}/healthz"):
        api = f"the API already answered on {settings.api_url}"
    else:
        start_background(settings, api_service(settings))
        api = f"started the API on {settings.api_url}"
    start_background(settings, web_service(settings))
    return f"{api}; the dashboard is on {settings.web_url} (`make stop` stops both)"


def free_port() -> int:
    """A port nothing listens on now (for a benchmark's or a test's own servers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
