"""A private PostgreSQL server for the demo and the tests: no root service, no Docker.

It runs Debian's PostgreSQL binaries (``postgresql-15``, installed by ``make sysdeps``) on a
loopback port with its own data directory. PostgreSQL refuses to run as root, so when we are
root the cluster is owned by, and run as, the ``postgres`` system user the package creates.

Run ``python -m devtools.embedded_postgres --data-dir .run/pg --port 0`` to keep one up until
SIGTERM, or use :class:`EmbeddedPostgres` as a context manager in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devtools.certificates import KeyPair

DEFAULT_USER = "demo"
DEFAULT_PASSWORD = "demo-password"


def find_bin_dir() -> Path:
    """Locate the PostgreSQL server binaries (PG_BIN overrides the search)."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise RuntimeError(
        "PostgreSQL server binaries not found: run 'make sysdeps' (installs Debian's postgresql) "
        "or set PG_BIN to the folder holding initdb, pg_ctl and postgres"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedPostgres:
    """Initialise (if needed), start and stop a PostgreSQL cluster on 127.0.0.1:port."""

    def __init__(
        self,
        data_dir: str | os.PathLike | None = None,
        port: int = 0,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        databases: tuple[str, ...] = ("orders",),
        settings: dict[str, str] | None = None,
        tls: KeyPair | None = None,
    ):
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.mkdtemp(prefix="oos-pg-")
            data_dir = self._tmp
        self.base_dir = Path(data_dir).resolve()
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "socket"
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.user = user
        self.password = password
        self.databases = databases
        self.settings = {
            "fsync": "off",  # throwaway clusters: durability is not what the tests measure
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "256MB",
            "wal_level": "replica",
            "track_wal_io_timing": "on",
            **(settings or {}),
        }
        self.bin_dir = find_bin_dir()
        self._run_as = "postgres" if os.geteuid() == 0 else None
        # A server certificate (devtools/certificates.py) turns on TLS; clients may still choose
        # plain connections, as with ssl=on in any PostgreSQL (pg_hba.conf's "host" lines).
        self.tls = tls

    # -- process control -------------------------------------------------------------------
    def _cmd(self, *args: str) -> list[str]:
        if self._run_as:
            return ["runuser", "-u", self._run_as, "--", *args]
        return list(args)

    def _chown(self, path: Path) -> None:
        if self._run_as:
            entry = pwd.getpwnam(self._run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def initdb(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.base_dir)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.socket_dir.mkdir(exist_ok=True)
        self._chown(self.socket_dir)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        self._chown(pwfile)
        os.chmod(pwfile, 0o600)
        try:
            subprocess.run(
                self._cmd(
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ),
                check=True,
                capture_output=True,
                text=True,
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed: {exc.stderr.strip()}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def _tls_settings(self) -> dict[str, str]:
        """Copies of the certificate and key the server may read (it refuses a key others can read)."""
        if self.tls is None:
            return {}
        copies = {}
        for name, source in (("ssl_cert_file", self.tls.cert), ("ssl_key_file", self.tls.key)):
            target = self.base_dir / f"server-{name}.pem"
            shutil.copyfile(source, target)
            os.chmod(target, 0o600)
            self._chown(target)
            copies[name] = str(target)
        return {"ssl": "on", **copies}

    def start(self) -> EmbeddedPostgres:
        self.initdb()
        settings = {**self.settings, **self._tls_settings()}
        options = " ".join(f"-c {key}={value}" for key, value in settings.items())
        options += f" -c listen_addresses={self.host} -p {self.port} -k {self.socket_dir}"
        log = self.base_dir / "postgres.log"
        log.touch()
        self._chown(log)
        result = subprocess.run(
            self._cmd(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL did not start: {result.stderr.strip()}\n{log.read_text()[-2000:]}"
            )
        self._create_databases()
        return self

    def stop(self, mode: str = "fast") -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        subprocess.run(
            self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"),
            capture_output=True,
            text=True,
        )

    def cleanup(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.cleanup()

    # -- access ----------------------------------------------------------------------------
    def dsn(self, database: str = "orders") -> str:
        return (
            f"host={self.host} port={self.port} dbname={database} user={self.user} password={self.password}"
        )

    def uri(self, database: str = "orders", scheme: str = "postgresql") -> str:
        return f"{scheme}://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def _create_databases(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            for name in self.databases:
                if name not in existing:
                    from psycopg import sql

                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=".run/pg")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--database", action="append", dest="databases")
    args = parser.parse_args(argv)
    server = EmbeddedPostgres(
        data_dir=args.data_dir, port=args.port, databases=tuple(args.databases or ("orders",))
    )
    server.start()
    print(f"listening on {server.host}:{server.port}", flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    with contextlib.suppress(KeyboardInterrupt):
        while not stopping:
            time.sleep(0.2)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
