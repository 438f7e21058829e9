"""The PostgreSQL cluster Flux starts itself under FLUX_HOME when no database URL is configured.

PostgreSQL refuses to run as root, so when Flux runs as root the server commands run as the
``postgres`` user (``runuser``), and the data directory is owned by that user.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from flux_core.settings import FluxSettings

SUPERUSER = "postgres"
OWNER_ROLE = "flux_owner"
DATABASE = "flux"


class PostgresNotFound(RuntimeError):
    pass


def find_pg_bin_dir(configured: Path | None = None) -> Path:
    candidates: list[Path] = []
    if configured:
        candidates.append(configured)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(versions)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    raise PostgresNotFound(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found. Install PostgreSQL 15 or newer "
        "(Debian/Ubuntu: apt-get install postgresql-15), point FLUX_PG_BIN_DIR at its bin folder, "
        "or set FLUX_DATABASE_URL to a running PostgreSQL."
    )


def _free_port(preferred: int) -> int:
    for port in range(preferred, preferred + 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port near {preferred}")


@dataclass(frozen=True)
class LocalCluster:
    home: Path
    bin_dir: Path
    configured_port: int | None = None

    @classmethod
    def from_settings(cls, settings: FluxSettings) -> LocalCluster:
        return cls(settings.home.resolve(), find_pg_bin_dir(settings.pg_bin_dir), settings.pg_port)

    @property
    def root(self) -> Path:
        return self.home / "pg"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    @property
    def _port_file(self) -> Path:
        return self.root / "port"

    @property
    def port(self) -> int:
        if self.configured_port:
            return self.configured_port
        if self._port_file.exists():
            return int(self._port_file.read_text().strip())
        # A port derived from the folder, so two checkouts on one machine do not collide.
        digest = int(hashlib.sha256(str(self.home).encode()).hexdigest(), 16)
        port = _free_port(20000 + digest % 20000)
        self.root.mkdir(parents=True, exist_ok=True)
        self._port_file.write_text(f"{port}\n")
        return port

    def owner_url(self) -> str:
        return f"postgresql://{OWNER_ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    # -- running the server binaries, as `postgres` when we are root ---------------------------

    def _as_server_user(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", SUPERUSER, "--", *args]
        return args

    def _run(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._as_server_user(args), capture_output=True, text=True, check=check
        )

    def _prepare_directories(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        user = pwd.getpwnam(SUPERUSER)
        # The server user must be able to reach FLUX_HOME: grant traverse (x) only, never read.
        for ancestor in [self.root, *self.root.parents]:
            mode = ancestor.stat().st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(ancestor, mode | stat.S_IXOTH)
        os.chown(self.root, user.pw_uid, user.pw_gid)
        self.data_dir.mkdir(exist_ok=True)
        os.chown(self.data_dir, user.pw_uid, user.pw_gid)
        self.data_dir.chmod(0o700)
        self.log_file.touch()
        os.chown(self.log_file, user.pw_uid, user.pw_gid)

    def is_initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        return (
            self._run(
                [str(self.bin_dir / "pg_ctl"), "status", "-D", str(self.data_dir)], check=False
            ).returncode
            == 0
        )

    def up(self) -> str:
        """Initialise (once) and start the cluster; reuse it when it already runs. Returns the owner URL."""
        port = self.port
        if not self.is_initialised():
            self._prepare_directories()
            result = self._run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        if not self.is_running():
            self._prepare_directories()
            options = (
                f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                "-c max_connections=300 -c shared_buffers=256MB -c synchronous_commit=off"
            )
            result = self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-o",
                    options,
                ],
                check=False,
            )
            if result.returncode != 0:
                tail = (
                    self.log_file.read_text(errors="replace")[-2000:]
                    if self.log_file.exists()
                    else ""
                )
                raise RuntimeError(
                    f"PostgreSQL did not start:\n{result.stdout}\n{result.stderr}\n{tail}"
                )
        self._bootstrap_owner()
        return self.owner_url()

    def down(self) -> bool:
        if not self.is_running():
            return False
        self._run(
            [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w"]
        )
        return True

    def _bootstrap_owner(self) -> None:
        """The superuser creates the owner role and database; everything else is a migration."""
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(
                    f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres", autocommit=True
                )
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            exists = conn.execute(
                "select 1 from pg_roles where rolname = %s", (OWNER_ROLE,)
            ).fetchone()
            if not exists:
                conn.execute(f"create role {OWNER_ROLE} login createrole createdb")
            if not conn.execute(
                "select 1 from pg_database where datname = %s", (DATABASE,)
            ).fetchone():
                conn.execute(f"create database {DATABASE} owner {OWNER_ROLE}")
