"""A virtual environment built once from a fully pinned requirements file, reused until it changes.

Heavy peer tools (the emulator's independent clients, the bench's other contenders) live in
their own environments under ``.run/`` so that their dependencies never meet the project's.
A stamp holding the requirements' hash marks a finished build, so an interrupted build is redone
and an edit of the pins rebuilds; a file lock keeps two processes from building at once; a
failed build raises, so whatever needs the environment fails, never skips.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BUILD_TIMEOUT_S = 900


class PinnedVenvError(RuntimeError):
    """The environment could not be built (the message says which step failed)."""


@dataclass(frozen=True)
class PinnedVenv:
    venv: Path
    requirements: Path
    label: str  # for messages: "the peer clients", "the bench contenders"

    @property
    def stamp(self) -> Path:
        return self.venv / ".requirements-sha256"

    def python(self) -> Path:
        """The environment's interpreter, building the environment first if needed."""
        python = self.venv / "bin" / "python"
        wanted = hashlib.sha256(self.requirements.read_bytes()).hexdigest()
        self.venv.parent.mkdir(parents=True, exist_ok=True)
        with open(self.venv.parent / f".{self.venv.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.stamp.exists() and self.stamp.read_text() == wanted and python.exists():
                return python
            shutil.rmtree(self.venv, ignore_errors=True)
            # The base interpreter, not the project's venv: this environment shares nothing with it.
            base = getattr(sys, "_base_executable", sys.executable)
            self._run([base, "-m", "venv", str(self.venv)], f"creating the venv of {self.label}")
            self._run(
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--no-deps", "-r", str(self.requirements)],
                f"installing {self.requirements.name} for {self.label}",
            )  # fmt: skip
            self._run([str(python), "-m", "pip", "check"], f"checking the dependencies of {self.label}")
            self.stamp.write_text(wanted)
        return python

    def shipped_binary(self, pattern: str, package: str) -> Path:
        """A binary a wheel ships inside the environment (glob ``pattern`` below the venv)."""
        self.python()
        found = sorted(self.venv.glob(pattern))
        if not found:
            raise PinnedVenvError(f"no {package} binary under {self.venv} (is {package} installed?)")
        return found[0]

    @staticmethod
    def _run(command: list[str], step: str) -> None:
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise PinnedVenvError(f"{step} timed out after {BUILD_TIMEOUT_S} s") from exc
        if result.returncode != 0:
            raise PinnedVenvError(
                f"{step} failed (exit {result.returncode}): {' '.join(command)}\n"
                f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
