"""Helpers for the status page tests."""

from __future__ import annotations

import sys

import psycopg

from tests.conftest import REPO_ROOT

PLUGINS_DIR = REPO_ROOT / "plugins"


def sync_status_package() -> None:
    """Make ``sync_status`` importable as Airflow does: the plugins folder on ``sys.path``."""
    if str(PLUGINS_DIR) not in sys.path:
        sys.path.append(str(PLUGINS_DIR))


def shift_history(dsn: str, minutes: int, target: str = "public.open_orders") -> None:
    """Move every attempt of ``target`` ``minutes`` into the past, as if time had passed."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE table_sync.history SET started_at = started_at - make_interval(mins => %s), "
            "finished_at = finished_at - make_interval(mins => %s) WHERE target_table = %s",
            (minutes, minutes, target),
        )
