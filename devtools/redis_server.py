"""A private Redis server (Debian's ``redis-server``) on a free loopback port: the Celery broker.

    with RedisServer() as redis:
        redis.url   # redis://127.0.0.1:<port>/0

Nothing is persisted (no RDB snapshots, no append-only file): a broker for one test run.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from devtools.embedded_postgres import free_port

START_SECONDS = 30


def redis_server_bin() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise FileNotFoundError("redis-server is not installed: run `make sysdeps` (devtools/sysdeps.sh)")
    return found


class RedisServer:
    def __init__(self, port: int | None = None):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.work_dir = Path(tempfile.mkdtemp(prefix="oos-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def ping(self) -> bool:
        """True when the server answers PING (RESP inline command) with +PONG."""
        with (
            contextlib.suppress(OSError),
            socket.create_connection((self.host, self.port), timeout=2) as conn,
        ):
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
        return False

    def __enter__(self) -> RedisServer:
        command = [
            redis_server_bin(),
            *("--bind", self.host, "--port", str(self.port)),
            *("--dir", str(self.work_dir), "--save", "", "--appendonly", "no"),
            *("--logfile", str(self.work_dir / "redis.log")),
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.work_dir / "redis.log").read_text(errors="replace")[-2000:]
                self.__exit__(None, None, None)
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{log}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.work_dir, ignore_errors=True)
