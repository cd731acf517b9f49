"""``nfdi-launcher serve`` as a process, the way an operator runs it, for end-to-end tests.

:func:`start_launcher` writes a config file (the given lines after a few test defaults:
its own state directory), starts ``nfdi-launcher serve --port 0
--debug`` with its log in a file, and returns once it printed its URL. A
:class:`LauncherProc` reads and streams its endpoints, knows its pid (RSS, kill) and can be
started again on the same config and state (:meth:`LauncherProc.restart`), as after a crash.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.harness.hub import VENV_BIN


@dataclass
class LauncherProc:
    proc: subprocess.Popen[bytes]
    url: str  # ends with the base URL
    log_path: Path
    config: Path
    env: dict[str, str] = field(default_factory=dict)
    starts: int = 1

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
        """The events of an event stream (the launcher closes it right after ready or failed)."""
        headers = {"Accept": "text/event-stream", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        r = self.get(path, headers=headers, **kwargs)
        return [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]

    def kill(self) -> None:
        """SIGKILL: no cleanup code of the launcher runs (a crash, an OOM kill)."""
        self.proc.kill()
        self.proc.wait(10)

    def restart(self) -> None:
        """Start it again on the same config and state (its port may change)."""
        self.stop()
        again = _spawn(self.config, self.env, self.log_path.with_name(f"launcher-{self.starts}.log"))
        self.proc, self.url, self.log_path = again.proc, again.url, again.log_path
        self.starts += 1

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
    """Write the config into *workdir* and start the launcher on it."""
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "nfdi_launcher_config.py"
    cfg.write_text("\n".join([
        f"c.LauncherConfig.base_url = {base_url!r}",
        f"c.LauncherConfig.state_dir = {str(workdir / 'state')!r}",
        "c.LauncherConfig.hub_url = 'http://127.0.0.1:9/'",  # no hub: nothing gets that far
        f"c.BuildManager.state_dir = {str(workdir / 'builds')!r}",
        *lines]) + "\n")
    return _spawn(cfg, env or {}, workdir / "launcher.log")


def _spawn(cfg: Path, env: dict[str, str], log_path: Path) -> LauncherProc:
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(VENV_BIN / "nfdi-launcher"), "serve", "--config", str(cfg), "--port", "0", "--debug"],
            stdout=subprocess.PIPE, stderr=log, start_new_session=True,
            env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", **env})
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
    return LauncherProc(proc, m.group(1), log_path, cfg, env)
