"""Shared pieces of the launch benchmarks: the stack as a subprocess, users, on-the-wire clocks.

``nfdi-launcher stack`` is started the way the README says (a subprocess with its own state
directory); the bench talks to it like a person's browser or script would: a user with a
token, ``GET /services/launcher/build/...`` as an event stream. Every time is wall-clock
(``time.time()``) so it can be put next to the hub's log lines of the same host.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import yaml

VENV_BIN = Path(sys.executable).parent
BASE = "local/jupyter-base:6.1.1"
NOTEBOOK = ('{"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["%s"]}], '
            '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}')


def say(bench: str, msg: str) -> None:
    print(f"[bench/{bench}] {msg}", file=sys.stderr, flush=True)


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10, method="inclusive")[-1] if len(xs) > 1 else median(xs)


def scenarios(root: Path, nonce: str, names: list[str]) -> Path:
    """One git scenario per name: a Dockerfile repo on the local base with its own content
    (a salted notebook), so each is an image no earlier run has built."""
    for name in names:
        spec = {"head": "main", "commits": [{"message": name, "files": {
            "binder/Dockerfile": f"FROM {BASE}\nCOPY --chown=1000:1000 . /home/jovyan/\n",
            "index.ipynb": NOTEBOOK % f"{name} {nonce}"}}]}
        (root / name).mkdir(parents=True)
        (root / name / "scenario.yaml").write_text(yaml.safe_dump(spec))
    return root


@dataclass
class Stack:
    """A running ``nfdi-launcher stack``."""

    state: Path
    proc: subprocess.Popen[bytes]
    url: str  # public hub URL, ending in /
    registry: str  # http://127.0.0.1:<port>
    up_seconds: float

    @property
    def token(self) -> str:  # the launcher service's token: admin:users, tokens
        return (self.state / "launcher-token").read_text().strip()

    def api(self, method: str, path: str, **kw: Any) -> requests.Response:
        return requests.request(method, self.url + "hub/api" + path, timeout=60,
                                headers={"Authorization": f"token {self.token}"}, **kw)

    def new_user(self, name: str) -> str:
        """Create *name* (as logging in would) and return a token of that user."""
        r = self.api("POST", f"/users/{name}")
        assert r.status_code in (201, 409), r.text
        r = self.api("POST", f"/users/{name}/tokens", json={"note": "bench"})
        assert r.status_code in (200, 201), r.text
        return str(r.json()["token"])

    def remove_user(self, name: str, timeout: float = 120) -> None:
        """Stop every server of *name*, then delete the user."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.api("GET", f"/users/{name}")
            if r.status_code == 404:
                return
            servers = r.json().get("servers", {})
            for server, info in servers.items():
                if not info.get("stopped") and info.get("pending") != "stop":
                    self.api("DELETE", f"/users/{name}/servers/{server}", json={"remove": True})
            if not servers and self.api("DELETE", f"/users/{name}").status_code in (204, 404):
                return
            time.sleep(0.3)
        raise TimeoutError(f"user {name} could not be removed")

    def prefix(self) -> str:
        return (self.state / "name-prefix").read_text().strip()

    def hub_log(self) -> list[str]:
        return (self.state / "jupyterhub.log").read_text(errors="replace").splitlines()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=180)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        leftover = containers(self.prefix()) if (self.state / "name-prefix").exists() else []
        if leftover:
            subprocess.run(["docker", "rm", "-f", *leftover], capture_output=True, timeout=120)
        remove_images(self.registry.removeprefix("http://") + "/")


def remove_images(prefix: str) -> None:
    """Untag the images whose reference starts with *prefix* (this run's registry host:
    a new port per stack, so only what this run built or tagged)."""
    out = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
                         capture_output=True, text=True, timeout=60, check=False).stdout.split()
    mine = [ref for ref in out if ref.startswith(prefix)]
    if mine:
        subprocess.run(["docker", "rmi", *mine], capture_output=True, timeout=300)


def start_stack(state: Path, env: dict[str, str], timeout: float = 240) -> Stack:
    """``nfdi-launcher stack --port 0 --state-dir <state>``; returns once the URL is printed."""
    state.mkdir(parents=True, exist_ok=True)
    out = state.parent / f"{state.name}.out"
    started = time.monotonic()
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            [str(VENV_BIN / "nfdi-launcher"), "stack", "--port", "0", "--state-dir", str(state)],
            stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **env, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"})
    while time.monotonic() - started < timeout:
        text = out.read_text(errors="replace")
        m = re.search(r"stack is up: (http://127\.0\.0\.1:\d+/)", text)
        reg = re.search(r"registry: (http://127\.0\.0\.1:\d+)", text)
        if m and reg:
            return Stack(state, proc, m.group(1), reg.group(1), time.monotonic() - started)
        if proc.poll() is not None:
            raise RuntimeError(f"stack exited {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    raise TimeoutError(f"the stack did not come up within {timeout} s")


@dataclass
class Stream:
    """One event stream as it came over the wire (wall-clock seconds)."""

    sent: float
    first_byte: float = 0.0
    status: int = 0
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def at(self, predicate: Any) -> float | None:
        return next((t for t, ev in self.events if predicate(ev)), None)

    @property
    def last(self) -> dict[str, Any]:
        return self.events[-1][1] if self.events else {}


async def _read_chunked(reader: asyncio.StreamReader) -> Any:
    """Yield the body chunks of a chunked HTTP/1.1 response as they arrive."""
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        data = await reader.readexactly(size)
        await reader.readexactly(2)
        yield data


def launcher_done(event: dict[str, Any]) -> bool:
    return event.get("phase") in ("ready", "failed")


def hub_done(event: dict[str, Any]) -> bool:
    return bool(event.get("ready") or event.get("failed"))


async def event_stream(url: str, headers: dict[str, str], timeout: float = 600,
                       done: Callable[[dict[str, Any]], bool] = launcher_done) -> Stream:
    """GET an SSE URL over a raw socket, timing the first byte and every event, until an
    event for which *done* is true."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    stream = Stream(sent=time.time())
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream"
                 f"\r\n{head}Connection: close\r\n\r\n".encode())
    try:
        async with asyncio.timeout(timeout):
            await writer.drain()
            status_line = await reader.readline()
            stream.first_byte = time.time()
            stream.status = int(status_line.split()[1])
            chunked = False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                chunked |= line.lower().startswith(b"transfer-encoding: chunked")
            body = _read_chunked(reader) if chunked else _read_plain(reader)
            buf = b""
            async for chunk in body:
                now = time.time()
                buf += chunk
                while b"\n\n" in buf:
                    block, buf = buf.split(b"\n\n", 1)
                    for line in block.decode("utf-8", "replace").splitlines():
                        if line.startswith("data:"):
                            event = json.loads(line[5:])
                            stream.events.append((now, event))
                            if done(event):
                                return stream
    finally:
        writer.close()
    return stream


async def _read_plain(reader: asyncio.StreamReader) -> Any:
    while chunk := await reader.read(65536):
        yield chunk


def build_url(stack: Stack, public_repo: str, sha: str, system: str = "local-small",
              flavor: str = "small") -> str:
    return (f"{stack.url}services/launcher/build/git/{quote(public_repo, safe='')}/{sha}"
            f"?system={system}&flavor={flavor}")


async def first_status(url: str, token: str, timeout: float = 30) -> float:
    """Wall-clock time of the first ``200`` from ``<server url>api/status``."""
    deadline = time.monotonic() + timeout
    while True:
        r = await asyncio.to_thread(requests.get, url.split("?")[0].rstrip("/") + "/api/status",
                                    headers={"Authorization": f"token {token}"}, timeout=10)
        if r.status_code == 200:
            return time.time()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}api/status answered {r.status_code}")
        await asyncio.sleep(0.005)


def containers(prefix: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=^{prefix}"],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.split()


def _docker_time(stamp: str) -> float:
    """RFC 3339 with nanoseconds (Docker's) -> epoch seconds."""
    main, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(main + "+00:00").timestamp() + float("0." + (frac or "0"))


def start_to_listen(container: str) -> float:
    """Container start -> the server's "is running at" log line, in seconds (the limit)."""
    started = subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", container],
                             capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    logs = subprocess.run(["docker", "logs", "--timestamps", container], capture_output=True,
                          text=True, timeout=60, check=True)
    for line in (logs.stdout + logs.stderr).splitlines():
        if "is running at" in line:
            return _docker_time(line.split(" ", 1)[0]) - _docker_time(started)
    raise RuntimeError(f"{container}: no 'is running at' line in its log")


_HUB_LINE = re.compile(r"\[\w (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) .*?\] (\d{3}) (\w+) (\S+) "
                       r".*? ([0-9.]+)ms$")


def hub_requests(lines: list[str], method: str, path_re: str) -> list[tuple[float, float]]:
    """(arrival, completion) wall-clock times of the hub's access-log lines for *method*
    on paths matching *path_re* (JupyterHub logs completion time and duration)."""
    found = []
    for line in lines:
        m = _HUB_LINE.search(line)
        if m and m.group(3) == method and re.fullmatch(path_re, m.group(4).split("?")[0]):
            done = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            found.append((done - float(m.group(5)) / 1000, done))
    return found
