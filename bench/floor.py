"""Benchmark: a cached launch through the stack vs. the hub's own start vs. the container.

In one run, in alternating pairs (order flipped every pair), each with a new user:

A. the cached launch through ``nfdi-launcher stack`` (a subprocess, as the README starts it):
   ``GET /services/launcher/build/git/...`` -> the ``ready`` event, on the wire;
B. the same image through a JupyterHub with plain DockerSpawner (same machine, host
   network): ``POST /users/<u>/servers/<s>`` -> ``ready`` on its ``/progress`` stream;
C. the limit: the container's start (``State.StartedAt``) -> the server's "is running at"
   log line (``docker logs --timestamps``), for A's and B's containers.

Last stdout line: ``{"launch_vs_dockerspawner": median of A_i/B_i, "launch_vs_limit": median
of A_i/C_i (A's own container), "launch_median_s", "launch_p90_s", ...}``. Goals (issue 19):
launch_vs_dockerspawner <= 0.8, launch_vs_limit <= 1.3, p90 <= 1.5 x median.

``--pairs N`` (default 15) for shorter smoke runs. About 15 s a pair on an idle 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._stack import (  # noqa: E402
    Stack,
    build_url,
    containers,
    event_stream,
    hub_done,
    load,
    median,
    p90,
    say,
    scenarios,
    start_stack,
    start_to_listen,
)
from tests.harness.gitserver import GitServer  # noqa: E402
from tests.harness.hub import Hub, start_hub  # noqa: E402

PUBLIC = "https://git.example.org/bench-floor"


def log(msg: str) -> None:
    say("floor", msg)


async def launch_a(stack: Stack, sha: str, user: str) -> tuple[float, float, str]:
    """A: (seconds to ready, container start -> listening, image) for a new user."""
    token = await asyncio.to_thread(stack.new_user, user)
    stream = await event_stream(build_url(stack, PUBLIC, sha),
                                {"Authorization": f"token {token}"})
    ready = stream.last
    assert ready.get("phase") == "ready", stream.events[-3:]
    elapsed = stream.events[-1][0] - stream.sent
    (container,) = await asyncio.to_thread(containers, stack.prefix())
    limit = await asyncio.to_thread(start_to_listen, container)
    await asyncio.to_thread(stack.remove_user, user)
    return elapsed, limit, str(ready["image"])


async def launch_b(hub: Hub, image: str, user: str) -> tuple[float, float]:
    """B: (seconds to ready, container start -> listening) through plain DockerSpawner."""
    await asyncio.to_thread(hub.ensure_user, user)
    headers = {"Authorization": f"token {hub.token}"}
    sent = time.time()
    r = await asyncio.to_thread(hub.api, "POST", f"/users/{user}/servers/s", {"image": image})
    assert r.status_code in (201, 202), r.text
    stream = await event_stream(f"{hub.api_url}/users/{user}/servers/s/progress", headers,
                                done=hub_done)
    assert stream.last.get("ready"), stream.events[-3:]
    elapsed = stream.events[-1][0] - sent
    (container,) = await asyncio.to_thread(containers, f"nfdi-test-hub-{hub.hub_id}-")
    limit = await asyncio.to_thread(start_to_listen, container)
    await asyncio.to_thread(hub.stop_server, user, "s")
    await asyncio.to_thread(hub.api, "DELETE", f"/users/{user}")
    return elapsed, limit


async def run(pairs: int, work: Path) -> dict[str, Any]:
    nonce = secrets.token_hex(4)
    git = GitServer(work / "git", scenarios(work / "scenarios", nonce, ["floor"]))
    sha = git.sha("floor", "refs/heads/main")
    env = {"NFDI_LAUNCHER_URL_REWRITES": json.dumps(git.rewrite(PUBLIC, "floor"))}
    stack = await asyncio.to_thread(start_stack, work / "stack", env)
    hub = await asyncio.to_thread(start_hub, work / "hub")
    a: list[float] = []
    b: list[float] = []
    c_a: list[float] = []
    c_b: list[float] = []
    loads = [load()]
    try:
        log(f"stack up in {stack.up_seconds:.1f} s at {stack.url}; warm-up (build + one each)")
        _t, _c, image = await launch_a(stack, sha, "warm-a")
        await launch_b(hub, image, "warm-b")
        for i in range(pairs):
            for kind in (("a", "b") if i % 2 == 0 else ("b", "a")):
                if kind == "a":
                    t, lim = (await launch_a(stack, sha, f"a{i}"))[:2]
                    a.append(t)
                    c_a.append(lim)
                else:
                    t, lim = await launch_b(hub, image, f"b{i}")
                    b.append(t)
                    c_b.append(lim)
            loads.append(load())
            log(f"pair {i + 1}/{pairs}: A {a[-1]:.3f} s (container {c_a[-1]:.3f} s), "
                f"B {b[-1]:.3f} s (container {c_b[-1]:.3f} s); load {loads[-1]}")
    finally:
        hub.stop()
        stack.stop()
        git.close()
    return {
        "launch_vs_dockerspawner": round(median([x / y for x, y in zip(a, b, strict=True)]), 3),
        "launch_vs_limit": round(median([x / y for x, y in zip(a, c_a, strict=True)]), 3),
        "launch_median_s": round(median(a), 3),
        "launch_p90_s": round(p90(a), 3),
        "dockerspawner_median_s": round(median(b), 3),
        "dockerspawner_p90_s": round(p90(b), 3),
        "limit_median_s": round(median(c_a + c_b), 3),
        "limit_launch_median_s": round(median(c_a), 3),
        "limit_dockerspawner_median_s": round(median(c_b), 3),
        "pairs": len(a),
        "load_start_end": [loads[0], loads[-1]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=15, help="alternating A/B pairs (15)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        result = asyncio.run(run(args.pairs, Path(tmp)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
