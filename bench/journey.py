"""Benchmark: a badge click to a visible JupyterLab, in Chromium, against the floor (issue 9).

Starts ``nfdi-launcher stack`` the way the README says (a subprocess, fresh state directory,
an operator config file whose ``c.NetConfig.url_rewrites`` points a public-looking Git URL
at a local git server with a salted Dockerfile repository), logs one person in through the
hub's login page in Debian's headless Chromium, and builds the image once (not timed).
Then ``--pairs`` (7) pairs, in alternating order:

- **badge**: on an author's page (another origin) click the launch badge
  (``/v2/git/<repo>/HEAD``: resolved at every click, as a branch badge is) and wait until
  JupyterLab's shell (``.jp-LabShell``) is visible;
- **floor**: the same image, started for the same person through the hub's REST API with the
  same user_options (waiting on the hub's progress stream), then its ``/lab`` opened in the
  same browser until the shell is visible.

Both servers are stopped and removed after each run, so every run starts a server.
``badge_to_lab_ratio`` is the median of the badge runs over the median of the floor runs
(goal <= 1.15); ``pair_ratio_median`` (the median of each pair's ratio) is less sensitive to
load that changes during the run. Progress on stderr; the last stdout line is one JSON object. About 3 min.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._stack import load, median, say, scenarios  # noqa: E402
from tests.harness.chromium import launch_chromium, new_page  # noqa: E402
from tests.harness.gitserver import GitServer  # noqa: E402
from tests.harness.hub import wait_for  # noqa: E402
from tests.harness.stack import (  # noqa: E402
    RunningStack,
    hub_login,
    remove_stack_leftovers,
    start_stack,
)
from tests.launcher.journey.browser import author_page, badge_url  # noqa: E402

PUBLIC = "https://git.example.org/bench/journey"
USER = "bench-person"
LAB = ".jp-LabShell"


def log(msg: str) -> None:
    say("journey", msg)


def stop_all(stack: RunningStack) -> None:
    stack.remove_servers(USER)


def time_badge(page: Any, paper: str, stack: RunningStack) -> tuple[float, str]:
    """Click the badge on the author's page; seconds until the lab shell shows; the server."""
    page.goto(paper)
    page.wait_for_selector("#binder-badge")
    started = time.monotonic()
    page.click("#binder-badge")
    page.wait_for_selector(LAB, state="visible", timeout=180_000)
    took = time.monotonic() - started
    (server,) = stack.servers(USER)
    return took, server


def time_floor(page: Any, stack: RunningStack, options: dict[str, Any]) -> float:
    """The same image through the hub's REST API, then /lab in the browser."""
    started = time.monotonic()
    r = stack.hub_api("POST", f"/users/{USER}/servers/floor", json=options)
    assert r.status_code in (201, 202), r.text
    with stack.hub_api("GET", f"/users/{USER}/servers/floor/progress", stream=True,
                       timeout=180, headers={"Accept": "text/event-stream"}) as progress:
        for raw in progress.iter_lines(decode_unicode=True):
            if raw and raw.startswith("data:"):
                event = json.loads(raw[5:])
                if event.get("failed"):
                    raise RuntimeError(f"floor spawn failed: {event}")
                if event.get("ready"):
                    break
    page.goto(stack.public + f"user/{USER}/floor/lab")
    page.wait_for_selector(LAB, state="visible", timeout=180_000)
    return time.monotonic() - started


def run(pairs: int, workdir: Path) -> dict[str, Any]:
    nonce = secrets.token_hex(4)
    with ExitStack() as cleanup:
        git = GitServer(workdir / "git", scenarios(workdir / "scenarios", nonce, ["journey"]))
        cleanup.callback(git.close)
        config = f"c.NetConfig.url_rewrites = {{{PUBLIC!r}: {git.url_for('journey')!r}}}\n"
        stack = start_stack(workdir / "state", workdir / "work", config=config)
        cleanup.callback(remove_stack_leftovers, stack.state)
        cleanup.callback(stack.stop)
        log(f"stack up at {stack.url} (load {load()})")
        from playwright.sync_api import sync_playwright

        pw = cleanup.enter_context(sync_playwright())
        browser = launch_chromium(pw)
        cleanup.callback(browser.close)
        page = new_page(browser)
        link = badge_url(stack, PUBLIC)
        paper = cleanup.enter_context(author_page(workdir / "site", link,
                                                  stack.launcher + "badge_logo.svg"))
        page.goto(stack.launcher + "login")
        hub_login(page, stack, USER)
        page.wait_for_url(stack.launcher)
        warm, server = time_badge(page, paper, stack)
        log(f"warm-up (build + first start): {warm:.1f} s")
        options = stack.servers(USER)[server]["user_options"]
        stop_all(stack)
        badge: list[float] = []
        floor: list[float] = []
        for i in range(pairs):
            for kind in (("badge", "floor") if i % 2 == 0 else ("floor", "badge")):
                if kind == "badge":
                    badge.append(time_badge(page, paper, stack)[0])
                else:
                    floor.append(time_floor(page, stack, options))
                stop_all(stack)
                wait_for(lambda: not stack.servers(USER), 60, "servers gone")
            log(f"pair {i + 1}: badge {badge[-1]:.2f} s, floor {floor[-1]:.2f} s "
                f"(load {load()})")
    ratio = median(badge) / median(floor)
    pair_ratios = [b / f for b, f in zip(badge, floor, strict=True)]
    return {"badge_to_lab_ratio": round(ratio, 3),
            "badge_to_lab_median_s": round(median(badge), 3),
            "floor_median_s": round(median(floor), 3),
            "pairs": pairs, "badge_s": [round(x, 2) for x in badge],
            "floor_s": [round(x, 2) for x in floor], "warmup_s": round(warm, 1),
            "pair_ratio_median": round(median(pair_ratios), 3),
            "goal_ratio": 1.15, "load": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pairs", type=int, default=7, help="badge/floor pairs (>= 5)")
    args = parser.parse_args()
    if args.pairs < 5:
        parser.error("--pairs must be at least 5")
    with tempfile.TemporaryDirectory(prefix="nfdi-bench-journey-") as tmp:
        result = run(args.pairs, Path(tmp))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
