"""Fixtures for resolver tests: a Resolution wired to the replay server and the git server."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from fdo.net import HttpClient, NetConfig
from fdo.resolve import Resolution
from tests.harness.replay import FIXTURES, REWRITTEN_HOSTS, ReplayServer


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def replay_client(replay: ReplayServer, *, extra_hosts: tuple[str, ...] = (), **config: Any) -> HttpClient:
    """An HttpClient whose known hosts (plus ``extra_hosts``) go to the replay server;
    retries do not wait. Keyword arguments are NetConfig traits."""
    cfg = NetConfig(url_rewrites=replay.rewrites((*REWRITTEN_HOSTS, *extra_hosts)),
                    **{"retry_backoff": 0.0, **config})
    http = HttpClient(cfg)
    http.sleep = lambda s: None
    return http


@pytest.fixture
def resolution(rewrites_env: dict[str, str]) -> Callable[..., Resolution]:
    """Factory; call it after adding rewrites. Keyword args become ``c.<Class>.<trait>``."""

    def make(**traits: dict[str, Any]) -> Resolution:
        config = Config()
        for cls, values in traits.items():
            for key, value in values.items():
                config[cls][key] = value
        return Resolution(config)

    return make


@pytest.fixture
def nothing_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty cwd; tests assert it stays empty."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def no_dns_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Guard for resolver tests: a lookup of any name but a loopback literal fails the test.

    Everything these tests reach is rewritten to 127.0.0.1, so a DNS query means the code
    (or the test) would have sent a packet off this machine; it is blocked before it is sent.
    """
    real = socket.getaddrinfo
    asked: list[str] = []

    def guarded(host: Any, *args: Any, **kw: Any) -> Any:
        if str(host) not in ("127.0.0.1", "::1"):
            asked.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, "name lookups are blocked in this test")
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield asked
    assert asked == [], f"the code under test tried to resolve {asked}"
