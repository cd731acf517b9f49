"""A short soak in the suite (``bench/soak.py --minutes 0.5 --streams 100``): the bench runs
as documented, its last line is the JSON object, and the goals hold at this size — no
errors, no file descriptors or asyncio tasks left once the streams closed, RSS within 1.2x.
The figures for the issue come from the full 10-minute run, not from this one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_meets_the_goals() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "soak.py"), "--minutes", "0.5",
                           "--streams", "100", "--settle", "3"],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert list(result)[:7] == ["streams", "minutes", "errors", "fd_growth", "task_growth",
                                "rss_mb_start", "rss_mb_end"]
    assert result["streams"] == 100
    assert result["errors"] == 0, proc.stderr[-3000:]
    assert result["streams_ready"] == 100
    assert result["launches"] > 0
    assert result["resolves"] > 0
    assert result["fd_growth"] <= 0  # fewer is fine: e.g. an idle keep-alive connection closed
    assert result["task_growth"] <= 0
    assert result["rss_mb_end"] <= 1.2 * result["rss_mb_start"]
