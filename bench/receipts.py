"""Benchmark: what a receipt adds to a ``ready`` event (the pipeline's ready hook).

In one run, on one SQLite store in a temp dir (the one-process default), alternating:

A. ``Receipts.issue``: build the body, canonicalise, sign (Ed25519, joserfc), look up the
   build facts of the image's earlier receipts, insert the row — what every ready event waits for;
B. the baseline: inserting the same row without signing or looking anything up (the store's
   own cost for a row of this size).

Last stdout line: ``{"issue_median_ms", "issue_p90_ms", "insert_median_ms", "issue_vs_insert",
"sign_verify_ms", "receipts": N}``. ``--n`` receipts per side (default 300).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from launcher.receipts.book import Receipts  # noqa: E402
from launcher.receipts.model import canonical, make_body, new_id  # noqa: E402
from launcher.receipts.signing import sign, verify  # noqa: E402
from launcher.receipts.table import insert  # noqa: E402
from launcher.store import Store  # noqa: E402
from tests.launcher.receipts.conftest import facts  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(n: int, root: Path) -> dict[str, float]:
    store = Store(db_url=f"sqlite:///{root / 'launcher.sqlite'}")
    store.start()
    receipts = Receipts(store, key_dir=str(root / "keys"))
    key = receipts.ring.signing_key()
    issue: list[float] = []
    base: list[float] = []
    try:
        for i in range(n):
            for side in ((0, 1) if i % 2 else (1, 0)):
                if side == 0:
                    t = time.perf_counter()
                    await receipts.issue(facts(), user_name="bench")
                    issue.append(time.perf_counter() - t)
                else:
                    body = make_body(new_id(), facts())
                    text, sig = canonical(body).decode(), "x..y"
                    t = time.perf_counter()
                    await store.call(insert, body["id"], body, text, sig, "bench")
                    base.append(time.perf_counter() - t)
        body = make_body(new_id(), facts())
        t = time.perf_counter()
        for _ in range(n):
            verify({"receipt": body, "signature": {"jws": sign(body, key)}}, receipts.jwks())
        sign_verify = (time.perf_counter() - t) / n
    finally:
        store.close()
    return {"issue_median_ms": round(statistics.median(issue) * 1e3, 3),
            "issue_p90_ms": round(pct(issue, 0.9) * 1e3, 3),
            "insert_median_ms": round(statistics.median(base) * 1e3, 3),
            "issue_vs_insert": round(statistics.median(issue) / statistics.median(base), 2),
            "sign_verify_ms": round(sign_verify * 1e3, 3), "receipts": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-receipts-") as tmp:
        print(json.dumps(asyncio.run(run(args.n, Path(tmp)))))


if __name__ == "__main__":
    main()
