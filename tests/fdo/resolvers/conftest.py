"""Every resolver test runs with name lookups blocked except for loopback literals."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_dns(no_dns_beyond_loopback: list[str]) -> None:
    pass
