"""A SQL Server emulator for tests and local runs: real TDS 7.4 on the wire, DuckDB inside.

    with MssqlEmulator(user="demo", password="demo-password", database="ProcessStatus") as emu:
        conn = pymssql.connect(**emu.connect_kwargs())

The server runs as a subprocess (``python -m devtools.mssql_emulator``) on an OS-assigned port,
so a test exercises the same sockets and process boundary as a real database.

TLS: the server always offers it, presenting ``tls_cert``/``tls_key`` (PEM paths) if given, else a
self-signed certificate; ``force_encryption=True`` refuses clients that do not encrypt.
"""

from __future__ import annotations

import os
import pathlib
import selectors
import subprocess
import sys
import tempfile
import time
from typing import Self

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


class EmulatorStartError(RuntimeError):
    """The emulator process exited or did not announce its port in time."""


class MssqlEmulator:
    """Start the emulator as a subprocess; ``stop()``/``start()`` restart it on the same port."""

    def __init__(
        self,
        *,
        user: str = "demo",
        password: str = "demo-password",
        database: str = "ProcessStatus",
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "WARNING",
        start_timeout: float = 90.0,
        tls_cert: str | os.PathLike | None = None,
        tls_key: str | os.PathLike | None = None,
        force_encryption: bool = False,
        render_deviation: str | None = None,
        cache_mb: int | None = None,
    ):
        self.user = user
        self.password = password
        self.database = database
        self.host = host
        self.port = port
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.tls_cert = tls_cert
        self.tls_key = tls_key
        self.force_encryption = force_encryption
        # Passed on in translate.RENDER_DEVIATION_ENV; translate decides what it means.
        self.render_deviation = render_deviation
        self.cache_mb = cache_mb  # the result cache's size (None: the server's default)
        self._process: subprocess.Popen | None = None
        self._stderr = None

    def connect_kwargs(self, **overrides) -> dict:
        """Keyword arguments for ``pymssql.connect``."""
        kwargs = {
            "server": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "tds_version": "7.4",
        }
        kwargs.update(overrides)
        return kwargs

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        if self.running:
            return
        # Kept open for the process's lifetime; closed in __exit__.
        self._stderr = tempfile.TemporaryFile()
        env = dict(
            os.environ,
            MSSQL_EMULATOR_PASSWORD=self.password,
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        )
        if self.render_deviation is not None:
            from devtools.mssql_emulator.translate import RENDER_DEVIATION_ENV

            env[RENDER_DEVIATION_ENV] = self.render_deviation
        command = [
            sys.executable,
            "-m",
            "devtools.mssql_emulator",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--user",
            self.user,
            "--database",
            self.database,
            "--log-level",
            self.log_level,
        ]
        if self.tls_cert is not None:
            command += ["--tls-cert", str(self.tls_cert)]
        if self.tls_key is not None:
            command += ["--tls-key", str(self.tls_key)]
        if self.force_encryption:
            command.append("--force-encryption")
        if self.cache_mb is not None:
            command += ["--cache-mb", str(self.cache_mb)]
        self._process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
        )
        line = self._read_listening_line()
        self.port = int(line.rsplit(":", 1)[1])

    def _read_listening_line(self) -> str:
        deadline = time.monotonic() + self.start_timeout
        out = self._process.stdout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(out, selectors.EVENT_READ)
            while b"\n" not in buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._fail(f"did not print 'listening on' within {self.start_timeout} s")
                if not selector.select(remaining):
                    continue
                chunk = os.read(out.fileno(), 4096)
                if not chunk:
                    self._process.wait(timeout=5)
                    self._fail(f"exited with code {self._process.returncode}")
                buffer += chunk
        line = buffer.split(b"\n", 1)[0].decode().strip()
        if not line.startswith("listening on "):
            self._fail(f"printed {line!r} instead of 'listening on HOST:PORT'")
        return line

    def _fail(self, what: str):
        self._stop_process()
        raise EmulatorStartError(f"MSSQL emulator {what}; its stderr:\n{self.stderr_text()}")

    def stderr_text(self) -> str:
        """What the emulator process wrote to stderr so far (its log)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()

    def stop(self) -> None:
        """Terminate the server (SIGTERM); the port is kept for a later ``start()``."""
        self._stop_process()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
