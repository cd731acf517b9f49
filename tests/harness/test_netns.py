"""Self-test of the network namespace: loopback only, no route out."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest

pytestmark = pytest.mark.netns

PROBE = """
import errno, socket, time
t = time.monotonic()
s = socket.socket()
s.settimeout(5)
try:
    s.connect(("10.0.0.1", 80))
    print("CONNECTED")
except OSError as e:
    print("ERR", e.errno == errno.ENETUNREACH, round(time.monotonic() - t, 2))
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
c = socket.create_connection(srv.getsockname(), timeout=5)
print("LOOPBACK OK")
print(sorted({a[4][0] for a in socket.getaddrinfo("mixed.nfdi.test", 443, type=socket.SOCK_STREAM)}))
"""


def test_no_route_out_but_loopback_works(
    netns_run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    proc = netns_run(PROBE, timeout=30)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert lines[0].startswith("ERR True"), proc.stdout
    assert float(lines[0].split()[2]) < 1.0
    assert "LOOPBACK OK" in proc.stdout
    assert lines[2] == "['10.0.0.7', '93.184.216.34']"  # the namespace's own /etc/hosts
