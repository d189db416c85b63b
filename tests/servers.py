"""Real processes for fault and load tests: a throwaway PostgreSQL cluster of our own (never the
shared server) and the officers' service under uvicorn in a subprocess, both on loopback.

``private_postgres()`` runs ``initdb`` and ``pg_ctl`` from /usr/lib/postgresql/*/bin (as the
``postgres`` user when we are root, since initdb refuses root) in a temporary directory, on a
free port; it can be stopped and started again (a restart under traffic) and is removed at the
end. ``served(url, ...)`` starts ``placement serve`` on a free port and waits for /health.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CHEAP_ARGON2_ENV = {"PLACEMENT_ARGON2_TIME_COST": "1", "PLACEMENT_ARGON2_MEMORY_KIB": "8",
                    "PLACEMENT_ARGON2_PARALLELISM": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")) and os.path.exists(os.path.join(candidate, "pg_ctl")):
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


@dataclass
class PrivatePostgres:
    bin: Path
    root: Path
    port: int
    as_user: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, *args], capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "server.log"),
                  "-w", "-t", "60", "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                  "-c fsync=on -c max_connections=120", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", mode, "-w", "-t", "60", "stop",
                  check=False)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh PostgreSQL cluster on a free loopback port, removed afterwards."""
    binaries = postgres_binaries()
    if binaries is None:
        raise FileNotFoundError("initdb and pg_ctl are not installed (/usr/lib/postgresql/*/bin)")
    root = Path(tempfile.mkdtemp(prefix="placement-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    pg = PrivatePostgres(binaries, root, free_port(), as_user)
    try:
        pg._run(str(binaries / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--no-instructions")
        pg.start()
        yield pg
    finally:
        pg.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    log: Path

    def kill(self) -> None:
        """SIGKILL: no cleanup, no rollback by the application."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def server_env(database_url: str, data_dir: Path, secret_key: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLACEMENT_")}
    env.update(CHEAP_ARGON2_ENV)
    env.update({"DATABASE_URL": database_url, "PLACEMENT_TRAVEL": "crowfly", "PLACEMENT_SWEEP_SECONDS": "0",
                "PLACEMENT_SECRET_KEY": secret_key, "PLACEMENT_DATA_DIR": str(data_dir)})
    env.update({f"PLACEMENT_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@contextmanager
def served(database_url: str, data_dir: Path, secret_key: str | None = None, timeout_s: float = 90,
           workers: int = 1, **settings: str) -> Iterator[Server]:
    """``placement serve`` (``--workers``) on a free loopback port over a store already holding a system."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"server-{port}.log"
    env = server_env(database_url, data_dir, secret_key or secrets.token_urlsafe(40), **settings)
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port),
                                    "--workers", str(workers)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited ({process.returncode}): {server.output()[-2000:]}")
            try:
                if httpx.get(server.base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not answer in {timeout_s} s: {server.output()[-2000:]}")
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def add_accounts(database_url: str, profiles: dict[str, dict]) -> dict[str, str]:
    """Create accounts (random passwords, cheap Argon2 for tests); returns name -> password."""
    from api.security import hash_new_password
    from api.settings import Settings
    from data.db import Database, accounts
    from data.db.repository import utcnow

    settings = Settings(argon2_time_cost=1, argon2_memory_kib=8, argon2_parallelism=1)
    db = Database(database_url)
    passwords = {}
    try:
        with db.write() as session:
            for name, profile in profiles.items():
                passwords[name] = secrets.token_urlsafe(18)
                accounts.add_user(session, name=name, password_hash=hash_new_password(settings, passwords[name]),
                                  now=utcnow(), **profile)
    finally:
        db.dispose()
    return passwords


def sign_in(base: str, name: str, password: str) -> dict[str, str]:
    r = httpx.post(base + "/auth/token", data={"username": name, "password": password}, timeout=30)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
