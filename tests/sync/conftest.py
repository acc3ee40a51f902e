"""Fixtures the engine-level tests share; each module seeds its own source (rows and seed)."""

from __future__ import annotations

import pytest

from tests.sync.support import open_orders_mapping


@pytest.fixture
def mapping():
    """The project's open orders mapping, as validated from the repository's file."""
    return open_orders_mapping()
