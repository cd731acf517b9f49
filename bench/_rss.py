"""Launcher memory with many open event streams (part of bench/launch.py).

A separate ``nfdi-launcher serve`` process (no registry: images in the local engine) gets
*streams* ``/build/`` event streams for one image, each parked on a "hub" that accepts
connections and never answers; its VmRSS is read from /proc.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from jupyterhub.utils import random_port

VENV_BIN = Path(sys.executable).parent
PREFIX = "local/nfdi-launcher-bench/"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def open_stream(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def wait_launching(reader: asyncio.StreamReader) -> bytes:
    data = b""
    while b"Launching server" not in data:  # emitted before the first hub API call
        chunk = await reader.read(4096)
        if not chunk:
            raise RuntimeError(f"stream closed early: {data[-300:]!r}")
        data += chunk
    return data


async def rss_run(rewrites: dict[str, str], spec: str, workdir: Path,
                  streams: int) -> tuple[float, float]:
    """(MB with one stream, MB with *streams* streams) of the launcher process."""
    parked: list[asyncio.StreamWriter] = []

    async def silent(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        parked.append(w)  # accept, never answer: a hub that hangs

    hub_server = await asyncio.start_server(silent, "127.0.0.1", 0, backlog=1024)
    hub_port = hub_server.sockets[0].getsockname()[1]
    port = random_port()
    cfg = workdir / "nfdi_launcher_config.py"
    cfg.write_text("\n".join([
        f"c.LauncherConfig.hub_url = 'http://127.0.0.1:{hub_port}/'",
        "c.HubClient.api_token = 'bench'",
        "c.Admission.rate_limit = 0",
        "c.HubClient.request_timeout = 600.0",
        f"c.BuildManager.image_prefix = {PREFIX!r}",
        f"c.BuildManager.state_dir = {str(workdir / 'builds')!r}",
    ]) + "\n")
    env = {**os.environ, "NFDI_LAUNCHER_URL_REWRITES": json.dumps(rewrites)}
    with (workdir / "launcher.log").open("wb") as log:
        proc = subprocess.Popen([str(VENV_BIN / "nfdi-launcher"), "serve", "--config", str(cfg),
                                 "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                stderr=log)
    writers: list[asyncio.StreamWriter] = []
    image = ""
    try:
        for _ in range(200):
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        path = "/build/git/" + spec
        reader, writer = await open_stream(port, path)  # the first one builds the image
        writers.append(writer)
        first = await asyncio.wait_for(wait_launching(reader), 300)
        built = re.search(rb'"imageName": "([^"]+)"', first)
        image = built.group(1).decode() if built else ""
        idle = rss_mb(proc.pid)
        for start in range(1, streams, 50):
            batch = [await open_stream(port, path) for _ in range(min(50, streams - start))]
            writers.extend(w for _r, w in batch)
            await asyncio.wait_for(asyncio.gather(*(wait_launching(r) for r, _w in batch)), 300)
        await asyncio.sleep(1)
        return idle, rss_mb(proc.pid)
    finally:
        for w in writers + parked:
            w.close()
        proc.terminate()
        proc.wait(timeout=30)
        hub_server.close()
        if image:  # built by this run (its repository is salted)
            subprocess.run(["docker", "rmi", image], capture_output=True, timeout=120)
