"""Airflow's long-running services (scheduler, DAG processor, API server) as local subprocesses.

Used by the scheduler end-to-end test on the embedded stack:

    with AirflowServices(stack.env(), log_dir) as services:
        services.start_all()
        services.restart("scheduler")

Each service runs in its own session (process group), so stopping it also stops what it
spawned (the LocalExecutor's workers and their task processes). Output goes to one log file per
service, kept after the stop so a failing test can show it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from devtools.stack import REPO_ROOT, airflow_bin

SERVICES = ("dag-processor", "api-server", "scheduler")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class AirflowServices:
    def __init__(self, env: dict[str, str], log_dir: Path, host: str = "127.0.0.1"):
        self.host = host
        self.api_port = free_port(host)
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **env,
            # Tasks report to the Execution API of *this* API server, not the default :8080.
            "AIRFLOW__API__BASE_URL": f"http://{host}:{self.api_port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{host}:{self.api_port}/execution/",
            # A small machine: one API worker and four executor slots are plenty for one DAG.
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__PARALLELISM": "4",
            # After a scheduler crash, its successor looks for the dead job's task instances every
            # 10 s instead of every 5 minutes. (The health threshold stays at its 30 s default:
            # lower, a scheduler slowed by a busy machine takes itself for dead.)
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "10",
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.started_pids: dict[str, list[int]] = {name: [] for name in SERVICES}
        self._crashed_groups: list[int] = []
        self._starts = 0

    # -- one service ----------------------------------------------------------------------------
    def start(self, name: str) -> subprocess.Popen:
        args = [airflow_bin(), name]
        if name == "api-server":
            args += ["--host", self.host, "--port", str(self.api_port), "--workers", "1"]
        self._starts += 1
        log_file = open(self.log_dir / f"{self._starts:02d}-{name}.log", "w")  # noqa: SIM115 - kept by Popen
        with log_file:
            process = subprocess.Popen(
                args,
                env=self.env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        self.started_pids[name].append(process.pid)
        return process

    def stop(self, name: str, grace: float = 60.0) -> int | None:
        """SIGTERM the service (it shuts down as under systemd); SIGKILL its group after ``grace``."""
        process = self.processes.pop(name, None)
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Whatever it spawned and left behind goes too (the group is ours: start_new_session).
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return process.wait()

    def restart(self, name: str, grace: float = 60.0) -> subprocess.Popen:
        self.stop(name, grace)
        return self.start(name)

    def crash(self, name: str) -> None:
        """SIGKILL the service's own process only, as the OOM killer would.

        What it spawned (executor workers, running tasks) lives on as on a real host; those
        processes are killed by :meth:`stop_all`.
        """
        process = self.processes.pop(name)
        process.kill()
        process.wait()
        self._crashed_groups.append(process.pid)

    # -- all of them ----------------------------------------------------------------------------
    def start_all(self) -> None:
        for name in SERVICES:
            self.start(name)

    def wait_for_api(self, timeout: float = 120.0) -> None:
        url = f"http://{self.host}:{self.api_port}/api/v2/monitor/health"
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API server did not answer {url} within {timeout:.0f} s")
            time.sleep(1)

    def check_alive(self) -> None:
        """Raise if a service died on its own (with the end of its log)."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {process.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 40) -> str:
        logs = sorted(self.log_dir.glob(f"*-{name}.log"))
        if not logs:
            return ""
        return "\n".join(logs[-1].read_text(errors="replace").splitlines()[-lines:])

    def stop_all(self) -> None:
        # The scheduler first: it waits for its running tasks, which still need the API server.
        for name in ("scheduler", "dag-processor", "api-server"):
            self.stop(name, grace=30.0)
        for group in self._crashed_groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __enter__(self) -> AirflowServices:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()
