"""Fixtures of the `wait` tests against real servers."""

from __future__ import annotations

import pytest

from tests.retry.services import free_port


@pytest.fixture
def port() -> int:
    """A free loopback port for the server under test (which may not be up yet)."""
    return free_port()
