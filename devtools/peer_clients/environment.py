"""The peer clients' virtual environment: built once from requirements.txt, reused until it changes.

    python = peer_python()   # .run/peer-venv/bin/python, built on first use (about a minute)

A stamp holding the requirements' hash marks a finished build, so an interrupted build is
redone, and an edit of the pins rebuilds. A file lock keeps two test processes from building
at once. Failing to build raises: the tests that need a client fail, never skip.
"""

from __future__ import annotations

import fcntl
import hashlib
import pathlib
import shutil
import subprocess
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
REQUIREMENTS = pathlib.Path(__file__).with_name("requirements.txt")
VENV = REPO_ROOT / ".run" / "peer-venv"
STAMP = VENV / ".requirements-sha256"
BUILD_TIMEOUT_S = 900


class PeerEnvironmentError(RuntimeError):
    """The peer clients' environment could not be built (the message says which step failed)."""


def _requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def _run(command: list[str], step: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    if result.returncode != 0:
        raise PeerEnvironmentError(
            f"{step} failed (exit {result.returncode}): {' '.join(command)}\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )


def peer_python() -> pathlib.Path:
    """The peer environment's interpreter, building the environment first if needed."""
    python = VENV / "bin" / "python"
    wanted = _requirements_hash()
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / ".peer-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if STAMP.exists() and STAMP.read_text() == wanted and python.exists():
            return python
        shutil.rmtree(VENV, ignore_errors=True)
        # The base interpreter, not the project's venv: the peer environment shares nothing with it.
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", str(VENV)], "creating the peer venv")
        _run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "-r", str(REQUIREMENTS)],
            "installing devtools/peer_clients/requirements.txt",
        )  # fmt: skip
        _run([str(python), "-m", "pip", "check"], "checking the peer clients' dependencies")
        STAMP.write_text(wanted)
    return python


def sling_binary() -> pathlib.Path:
    """The sling CLI shipped inside the sling-linux-amd64 wheel."""
    found = sorted((VENV / "lib").glob("python*/site-packages/sling_linux_amd64/bin/sling-linux-amd64"))
    if not found:
        raise PeerEnvironmentError(f"no sling binary under {VENV}/lib (is sling-linux-amd64 installed?)")
    return found[0]
