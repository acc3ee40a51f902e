"""The other contenders' environment: built once from requirements-contenders.txt, reused until it changes.

    python = contenders_python()   # .run/bench-venv/bin/python, built on first use
    ingestr_binary(), sling_binary()  # the CLIs shipped inside their wheels

Like devtools.peer_clients.environment: a stamp holding the requirements' hash marks a finished
build, a file lock keeps two processes from building at once, and a failed build raises, so the
harness records the contenders that need it as failed, never skipped.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = Path(__file__).with_name("requirements-contenders.txt")
VENV = REPO_ROOT / ".run" / "bench-venv"
STAMP = VENV / ".requirements-sha256"
BUILD_TIMEOUT_S = 900


class ContendersEnvironmentError(RuntimeError):
    """The contenders' environment could not be built (the message says which step failed)."""


def _run(command: list[str], step: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise ContendersEnvironmentError(f"{step} timed out after {BUILD_TIMEOUT_S} s") from exc
    if result.returncode != 0:
        raise ContendersEnvironmentError(
            f"{step} failed (exit {result.returncode}): {' '.join(command)}\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )


def contenders_python() -> Path:
    """The environment's interpreter, building the environment first if needed."""
    python = VENV / "bin" / "python"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / ".bench-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if STAMP.exists() and STAMP.read_text() == wanted and python.exists():
            return python
        shutil.rmtree(VENV, ignore_errors=True)
        # The base interpreter: the contenders share nothing with the project's venv.
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", str(VENV)], "creating the bench contenders' venv")
        _run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "-r", str(REQUIREMENTS)],
            "installing bench/requirements-contenders.txt",
        )  # fmt: skip
        _run([str(python), "-m", "pip", "check"], "checking the bench contenders' dependencies")
        STAMP.write_text(wanted)
    return python


def _shipped_binary(pattern: str, package: str) -> Path:
    contenders_python()
    found = sorted(VENV.glob(pattern))
    if not found:
        raise ContendersEnvironmentError(f"no {package} binary under {VENV} (is {package} installed?)")
    return found[0]


def ingestr_binary() -> Path:
    """The ingestr CLI from the ingestr wheel (installed as a script)."""
    return _shipped_binary("bin/ingestr", "ingestr")


def sling_binary() -> Path:
    """The sling CLI inside the sling-linux-amd64 wheel."""
    return _shipped_binary(
        "lib/python*/site-packages/sling_linux_amd64/bin/sling-linux-amd64", "sling-linux-amd64"
    )


def pinned_versions() -> dict[str, str]:
    """The versions requirements-contenders.txt pins for the tools the report names."""
    pins = dict(
        line.split("==", 1)
        for line in REQUIREMENTS.read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    return {
        name: pins.get(name, "not pinned") for name in ("ingestr", "sling-linux-amd64", "dlt", "SQLAlchemy")
    }
