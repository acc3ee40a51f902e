"""The other contenders' environment: built once from requirements-contenders.txt, reused until it changes.

    python = contenders_python()   # .run/bench-venv/bin/python, built on first use
    ingestr_binary(), sling_binary()  # the CLIs shipped inside their wheels

Built by devtools.pinned_venv, like the peer clients' environment: a failed build raises, so
the harness records the contenders that need it as failed, never skipped.
"""

from __future__ import annotations

from pathlib import Path

from devtools.pinned_venv import PinnedVenv

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = Path(__file__).with_name("requirements-contenders.txt")
VENV = REPO_ROOT / ".run" / "bench-venv"
ENVIRONMENT = PinnedVenv(VENV, REQUIREMENTS, "the bench contenders")


def contenders_python() -> Path:
    """The environment's interpreter, building the environment first if needed."""
    return ENVIRONMENT.python()


def _shipped_binary(pattern: str, package: str) -> Path:
    return ENVIRONMENT.shipped_binary(pattern, package)


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
