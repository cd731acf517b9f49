"""Self-test of the canary: it records what reaches it."""

from __future__ import annotations

import urllib.request

from tests.harness.canary import Canary


def test_canary_records_a_request(canary: Canary) -> None:
    assert canary.requests == []
    with urllib.request.urlopen(f"{canary.url}/probe?x=1", timeout=5) as resp:  # noqa: S310
        assert resp.read() == b"canary"
    assert canary.requests == [("GET", "/probe?x=1")]
