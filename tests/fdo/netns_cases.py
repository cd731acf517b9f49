"""Runs inside the loopback-only network namespace (see tests/harness/netns.py).

Resolves every case of :data:`tests.fdo.hostile_ids.NETWORK` plus records (served by a
replay server started inside the namespace) that point at private, link-local or metadata
addresses, and prints one JSON object: ``{case: {"error": cls, "message": str}}``.
"""

from __future__ import annotations

import json
import os
import sys

from tests.fdo.hostile_ids import NETWORK

RECORD_CASES = {
    "hdl:21.1/metadata-git": "https://169.254.169.254/latest/repo.git",
    "hdl:21.1/private-git": "https://10.20.30.40/o/r.git",
    "hdl:21.1/ula-git": "https://[fd12::1]/o/r.git",
}


def main() -> None:
    from fdo.errors import ResolveError
    from fdo.resolve import Resolution
    from tests.harness.replay import ReplayServer

    replay = ReplayServer()
    os.environ["NFDI_LAUNCHER_URL_REWRITES"] = json.dumps(replay.rewrites())
    for ident, location in RECORD_CASES.items():
        pid = ident.removeprefix("hdl:")
        replay.add(f"https://hdl.handle.net/api/handles/{pid}", body={
            "responseCode": 1, "handle": pid,
            "values": [{"index": 1, "type": "URL", "data": {"format": "string", "value": location}}]})
    replay.add("https://zenodo.org/api/records/777", status=302,
               headers={"Location": "https://169.254.169.254/latest/meta-data/"})
    cases = [*NETWORK, *RECORD_CASES, "https://zenodo.org/records/777"]
    out: dict[str, dict[str, str]] = {}
    for case in cases:
        try:
            target = Resolution().resolve(case)
            out[case] = {"error": "", "message": f"resolved to {target.source}"}
        except ResolveError as err:
            out[case] = {"error": type(err).__name__, "message": str(err)}
        except Exception as err:  # noqa: BLE001 - reported to the test as a failure
            out[case] = {"error": f"unexpected {type(err).__name__}", "message": str(err)}
    contacted = [r.path for r in replay.requests if "169.254" in r.path or "10.20" in r.path]
    replay.close()
    json.dump({"results": out, "contacted": contacted}, sys.stdout)


if __name__ == "__main__":
    main()
