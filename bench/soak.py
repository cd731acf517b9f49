"""Soak (issue 10, R5): many open event streams for minutes, with steady launches and resolves.

Starts ``nfdi-launcher stack`` as the README does (a subprocess, its own state directory,
repositories on a local git server reached through ``NFDI_LAUNCHER_URL_REWRITES``), then:

1. warm-up: builds the "cached" repository and launches it once for user ``soak`` (the
   server keeps running), and resolves once; then reads the launcher's figures from its
   ``/metrics`` (``process_open_fds``, ``nfdi_launcher_asyncio_tasks``,
   ``process_resident_memory_bytes``): the start;
2. opens ``--streams`` (500) ``/build/...?build_only=true`` event streams that all follow
   ONE build of a "slow" repository whose Dockerfile sleeps for the soak's length, so they
   stay open (keepalives every 25 s) until the build ends and each gets ``ready``;
3. meanwhile, at a steady rate: a cached launch of the running server every
   ``--launch-every`` seconds (user ``soak``: the launcher finds the server and answers
   ``ready``), and a ``/api/v1/resolve`` every ``--resolve-every`` seconds;
4. after the streams closed and ``--settle`` seconds: the figures again, the end.

Errors: any stream, launch or resolve that does not end well (not ``ready`` / not 200,
a dropped connection, a timeout). Goals: 0 errors, fd and task growth 0 after the streams
close, RSS end <= 1.2 x start.

``--minutes`` shortens the run (the suite runs a short one, see
``tests/launcher/test_soak_short.py``). Progress on stderr; the last stdout line is one
JSON object: ``{"streams", "minutes", "errors", "fd_growth", "task_growth",
"rss_mb_start", "rss_mb_end", ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._stack import BASE, Stack, build_url, event_stream, load, say, start_stack  # noqa: E402
from tests.harness.gitserver import GitServer  # noqa: E402


def log(msg: str) -> None:
    say("soak", msg)


def public(name: str) -> str:
    return f"https://git.example.org/soak-{name}"


def write_scenarios(root: Path, nonce: str, sleep_s: int) -> Path:
    """"cached": a quick image to launch; "slow": a build that lasts the soak."""
    files = {
        "cached": {"binder/Dockerfile": f"FROM {BASE}\nRUN echo {nonce} > /tmp/soak\n"},
        "slow": {"binder/Dockerfile": f"FROM {BASE}\nRUN echo {nonce} && sleep {sleep_s}\n"},
    }
    for name, content in files.items():
        (root / name).mkdir(parents=True)
        spec = {"head": "main", "commits": [{"message": name, "files": content}]}
        (root / name / "scenario.yaml").write_text(yaml.safe_dump(spec))
    return root


@dataclass
class Tally:
    errors: list[str] = field(default_factory=list)
    launches: int = 0
    resolves: int = 0
    streams_ready: int = 0

    def error(self, what: str) -> None:
        if len(self.errors) < 20:
            log(f"error: {what}")
        self.errors.append(what)


def figures(stack: Stack) -> dict[str, float]:
    """The launcher's open fds, asyncio tasks and RSS (MB) from its /metrics."""
    text = requests.get(stack.url + "services/launcher/metrics", timeout=30).text
    wanted = {"process_open_fds": "fds", "nfdi_launcher_asyncio_tasks": "tasks",
              "process_resident_memory_bytes": "rss"}
    out: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            out[wanted[name]] = float(value)
    out["rss"] = round(out["rss"] / 2**20, 1)
    return out


async def follow(stack: Stack, url: str, token: str, tally: Tally, timeout: float) -> None:
    try:
        stream = await event_stream(url, {"Authorization": f"token {token}"}, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as err:
        tally.error(f"stream: {type(err).__name__}: {err}")
        return
    if stream.last.get("phase") == "ready":
        tally.streams_ready += 1
    else:
        tally.error(f"stream ended with {str(stream.last)[:200]}")


async def launches(stack: Stack, url: str, token: str, every: float, until: float, tally: Tally) -> None:
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            stream = await event_stream(url, {"Authorization": f"token {token}"}, timeout=120)
            if stream.last.get("phase") == "ready":
                tally.launches += 1
            else:
                tally.error(f"launch ended with {str(stream.last)[:200]}")
        except (OSError, TimeoutError, ValueError) as err:
            tally.error(f"launch: {type(err).__name__}: {err}")
        await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


async def resolves(stack: Stack, identifier: str, token: str, every: float, until: float,
                   tally: Tally) -> None:
    url = stack.url + "services/launcher/api/v1/resolve?id=" + quote(identifier, safe="")
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            r = await asyncio.to_thread(requests.get, url, timeout=60,
                                        headers={"Authorization": f"token {token}"})
            if r.status_code == 200 and r.json().get("launch_path"):
                tally.resolves += 1
            else:
                tally.error(f"resolve answered {r.status_code}: {r.text[:200]}")
        except (OSError, ValueError) as err:
            tally.error(f"resolve: {type(err).__name__}: {err}")
        await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


@dataclass
class Soak:
    """One soak against a running stack: its URLs, the user's token, what was counted."""

    stack: Stack
    token: str
    launch_url: str  # the cached image on the running server
    slow_url: str  # the build the streams follow
    tally: Tally = field(default_factory=Tally)
    loads: list[str] = field(default_factory=list)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    async def warm(self, settle: float) -> dict[str, float]:
        """Build and launch the cached image, resolve once; the launcher's figures."""
        for timeout in (600, 120):  # the build and first start, then a reuse
            stream = await event_stream(self.launch_url, self.auth(), timeout=timeout)
            assert stream.last.get("phase") == "ready", stream.events[-3:]
        r = requests.get(self.stack.url + "services/launcher/api/v1/resolve?id="
                         + quote(public("cached"), safe=""), timeout=60, headers=self.auth())
        assert r.status_code == 200, r.text
        await asyncio.sleep(settle)
        return await asyncio.to_thread(figures, self.stack)

    async def hold(self, args: argparse.Namespace, seconds: int) -> tuple[float, dict[str, float] | None]:
        """The streams and the steady launches and resolves; (minutes, half-way figures)."""
        begun = time.monotonic()
        until = begun + seconds
        streams = []
        for i in range(args.streams):
            streams.append(asyncio.ensure_future(
                follow(self.stack, self.slow_url, self.token, self.tally, seconds + 900)))
            if i % 50 == 49:
                await asyncio.sleep(0.5)  # let the first one reach the build before the crowd
        side = [asyncio.ensure_future(launches(self.stack, self.launch_url, self.token,
                                               args.launch_every, until, self.tally)),
                asyncio.ensure_future(resolves(self.stack, public("cached"), self.token,
                                               args.resolve_every, until, self.tally))]
        mid = None
        while not all(s.done() for s in streams):
            await asyncio.sleep(min(30.0, max(1.0, seconds / 4)))
            if mid is None and time.monotonic() - begun > seconds / 2:
                mid = await asyncio.to_thread(figures, self.stack)
                log(f"half-way: launcher {mid}; {self.tally.launches} launches, "
                    f"{self.tally.resolves} resolves, {len(self.tally.errors)} errors; load {load()}")
                self.loads.append(load())
        await asyncio.gather(*side)
        return (time.monotonic() - begun) / 60, mid


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    seconds = int(args.minutes * 60)
    git = GitServer(work / "git", write_scenarios(work / "scenarios", secrets.token_hex(4), seconds))
    sha = {r: git.sha(r, "refs/heads/main") for r in ("cached", "slow")}
    rewrites = {k: v for r in ("cached", "slow") for k, v in git.rewrite(public(r), r).items()}
    loads = [load()]
    stack = await asyncio.to_thread(start_stack, work / "stack",
                                    {"NFDI_LAUNCHER_URL_REWRITES": json.dumps(rewrites)})
    try:
        token = await asyncio.to_thread(stack.new_user, "soak")
        slow_url = (f"{stack.url}services/launcher/build/git/{quote(public('slow'), safe='')}/"
                    f"{sha['slow']}?build_only=true")
        soak = Soak(stack, token, build_url(stack, public("cached"), sha["cached"]), slow_url, loads=loads)
        start = await soak.warm(args.settle)
        log(f"warm: launcher {start}; opening {args.streams} streams for {args.minutes} min; load {load()}")
        minutes, mid = await soak.hold(args, seconds)
        await asyncio.sleep(args.settle)
        end = await asyncio.to_thread(figures, stack)
        tally = soak.tally
        log(f"end after {minutes:.1f} min: launcher {end}; {tally.streams_ready} streams ready, "
            f"{tally.launches} launches, {tally.resolves} resolves, {len(tally.errors)} errors; "
            f"load {load()}")
    finally:
        stack.stop()
        git.close()
    loads.append(load())
    return {
        "streams": args.streams, "minutes": args.minutes, "errors": len(tally.errors),
        "fd_growth": int(end["fds"] - start["fds"]), "task_growth": int(end["tasks"] - start["tasks"]),
        "rss_mb_start": start["rss"], "rss_mb_end": end["rss"],
        "rss_mb_half_way": (mid or {}).get("rss"), "fds_half_way": (mid or {}).get("fds"),
        "streams_ready": tally.streams_ready, "launches": tally.launches, "resolves": tally.resolves,
        "stream_minutes_measured": round(minutes, 2), "load_start_mid_end": loads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=10, help="length of the soak (10)")
    parser.add_argument("--streams", type=int, default=500, help="open event streams (500)")
    parser.add_argument("--launch-every", type=float, default=2.0, help="seconds between cached launches (2)")
    parser.add_argument("--resolve-every", type=float, default=1.0, help="seconds between resolves (1)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before each measurement (5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
