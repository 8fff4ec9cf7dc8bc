"""A real, throw-away PostgreSQL server for tests, started from the operating system's packages.

``running_postgres()`` finds ``initdb``/``postgres`` (PATH, /usr/lib/postgresql/*/bin, /usr/local/bin),
initialises a data directory in a fresh temporary directory, starts the server on a free local port
with its unix socket in that directory, and stops it and removes everything on exit. PostgreSQL
refuses to run as root, so under root the cluster belongs to an unprivileged user (``nobody``).

Authentication is real: TCP connections need a SCRAM password (the superuser's is in
``PostgresServer.superuser_password``); only the unix socket trusts local users.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "crmwh_admin"
UNPRIVILEGED_USERS = ("nobody", "postgres")


@dataclass(frozen=True)
class PostgresServer:
    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    port: int
    superuser: str
    superuser_password: str
    database: str = "crmwh"

    def dsn(self, user: str | None = None, password: str | None = None, database: str | None = None) -> str:
        """A libpq DSN over TCP (password authentication) for ``user`` (default: the superuser)."""
        user = user or self.superuser
        if password is None and user == self.superuser:
            password = self.superuser_password
        parts = [f"host=127.0.0.1 port={self.port} dbname={database or self.database} user={user}"]
        if password is not None:
            parts.append(f"password={password}")
        return " ".join(parts)

    def socket_dsn(self, database: str | None = None) -> str:
        return f"host={self.socket_dir} port={self.port} dbname={database or self.database} user={self.superuser}"

    @property
    def psql(self) -> str:
        found = self.bin_dir / "psql"
        return str(found) if found.exists() else (shutil.which("psql") or "psql")


def find_bin_dir() -> Path | None:
    """The directory holding initdb and postgres, newest major version first."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    candidates += [Path(p) for p in versions]
    candidates += [Path("/usr/local/bin"), Path("/usr/local/pgsql/bin")]
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "crmwh_pg"], check=True)
    return pwd.getpwnam("crmwh_pg")


def _wait_ready(server: PostgresServer, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"postgres exited with {process.returncode}: {log.read_text(errors='replace')}"
            )
        ready = subprocess.run(
            [str(server.bin_dir / "pg_isready"), "-h", str(server.socket_dir), "-p", str(server.port), "-q"],
            check=False,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"postgres did not become ready in 30 s: {log.read_text(errors='replace')}")


@contextmanager
def running_postgres(log_statements: bool = True) -> Iterator[PostgresServer]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, postgres) on PATH, in /usr/lib/postgresql/*/bin or "
            "/usr/local/bin: install them with `apt-get install -y postgresql`"
        )
    user = _run_as()
    # Not under pytest's tmp_path: that is 0700 root-owned, and the server must run as another user.
    base = Path(tempfile.mkdtemp(prefix="crmwh-pg-"))
    data_dir, socket_dir = base / "data", base / "run"
    socket_dir.mkdir()
    password = secrets.token_urlsafe(16)
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n", encoding="utf-8")
    pwfile.chmod(0o600)
    owner: dict[str, object] = {}
    if user is not None:
        for path in (base, socket_dir, pwfile):
            os.chown(path, user.pw_uid, user.pw_gid)
        owner = {"user": user.pw_uid, "group": user.pw_gid}
    env = {**os.environ, "HOME": str(base), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    subprocess.run(
        [
            str(bin_dir / "initdb"), "-D", str(data_dir), "-U", SUPERUSER, f"--pwfile={pwfile}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync",
        ],
        check=True, capture_output=True, env=env, cwd=base, **owner,
    )  # fmt: skip
    pwfile.unlink()
    port = free_port()
    server = PostgresServer(bin_dir, data_dir, socket_dir, port, SUPERUSER, password)
    log = base / "postgres.log"
    log_handle = log.open("wb")
    if user is not None:
        os.chown(log, user.pw_uid, user.pw_gid)
    settings = [
        "-c", f"port={port}", "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={socket_dir}",
        "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        "-c", "max_connections=50", "-c", "shared_buffers=64MB",
        "-c", f"log_statement={'all' if log_statements else 'none'}",
    ]  # fmt: skip
    process = subprocess.Popen(
        [str(bin_dir / "postgres"), "-D", str(data_dir), *settings],
        stdout=log_handle, stderr=subprocess.STDOUT, env=env, cwd=base, **owner,
    )  # fmt: skip
    try:
        _wait_ready(server, process, log)
        subprocess.run(
            [server.psql, "-X", "-q", "-d", server.socket_dsn("postgres"), "-c", f"create database {server.database}"],
            check=True, capture_output=True,
        )  # fmt: skip
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_handle.close()
        shutil.rmtree(base, ignore_errors=True)


def server_log(server: PostgresServer) -> str:
    """Everything the server logged (every statement: ``log_statement=all``), to check no secret leaks."""
    return (server.data_dir.parent / "postgres.log").read_text(errors="replace")
