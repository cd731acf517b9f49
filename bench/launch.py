"""Benchmark: launches through ``nfdi-launcher stack``, timed on the wire (issue 16).

Starts the stack as the README does (a subprocess, fresh state directory, repositories on a
local git server reached through ``NFDI_LAUNCHER_URL_REWRITES``, each salted so no earlier
run built it), and a user with a token per launch, like a person who logged in:

1. ``first_launch_fresh_stack_s``: the first launch of a new repository on the fresh stack
   (build + push + start), request -> ``ready``; ``cold_launch_s``: another new repository,
   registry warm. Goal: first <= 1.5 x cold (no base-image push on a first launch).
2. Cached launches, ``--pairs`` (15) alternating pairs, a NEW user each: A through the
   launcher, D the same image started directly through the stack's hub REST API.
   ``cached_launch_ratio`` = median of A_i/D_i. From A, on the wire: request -> first byte
   (``first_byte_ms``), -> the spawn POST's arrival at the hub (hub access log,
   ``spawn_post_ms``), -> "Server requested" (``server_requested_ms``, goal <= 50), and
   ``ready`` -> first ``/api/status`` 200 through the proxy (``ready_to_status_ms``).
   Also the delay from the hub receiving an Outpost progress event to its arrival at the
   client (``outpost_event_relay_ms``): the OutpostSpawner's 1 s tick, see docs.
3. Burst: ``--burst`` (8) users launch one unbuilt ref at once on flavor ``small`` (room for
   8); builds (the registry's manifest PUTs), failures, time to all ready, against the floor
   of as many concurrent direct hub starts of the built image. Goals: 1 build, ratio <= 1.1.
4. ``rss_mb_500_streams``: launcher memory with 500 open streams (``--no-rss`` skips it).

Progress on stderr (``BENCH_DEBUG=1``: every event of every launch); the last stdout line is one JSON object. About 6 min on an idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._rss import rss_run  # noqa: E402
from bench._stack import (  # noqa: E402
    Stack,
    Stream,
    build_url,
    event_stream,
    first_status,
    hub_done,
    hub_requests,
    load,
    median,
    say,
    scenarios,
    start_stack,
)
from launcher.handoff.base import spawn_reference  # noqa: E402
from tests.harness.gitserver import GitServer  # noqa: E402

REPOS = ["first", "cold", "cached", "burst", "rss"]


def log(msg: str) -> None:
    say("launch", msg)


def public(name: str) -> str:
    return f"https://git.example.org/bench-{name}"


def ms(seconds: float | None) -> float:
    return round(seconds * 1000, 1) if seconds is not None else float("nan")


async def launch(stack: Stack, repo: str, sha: str, user: str) -> dict[str, Any]:
    """One launch by a new user through the launcher; its on-the-wire times (seconds)."""
    token = await asyncio.to_thread(stack.new_user, user)
    stream = await event_stream(build_url(stack, public(repo), sha),
                                {"Authorization": f"token {token}"})
    ready = stream.last
    assert ready.get("phase") == "ready", stream.events[-3:]
    if os.environ.get("BENCH_DEBUG"):
        for t, ev in stream.events:
            log(f"  {user} +{t - stream.sent:7.3f} s {ev.get('phase')}: "
                f"{str(ev.get('message', '')).strip()[:90]}")
    t_ready = stream.events[-1][0]
    t_status = await first_status(ready["url"], ready["token"])
    lines = await asyncio.to_thread(stack.hub_log)
    spawn = hub_requests(lines, "POST", rf"/hub/api/users/{user}/servers/[^/]+")
    posted = hub_requests(lines, "POST", rf"/hub/api/users/progress/events/{user}/[^/]+")
    relayed = [t for t, ev in stream.events if str(ev.get("message", "")).startswith("Outpost:")]
    return {
        "total": t_ready - stream.sent,
        "built": _since(stream, lambda ev: ev.get("phase") == "built"),
        "first_byte": stream.first_byte - stream.sent,
        "spawn_post": spawn[0][0] - stream.sent if spawn else None,
        "server_requested": _since(stream, lambda ev: "Server requested" in str(ev.get("message"))),
        "ready_to_status": t_status - t_ready,
        # hub got the Outpost's event -> the client got it (the relay's own delay)
        "relay": [t - done for t, (_arrived, done) in zip(relayed, posted, strict=False)],
        "image": str(ready["image"]),
    }


def _since(stream: Stream, predicate: Any) -> float | None:
    t = stream.at(predicate)
    return t - stream.sent if t is not None else None


def direct_options(image: str) -> dict[str, Any]:
    """What the launcher sends for the stack's first system and flavor (minus provenance)."""
    image = spawn_reference(image)
    return {"service": "jupyterlab", "option": "custom", "profile": "custom", "name": "bench",
            "system": "local-small", "flavor": "small", "image": image,
            "custom": {"customimage": image}, "storage": {"localstoragepath": "/home/jovyan/work"}}


async def direct(stack: Stack, image: str, user: str) -> tuple[float, float]:
    """Start *image* through the stack's hub REST API (no launcher): (sent, ready) times."""
    await asyncio.to_thread(stack.new_user, user)
    sent = time.time()
    r = await asyncio.to_thread(stack.api, "POST", f"/users/{user}/servers/s",
                                json=direct_options(image))
    assert r.status_code in (201, 202), r.text
    stream = await event_stream(f"{stack.url}hub/api/users/{user}/servers/s/progress",
                                {"Authorization": f"token {stack.token}"}, done=hub_done)
    assert stream.last.get("ready"), stream.events[-3:]
    return sent, stream.events[-1][0]


async def remove_users(stack: Stack, users: list[str]) -> None:
    await asyncio.gather(*(asyncio.to_thread(stack.remove_user, u) for u in users))


def manifest_puts(stack: Stack, image: str) -> int:
    """How many times the image's repository got a manifest pushed (= builds)."""
    repo = image.split("@")[0].rsplit(":", 1)[0].split("/", 1)[1]
    text = (stack.state / "registry.log").read_text(errors="replace")
    return len(re.findall(rf'"PUT /v2/{re.escape(repo)}/manifests/', text))


async def burst(stack: Stack, sha: str, n: int) -> dict[str, Any]:
    users = [f"burst{i}" for i in range(n)]
    tokens = await asyncio.gather(*(asyncio.to_thread(stack.new_user, u) for u in users))
    url = build_url(stack, public("burst"), sha)
    sent = time.time()
    streams = await asyncio.gather(*(event_stream(url, {"Authorization": f"token {t}"})
                                     for t in tokens))
    ok = [s for s in streams if s.last.get("phase") == "ready"]
    result: dict[str, Any] = {"failures": n - len(ok)}
    result["all_ready"] = max(s.events[-1][0] for s in ok) - sent if ok else float("nan")
    image = ok[0].last["image"] if ok else ""
    result["builds"] = manifest_puts(stack, image) if image else 0
    await remove_users(stack, users)
    floor_users = [f"floor{i}" for i in range(n)]
    times = await asyncio.gather(*(direct(stack, image, u) for u in floor_users))
    result["floor"] = max(r for _s, r in times) - min(s for s, _r in times)
    await remove_users(stack, floor_users)
    return result


async def first_and_cold(stack: Stack, sha: dict[str, str]) -> dict[str, Any]:
    """The first launch of a new repository on the fresh stack, then another (cold)."""
    first = await launch(stack, "first", sha["first"], "first")
    cold = await launch(stack, "cold", sha["cold"], "cold")
    await remove_users(stack, ["first", "cold"])
    log(f"first launch {first['total']:.2f} s (built at {first['built']:.2f} s), cold "
        f"launch {cold['total']:.2f} s (built at {cold['built']:.2f} s); load {load()}")
    return {"first_launch_fresh_stack_s": round(first["total"], 2),
            "first_launch_built_s": round(first["built"], 2),
            "cold_launch_s": round(cold["total"], 2), "cold_launch_built_s": round(cold["built"], 2)}


async def cached_pairs(stack: Stack, sha: str, pairs: int) -> dict[str, Any]:
    """Alternating pairs: A through the launcher (timed on the wire), D directly at the hub."""
    warm = await launch(stack, "cached", sha, "warm")
    await remove_users(stack, ["warm"])
    a: list[dict[str, Any]] = []
    d: list[float] = []
    for i in range(pairs):
        for kind in ("ad" if i % 2 == 0 else "da"):
            if kind == "a":
                a.append(await launch(stack, "cached", sha, f"a{i}"))
            else:
                sent, ready = await direct(stack, warm["image"], f"d{i}")
                d.append(ready - sent)
            await remove_users(stack, [f"{kind}{i}"])
        log(f"pair {i + 1}/{pairs}: launcher {a[-1]['total']:.3f} s (first byte "
            f"{ms(a[-1]['first_byte'])} ms, Server requested "
            f"{ms(a[-1]['server_requested'])} ms), direct {d[-1]:.3f} s; load {load()}")
    relay = [r for x in a for r in x["relay"]]
    return {
        "cached_launch_ratio": round(median([x["total"] / y for x, y in zip(a, d, strict=True)]), 3),
        "cached_launch_median_s": round(median([x["total"] for x in a]), 3),
        "direct_start_median_s": round(median(d), 3),
        **{f"{k}_ms": ms(median([x[k] for x in a if x[k] is not None]))
           for k in ("first_byte", "spawn_post", "server_requested", "ready_to_status")},
        "outpost_event_relay_ms": ms(median(relay)),
        "outpost_event_relay_max_ms": ms(max(relay, default=None)),
    }


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    git = GitServer(work / "git", scenarios(work / "scenarios", secrets.token_hex(4), REPOS))
    sha = {r: git.sha(r, "refs/heads/main") for r in REPOS}
    rewrites = {k: v for r in REPOS for k, v in git.rewrite(public(r), r).items()}
    load_start = load()
    stack = await asyncio.to_thread(start_stack, work / "stack",
                                    {"NFDI_LAUNCHER_URL_REWRITES": json.dumps(rewrites)})
    out: dict[str, Any] = {"stack_up_s": round(stack.up_seconds, 2)}
    try:
        log(f"fresh stack up in {stack.up_seconds:.1f} s; first launch of a new repository")
        out.update(await first_and_cold(stack, sha))
        out.update(await cached_pairs(stack, sha["cached"], args.pairs))
        if args.burst:
            n = args.burst
            log(f"burst: {n} users, one unbuilt ref")
            b = await burst(stack, sha["burst"], n)
            log(f"burst: all ready after {b['all_ready']:.2f} s, {b['builds']} build(s), "
                f"{b['failures']} failure(s); floor {b['floor']:.2f} s; load {load()}")
            out.update({f"burst{n}_all_ready_s": round(b["all_ready"], 2),
                        f"burst{n}_floor_s": round(b["floor"], 2),
                        f"burst{n}_all_ready_ratio": round(b["all_ready"] / b["floor"], 3),
                        f"burst{n}_builds": b["builds"], f"burst{n}_failures": b["failures"]})
    finally:
        stack.stop()
    if not args.no_rss:
        spec = f"{quote(public('rss'), safe='')}/{sha['rss']}"
        idle, rss = await rss_run(rewrites, spec, work, 500)
        log(f"launcher RSS: {idle:.1f} MB with 1 stream, {rss:.1f} MB with 500")
        out["rss_mb_500_streams"] = round(rss, 1)
    git.close()
    out["load_start_end"] = [load_start, load()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=15, help="cached launch pairs (15)")
    parser.add_argument("--burst", type=int, default=8, help="users in the burst (8; 0: none)")
    parser.add_argument("--no-rss", action="store_true", help="skip the 500-stream memory run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
