"""Airflow's long-running services (scheduler, DAG processor, API server, ...) as local subprocesses.

Used by the scheduler end-to-end test, by ``make up`` and by the Celery test of the compose
configuration:

    with AirflowServices(stack.env(), log_dir) as services:
        services.start_all()
        services.restart("scheduler")
        services.start_worker("worker-a", work_dir)   # CeleryExecutor only

Each service runs in its own session, so stopping it also stops what it spawned (the
executor's workers and their task processes). The session, not the process group, is what
counts: Airflow's task supervisor moves each task process into a process group of its own, so
``killpg`` on the service would leave running tasks behind, which ``docker kill`` (the whole
container) never does. Output goes to one log file per
service, kept after the stop so a failing test can show it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from devtools.stack import REPO_ROOT, airflow_bin

SERVICES = ("dag-processor", "api-server", "scheduler")
# What `make up` and the compose file run besides the workers.
ALL_SERVICES = ("dag-processor", "api-server", "scheduler", "triggerer")
WORKER_HOSTNAME_VARIABLE = "OOS_WORKER_HOSTNAME"
WORKER_HOSTNAME_CALLABLE = "devtools.airflow_services.worker_hostname"


def worker_hostname() -> str:
    """``[core] hostname_callable`` for Celery workers sharing one machine.

    In compose each worker container has its own host name; here the worker's environment
    names it, so task instances record which worker ran them.
    """
    return os.environ[WORKER_HOSTNAME_VARIABLE]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class AirflowServices:
    """The services of one Airflow deployment; ``env`` wins over the local defaults below."""

    def __init__(
        self,
        env: dict[str, str],
        log_dir: Path,
        host: str = "127.0.0.1",
        api_port: int | None = None,
        services: tuple[str, ...] = SERVICES,
    ):
        self.host = host
        self.api_port = api_port or free_port(host)
        self.services = services
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
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
            # Airflow's fixed default ports (log servers 8793/8794, scheduler health 8974) would
            # clash with a second deployment on the same machine, such as another test's.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port(host)),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port(host)),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port(host)),
            # A task's calls to the Execution API wait 5 s by default; a busy 2-core machine can
            # take longer to answer the first one, and the task then fails before it starts.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            **env,
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self.started_pids: dict[str, list[int]] = {}
        self._crashed_sessions: list[int] = []
        self._starts = 0

    # -- one service ----------------------------------------------------------------------------
    def start(self, name: str) -> subprocess.Popen:
        args = [airflow_bin(), name]
        if name == "api-server":
            args += ["--host", self.host, "--port", str(self.api_port), "--workers", "1"]
        return self._spawn(name, args, self.env, REPO_ROOT)

    def start_worker(self, hostname: str, work_dir: Path) -> subprocess.Popen:
        """A Celery worker (CeleryExecutor) with its own host name and its own local disk.

        ``work_dir`` holds its working directory, Airflow home and task logs, as a worker's
        container would; one task at a time, so a second worker is what runs tasks in parallel.
        Logs are not served: the API server would look them up by host name, which only
        resolves in compose.
        """
        work_dir = Path(work_dir)
        (work_dir / "logs").mkdir(parents=True, exist_ok=True)
        env = {
            **self.env,
            "AIRFLOW_HOME": str(work_dir / "airflow"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(work_dir / "logs"),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": WORKER_HOSTNAME_CALLABLE,
            WORKER_HOSTNAME_VARIABLE: hostname,
        }
        args = [
            airflow_bin(),
            "celery",
            "worker",
            "--celery-hostname",
            f"celery@{hostname}",
            "--concurrency",
            "1",
            "--skip-serve-logs",
        ]
        return self._spawn(hostname, args, env, work_dir)

    def _spawn(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
        self._starts += 1
        log_file = open(self.log_dir / f"{self._starts:02d}-{name}.log", "w")  # noqa: SIM115 - kept by Popen
        with log_file:
            process = subprocess.Popen(
                args,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        self.started_pids.setdefault(name, []).append(process.pid)
        return process

    def stop(self, name: str, grace: float = 60.0) -> int | None:
        """SIGTERM the service (it shuts down as under systemd); SIGKILL its group after ``grace``."""
        process = self.processes.pop(name, None)
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        return _reap(process, time.monotonic() + grace)

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
        self._crashed_sessions.append(process.pid)

    def kill(self, name: str) -> None:
        """SIGKILL the service and everything it spawned at once, as ``docker kill`` does."""
        process = self.processes.pop(name)
        kill_session(process.pid)
        process.wait()

    # -- all of them ----------------------------------------------------------------------------
    def start_all(self) -> None:
        for name in self.services:
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
        # Everything but the API server at once (a scheduler or worker waits for its running
        # tasks, which still need the API server), then the API server.
        first = [self.processes.pop(name) for name in list(self.processes) if name != "api-server"]
        for process in first:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30.0
        for process in first:
            _reap(process, deadline)
        self.stop("api-server", grace=30.0)
        for session in self._crashed_sessions:
            kill_session(session)

    def __enter__(self) -> AirflowServices:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()


def _reap(process: subprocess.Popen, deadline: float) -> int:
    """Wait for a signalled service until ``deadline``, then SIGKILL whatever is left of its group."""
    try:
        process.wait(timeout=max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        pass
    # Whatever it spawned and left behind goes too (the session is ours: start_new_session).
    kill_session(process.pid)
    return process.wait()


def session_members(session: int) -> list[int]:
    """The live processes of ``session`` (field 6 of /proc/<pid>/stat), its leader included."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        # After the command name: state, ppid, pgrp, session; a zombie needs no signal.
        if int(fields[3]) == session and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def kill_session(session: int) -> None:
    """SIGKILL every process of ``session``, whatever process group it moved itself into."""
    for _ in range(20):  # again while something forked between the listing and the signal
        members = session_members(session)
        if not members:
            return
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
