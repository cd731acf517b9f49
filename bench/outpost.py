"""Benchmark: start-to-ready through OutpostSpawner -> Outpost -> DockerSpawner vs. DockerSpawner.

Starts its own services on loopback: one Outpost (``nfdi-launcher outpost``, Docker
backend), a JupyterHub whose spawner is the real OutpostSpawner pointing at it, and a
second JupyterHub whose spawner is DockerSpawner itself (the same loopback host-network
variant the Outpost uses). Both start ``local/jupyter-base:6.1.1`` with a per-user named
volume. Time = POST /users/<u>/servers/<s> until the hub's /progress stream says ready
(the proxy route is in place and the server answered the hub). After one warm-up each,
the two paths run as back-to-back pairs (order alternating). ``outpost_ratio`` is the
median of the per-pair ratios: on a shared machine the load drifts over a run, and a
pair sees the same load. The ratio of the medians and of the minimums are printed too.

Prints progress to stderr and ONE JSON object on the last stdout line.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness.hub import BASE_IMAGE, Hub, progress_events, start_hub  # noqa: E402
from tests.outpost.outpost_proc import hub_snippet, make_outpost, user_options  # noqa: E402

RUNS = 9
FLAVORS = {"flavors": {"bench": {"max": -1, "weight": 1}}}
DIRECT_VOLUME = """
c.DockerSpawner.volumes = {"nfdi-test-outpost-bench-direct-{username}": "/home/jovyan/work"}
"""


def one_start(hub: Hub, server: str, options: dict[str, Any]) -> float:
    hub.ensure_user("bench")
    t0 = time.perf_counter()
    r = hub.api("POST", f"/users/bench/servers/{server}", json=options)
    if r.status_code not in (201, 202):
        raise RuntimeError(f"spawn refused: {r.status_code} {r.text}")
    events = progress_events(hub, "bench", server)
    elapsed = time.perf_counter() - t0
    if not events or not events[-1].get("ready"):
        raise RuntimeError(f"spawn failed: {events[-1:]}\n{hub.log_tail()}")
    hub.stop_server("bench", server)
    return elapsed


_LINE = re.compile(r" (\d\d):(\d\d):(\d\d\.\d+) JupyterHub \w+:\d+\] bench:(r\d+) - "
                   r"(Start singleuser server|Start response)")


def outpost_round_trips(hub_log: Path) -> list[float]:
    """Seconds from the OutpostSpawner's POST to the Outpost's answer, per timed run."""
    seen: dict[str, dict[str, float]] = {}
    for m in _LINE.finditer(hub_log.read_text(errors="replace")):
        h, mi, sec, run, what = m.groups()
        seen.setdefault(run, {})[what] = int(h) * 3600 + int(mi) * 60 + float(sec)
    return [v["Start response"] - v["Start singleuser server"] for v in seen.values()
            if len(v) == 2]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-outpost-"))
    outpost = make_outpost(work / "outpost", flavors=FLAVORS, hubs=("bench-hub",))
    hubs: list[Hub] = []
    try:
        via = start_hub(work / "hub-outpost", spawner="outpost",
                        config=hub_snippet(outpost, "bench-hub", poll_ms=30000))
        hubs.append(via)
        direct = start_hub(work / "hub-direct", config=DIRECT_VOLUME)
        hubs.append(direct)
        paths = {"outpost": (via, user_options(flavor="bench")),
                 "direct": (direct, {"image": BASE_IMAGE})}
        times: dict[str, list[float]] = {"outpost": [], "direct": []}
        for name, (hub, options) in paths.items():
            print(f"warm-up {name}: {one_start(hub, 'warm', options):.2f} s", file=sys.stderr)
        for i in range(RUNS):
            order = list(paths) if i % 2 == 0 else list(reversed(paths))
            for name in order:
                hub, options = paths[name]
                t = one_start(hub, f"r{i}", options)
                times[name].append(t)
                print(f"run {i} {name}: {t:.2f} s", file=sys.stderr)
        round_trips = outpost_round_trips(via.log_path)
    finally:
        for hub in hubs:
            hub.stop()
        outpost.cleanup()
        import subprocess
        subprocess.run(["docker", "volume", "rm", "-f", "nfdi-test-outpost-bench-direct-bench"],
                       capture_output=True, timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    pairs = [o / d for o, d in zip(times["outpost"], times["direct"], strict=True)]
    print(json.dumps({
        "outpost_ratio": round(statistics.median(pairs), 3),
        "ratio_of_medians": round(med["outpost"] / med["direct"], 3),
        "ratio_of_minimums": round(min(times["outpost"]) / min(times["direct"]), 3),
        "outpost_median_s": round(med["outpost"], 3),
        # the Outpost's own share: POST /services until its answer (container started)
        "outpost_request_median_s": round(statistics.median(round_trips), 3),
        "direct_median_s": round(med["direct"], 3),
        "runs": RUNS,
        "outpost_s": [round(t, 3) for t in times["outpost"]],
        "direct_s": [round(t, 3) for t in times["direct"]],
        "goal": "<= 1.15",
    }))

if __name__ == "__main__":
    main()
