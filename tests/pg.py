"""PostgreSQL for the test suite: a local cluster and a fresh database per test.

Where the server comes from, first match wins:

1. ``TIDINGS_TEST_PG_URL`` (e.g. ``postgresql://postgres@127.0.0.1:54329/postgres``):
   an already running server, as ``.ci/run`` starts one;
2. otherwise the server binaries on this machine (``initdb``/``pg_ctl`` on
   ``PATH`` or under ``/usr/lib/postgresql/*/bin``): a throw-away cluster in a
   temporary directory, started once per test session and stopped at its end
   (as the ``postgres`` user when the tests run as root);
3. otherwise every test that needs PostgreSQL is skipped with a clear message.

``TIDINGS_TEST_DATABASE=postgresql`` switches the ``settings``, ``store`` and
``cli_env`` fixtures of ``conftest.py`` to PostgreSQL, so the same suite runs
on both backends. Each test gets its own database, copied from a template
database that the migrations ran on once (``CREATE DATABASE ... TEMPLATE``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ADMIN_ENV = "TIDINGS_TEST_PG_URL"
SWITCH_ENV = "TIDINGS_TEST_DATABASE"
TEMPLATE = "tidings_template"


def pg_selected() -> bool:
    """True when the suite runs on PostgreSQL (``TIDINGS_TEST_DATABASE=postgresql``)."""
    return os.environ.get(SWITCH_ENV, "").lower() in {"postgresql", "postgres", "pg"}


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalCluster:
    """A throw-away PostgreSQL cluster in a temporary directory."""

    def __init__(self) -> None:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
        self.pg_ctl = pg_ctl
        self.dir = Path(tempfile.mkdtemp(prefix="tidings-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run(
            [
                initdb,
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ]
        )
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c synchronous_commit=off -c max_connections=300"
        )
        self._run(
            [pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "start", "-w", "-t", "60"]
        )
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str]) -> None:
        result = subprocess.run([*self.as_user, *cmd], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {result.stderr.strip()[-500:]}")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"])
        shutil.rmtree(self.dir, ignore_errors=True)


class PgServer:
    """Creates and drops databases on one server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._template_ready = False

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def url_for(self, name: str) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{name}"

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        from tidings.store import Store

        self._admin(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        self._admin(f"CREATE DATABASE {TEMPLATE}")
        Store(self.url_for(TEMPLATE)).close()  # run the migrations once
        from tidings.queue import ensure_queue_schema

        ensure_queue_schema(self.url_for(TEMPLATE))
        self._template_ready = True

    def create(self, *, empty: bool = False) -> str:
        """A fresh database (migrated, unless ``empty``); returns its URL."""
        name = "t_" + uuid.uuid4().hex[:16]
        if empty:
            self._admin(f"CREATE DATABASE {name}")
        else:
            self._ensure_template()
            self._admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url_for(name)

    def drop(self, url: str) -> None:
        name = url.rpartition("/")[2]
        with contextlib.suppress(Exception):
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _start() -> tuple[PgServer | None, LocalCluster | None, str]:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, None, "psycopg is not installed (pip install -e '.[postgres]')"
    url = os.environ.get(ADMIN_ENV)
    cluster = None
    if not url:
        try:
            cluster = LocalCluster()
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            return None, None, f"no PostgreSQL server could be started: {e}"
        url = cluster.url
    server = PgServer(url)
    try:
        server._admin("SELECT 1")
    except Exception as e:
        if cluster:
            cluster.stop()
        return None, None, f"PostgreSQL at {url} is unreachable: {e}"
    return server, cluster, ""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server, cluster, why = _start()
    if server is None:
        pytest.skip(f"PostgreSQL tests skipped: {why}")
    try:
        yield server
    finally:
        if cluster is not None:
            cluster.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh migrated PostgreSQL database for one test (dropped afterwards)."""
    url = pg_server.create()
    try:
        yield url
    finally:
        pg_server.drop(url)
