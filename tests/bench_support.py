"""Running a bench session as `make bench` does, into a test's own folder (never docs/)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT


def run_bench_session(out: Path, *arguments: str, timeout: float) -> tuple[dict[str, Path], dict]:
    """``python -m bench <arguments>`` writing results, report and chart under ``out``."""
    paths = {
        "results": out / "results.json",
        "report": out / "benchmarks.md",
        "chart": out / "images" / "bench-rows-per-second.png",
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            *arguments,
            *(arg for name, path in paths.items() for arg in (f"--{name}", str(path))),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return paths, json.loads(paths["results"].read_text())
