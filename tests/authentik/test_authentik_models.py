"""Answers that leave out what we would write from are errors, never empty defaults."""

from __future__ import annotations

import pytest

from gitops_lifecycle.authentik.client import _convert
from gitops_lifecycle.authentik.errors import AuthentikError
from gitops_lifecycle.authentik.models import Outpost, Pagination


def test_outpost_without_providers_is_not_an_empty_outpost() -> None:
    with pytest.raises(AuthentikError):
        _convert({"pk": "o1", "name": "embedded"}, Outpost)
    assert _convert({"pk": "o1", "name": "e", "providers": []}, Outpost).providers == []


def test_page_that_does_not_say_next_is_not_the_last_page() -> None:
    with pytest.raises(AuthentikError):
        _convert({"count": 300}, Pagination)
    assert _convert({"next": 0}, Pagination).next == 0
