"""The services as an outsider meets them: ``nfdi-launcher serve`` and ``nfdi-launcher
outpost`` as processes on loopback, logging at DEBUG into files the tests read.

Fixtures:

- ``launcher_factory(*config_lines, env=None, base_url="/services/launcher/")`` -> a
  :class:`LauncherProc` (stopped at the end of the test module);
- ``guarded``: a launcher whose every outbound lookup would reach the ``canary`` (so a
  test can assert that a refused request looked nothing up), with the bans of issue 10;
- ``outpost_factory`` (from ``tests/outpost``): real Outposts with two hubs.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from tests.harness.canary import Canary
from tests.harness.hub import wait_for
from tests.harness.launcher import LauncherProc, start_launcher
from tests.outpost.conftest import outpost_factory  # noqa: F401 -- a fixture for these tests

#: the bans of issue 10, finding 1
BANS = [r"^doi/10\.5281/zenodo\.666", r"^gh/evil-org/"]


@pytest.fixture(scope="module")
def launcher_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LauncherProc]]:
    made: list[LauncherProc] = []

    def make(*lines: str, env: dict[str, str] | None = None,
             base_url: str = "/services/launcher/") -> LauncherProc:
        proc = start_launcher(tmp_path_factory.mktemp("launcher"), list(lines), env, base_url)
        made.append(proc)
        return proc

    yield make
    for proc in made:
        proc.stop()


@pytest.fixture(scope="module")
def module_canary() -> Iterator[Canary]:
    c = Canary()
    yield c
    c.close()


def to_canary(canary: Canary) -> dict[str, str]:
    """Environment that sends every host a resolver could ask to *canary*."""
    hosts = ["https://doi.org/", "https://api.datacite.org/", "https://api.crossref.org/",
             "https://zenodo.org/", "https://github.com/", "https://api.github.com/",
             "https://hdl.handle.net/", "https://gitlab.com/"]
    rewrites = {h: canary.url + "/" + h.split("//")[1] for h in hosts}
    return {"NFDI_LAUNCHER_URL_REWRITES": json.dumps(rewrites)}


@pytest.fixture(scope="module")
def guarded(launcher_factory: Callable[..., LauncherProc], module_canary: Canary) -> LauncherProc:
    """Bans of issue 10; every host a resolver could ask is rewritten to the canary."""
    return launcher_factory(f"c.Admission.banned_specs = {BANS!r}", "c.Admission.rate_limit = 0",
                            env=to_canary(module_canary))


def raw_request(port: int, data: bytes, read_timeout: float = 10.0) -> bytes:
    """Send *data* on a fresh connection; what the server answers before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        deadline = time.monotonic() + read_timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            out += chunk
        return out


def wait_rss_settled(read: Callable[[], float]) -> float:
    """RSS after the process is idle again (two equal readings 0.2 s apart)."""
    last = read()
    for _ in range(20):
        time.sleep(0.2)
        now = read()
        if abs(now - last) < 0.5:
            return now
        last = now
    return last


__all__ = ["BANS", "LauncherProc", "raw_request", "start_launcher", "to_canary", "wait_for",
           "wait_rss_settled"]
