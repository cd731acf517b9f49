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
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.harness.canary import Canary
from tests.harness.hub import VENV_BIN, wait_for
from tests.outpost.conftest import outpost_factory  # noqa: F401 -- a fixture for these tests

#: the bans of issue 10, finding 1
BANS = [r"^doi/10\.5281/zenodo\.666", r"^gh/evil-org/"]


@dataclass
class LauncherProc:
    proc: subprocess.Popen[bytes]
    url: str  # ends with the base URL
    log_path: Path

    @property
    def origin(self) -> str:
        return re.match(r"^https?://[^/]+", self.url).group(0)  # type: ignore[union-attr]

    @property
    def port(self) -> int:
        return int(self.origin.rsplit(":", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def get(self, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        return requests.get(self.url + path, **kwargs)  # type: ignore[arg-type]

    def stream(self, path: str, **kwargs: object) -> list[dict[str, object]]:
        """The events of an event stream (the launcher closes it; ready_linger is short)."""
        headers = {"Accept": "text/event-stream", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        r = self.get(path, headers=headers, **kwargs)
        return [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_launcher(workdir: Path, lines: list[str], env: dict[str, str] | None = None,
                   base_url: str = "/services/launcher/") -> LauncherProc:
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "nfdi_launcher_config.py"
    cfg.write_text("\n".join([
        f"c.LauncherConfig.base_url = {base_url!r}",
        f"c.LauncherConfig.state_dir = {str(workdir / 'state')!r}",
        "c.LauncherConfig.ready_linger = 0.1",
        "c.LauncherConfig.hub_url = 'http://127.0.0.1:9/'",  # no hub: nothing gets that far
        f"c.BuildManager.state_dir = {str(workdir / 'builds')!r}",
        *lines]) + "\n")
    log_path = workdir / "launcher.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(VENV_BIN / "nfdi-launcher"), "serve", "--config", str(cfg), "--port", "0", "--debug"],
            stdout=subprocess.PIPE, stderr=log, start_new_session=True,
            env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", **(env or {})})
    assert proc.stdout is not None
    line, m = "", None
    for _ in range(20):  # the URL line comes once the sockets are bound
        line = proc.stdout.readline().decode()
        m = re.search(r"serving at (http://\S+)", line)
        if m or not line:
            break
    if not m:
        proc.kill()
        raise RuntimeError(f"launcher did not start: {line!r}\n{log_path.read_text()[-2000:]}")
    return LauncherProc(proc, m.group(1), log_path)


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
