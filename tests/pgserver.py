"""A throwaway PostgreSQL server for the tests (and ``bench/history.py --postgres``): Debian's ``postgresql``.

``initdb`` into a temporary directory and ``pg_ctl start`` on a free loopback port with its unix socket in
that directory; as root the server runs as ``nobody`` (initdb refuses root). Stopped (and the directory
removed) at the end of the session. Without PostgreSQL the tests that need it skip, except under ``CI=true``,
where they fail: CI must run them against both backends.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parent))
from netutil import free_port

__all__ = ["PgServer", "find_bin_dir", "pg_url", "postgres_server", "start_server"]


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [d for d in found if (d / "pg_ctl").exists()]
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0) if found else None


@dataclass
class PgServer:
    bin_dir: Path
    root: Path
    port: int
    _names: Iterator[int] = field(default_factory=lambda: count(1))

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh empty database; returns its url."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        _run_as_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)


def _run_as_owner(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "nobody", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def start_server() -> PgServer:
    """Start a server; raises RuntimeError with the reason when it cannot."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)"
        )
    root = Path(tempfile.mkdtemp(prefix="pue-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "nobody")
    data = root / "data"
    init = _run_as_owner(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {init.stderr[-1000:]}")
    port = free_port()  # outside the ephemeral range (netutil.free_port)
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=60 -c shared_buffers=32MB"
    )
    start = _run_as_owner(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"]
    )
    if start.returncode != 0:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {start.stderr[-500:]} {log[-1000:]}")
    return PgServer(bin_dir, root, port)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the test session (skipped without PostgreSQL, failed under CI=true)."""
    try:
        server = start_server()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL history tests must run in CI: {err}")
        pytest.skip(f"no PostgreSQL server for the history tests: {err}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def pg_url(postgres_server: PgServer) -> str:
    """A fresh, empty database of the session's server."""
    return postgres_server.new_database()
