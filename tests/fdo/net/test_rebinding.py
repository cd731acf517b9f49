"""DNS rebinding: the connection goes to the address that was checked, not to a new answer.

Runs in the loopback-only network namespace, whose /etc/hosts maps ``rebind.nfdi.test``
to a public address. After the policy check, the name is re-bound to 127.0.0.1 (where a
canary listens). A client that resolved again would reach the canary; ours connects to
the checked public address, which the namespace cannot route (ENETUNREACH).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest

pytestmark = pytest.mark.netns

CODE = r"""
import json
from pathlib import Path
from fdo.errors import UpstreamError
from fdo.net import HttpClient, NetConfig, plan
from tests.harness.canary import Canary

hosts = Path("/etc/hosts")
original = hosts.read_text()
canary = Canary()
cfg = NetConfig(allow_http=True, retries=0, timeout=2.0)
url = f"http://rebind.nfdi.test:{canary.port}/x"
out = {}
try:
    dest = plan(url, cfg)                       # the check sees the public answer
    out["checked"] = list(dest.addresses)
    hosts.write_text(original.replace("93.184.216.34 rebind.nfdi.test", "127.0.0.1 rebind.nfdi.test"))
    try:
        plan(url, cfg)
    except Exception as err:                    # a fresh check now refuses the name
        out["recheck"] = type(err).__name__
    try:
        HttpClient(cfg)._open("GET", dest, {}, None)
        out["open"] = "connected"
    except Exception as err:
        out["open"] = type(err).__name__ + ": " + str(err)[:200]
finally:
    hosts.write_text(original)
    canary.close()
out["canary"] = canary.requests
print(json.dumps(out))
"""


def test_connection_is_pinned_to_the_checked_address(
    netns_run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    proc = netns_run(CODE, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["checked"] == ["93.184.216.34"]
    assert out["recheck"] == "RefusedTarget"
    assert "unreachable" in out["open"].lower(), out["open"]
    assert out["canary"] == []
