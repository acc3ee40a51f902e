"""The peer clients' virtual environment: built once from requirements.txt, reused until it changes.

    python = peer_python()   # .run/peer-venv/bin/python, built on first use (about a minute)

Built by devtools.pinned_venv: failing to build raises, so the tests that need a client fail,
never skip.
"""

from __future__ import annotations

import pathlib

from devtools.pinned_venv import PinnedVenv

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
REQUIREMENTS = pathlib.Path(__file__).with_name("requirements.txt")
VENV = REPO_ROOT / ".run" / "peer-venv"
ENVIRONMENT = PinnedVenv(VENV, REQUIREMENTS, "the peer clients")


def peer_python() -> pathlib.Path:
    """The peer environment's interpreter, building the environment first if needed."""
    return ENVIRONMENT.python()


def sling_binary() -> pathlib.Path:
    """The sling CLI shipped inside the sling-linux-amd64 wheel."""
    return ENVIRONMENT.shipped_binary(
        "lib/python*/site-packages/sling_linux_amd64/bin/sling-linux-amd64", "sling-linux-amd64"
    )
