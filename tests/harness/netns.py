"""Run code inside a fresh network namespace that has only ``lo`` up.

Cases that name private, link-local or metadata addresses run there: even if the code
under test were wrong, no packet can leave the machine (connecting to anything but
loopback fails at once with ENETUNREACH). Needs root (``ip netns``), which CI has.

Fixture ``netns_run(code, timeout=60) -> CompletedProcess`` runs ``python -c code`` with
this interpreter and the repository on ``sys.path`` inside one namespace
``nfdi-test-<random>`` created for the session and deleted afterwards.

Inside, ``/etc/hosts`` is :data:`NETNS_HOSTS` (``ip netns exec`` bind-mounts
``/etc/netns/<name>/hosts``), so tests can use real host NAMES that resolve to private,
metadata or mixed addresses without any DNS server; other names fail to resolve at once
(the resolver is unreachable from the namespace).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IP = shutil.which("ip") or "/usr/sbin/ip"

#: name -> addresses served by the namespace's /etc/hosts
NETNS_HOSTS: dict[str, list[str]] = {
    "localhost": ["127.0.0.1", "::1"],
    "private.nfdi.test": ["10.1.2.3"],
    "metadata.nfdi.test": ["169.254.169.254"],
    "mixed.nfdi.test": ["93.184.216.34", "10.0.0.7"],
    "ula.nfdi.test": ["fd00::7"],
    "loopback.nfdi.test": ["127.0.0.1"],
    "mapped.nfdi.test": ["::ffff:169.254.169.254"],
    "public.nfdi.test": ["93.184.216.34"],
    # only for the DNS-rebinding test, which flips it to 127.0.0.1 and back
    "rebind.nfdi.test": ["93.184.216.34"],
}


class NetNS:
    def __init__(self) -> None:
        self.name = f"nfdi-test-{secrets.token_hex(4)}"
        try:
            subprocess.run([IP, "netns", "add", self.name], check=True, capture_output=True,
                           timeout=30)
        except (OSError, subprocess.CalledProcessError) as err:
            raise RuntimeError(f"cannot create network namespace (need root and iproute2): {err}") from err
        self.etc = Path("/etc/netns") / self.name
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "hosts").write_text(
            "".join(f"{addr} {name}\n" for name, addrs in NETNS_HOSTS.items() for addr in addrs)
        )
        self.exec(["ip", "link", "set", "lo", "up"], check=True)

    def exec(self, argv: list[str], *, timeout: float = 60, check: bool = False,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([IP, "netns", "exec", self.name, *argv], capture_output=True,
                              text=True, timeout=timeout, check=check, env=env)

    def run_python(self, code: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        return self.exec([sys.executable, "-c", code], timeout=timeout, env=env)

    def close(self) -> None:
        subprocess.run([IP, "netns", "delete", self.name], capture_output=True, timeout=30)
        shutil.rmtree(self.etc, ignore_errors=True)


@pytest.fixture(scope="session")
def netns() -> Iterator[NetNS]:
    ns = NetNS()
    yield ns
    ns.close()


@pytest.fixture
def netns_run(netns: NetNS) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``netns_run(code, timeout=60)``: run Python code inside the loopback-only netns."""
    return netns.run_python
