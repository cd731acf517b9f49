"""A real OpenSSH ``sshd`` on 127.0.0.1 as an HPC login node for the hub's tunnel.

Debian's openssh-server with its own config, host key and port; only the account
``nfdi-tunnel`` (made by scripts/setup.sh) may log in, only with one key, and that key
is restricted the way a site restricts a hub's key::

    restrict,port-forwarding,permitopen="127.0.0.1:*",command="/bin/false" ssh-ed25519 ...

so it can open local forwards to loopback ports and nothing else (no shell, no command,
no other target). A second key, :attr:`LoginNode.refused_key`, is not authorized.

The config directory lives under /run: sshd's StrictModes refuses authorized_keys files
below world-writable directories such as /tmp.

API::

    node = start_login_node(workdir)
    node.port, node.user, node.key, node.refused_key, node.known_hosts
    node.stop()

Fixture: ``login_node`` (session).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness.hub import free_port, wait_for

TUNNEL_USER = "nfdi-tunnel"
RESTRICTION = 'restrict,port-forwarding,permitopen="127.0.0.1:*",command="/bin/false"'


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True, capture_output=True, timeout=30)
    path.chmod(0o600)


@dataclass
class LoginNode:
    workdir: Path  # root-owned, 0755, outside /tmp
    client_dir: Path  # the hub's side: keys and known_hosts (0700)
    port: int
    user: str = TUNNEL_USER
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def key(self) -> Path:
        return self.client_dir / "hub_key"

    @property
    def refused_key(self) -> Path:
        return self.client_dir / "other_key"

    @property
    def known_hosts(self) -> Path:
        return self.client_dir / "known_hosts"

    def start(self) -> None:
        log = (self.workdir / "sshd.log").open("ab")
        self.proc = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.workdir / "sshd_config")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()

        def listening() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError((self.workdir / "sshd.log").read_text()[-2000:])
            out = subprocess.run(["ssh-keyscan", "-p", str(self.port), "127.0.0.1"],
                                 capture_output=True, text=True, timeout=10)
            return "ssh-ed25519" in out.stdout

        wait_for(listening, 20, f"sshd on 127.0.0.1:{self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def log_text(self) -> str:
        return (self.workdir / "sshd.log").read_text(errors="replace")


def start_login_node(workdir: Path, client_dir: Path) -> LoginNode:
    if not Path("/usr/sbin/sshd").exists():
        pytest.fail("openssh-server is not installed: run scripts/setup.sh")
    subprocess.run(["getent", "passwd", TUNNEL_USER], check=True, capture_output=True)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    node = LoginNode(workdir=workdir, client_dir=client_dir, port=free_port())
    _keygen(workdir / "host_ed25519", "nfdi-test-login-node")
    _keygen(node.key, "hub")
    _keygen(node.refused_key, "stranger")
    public = node.key.with_suffix(".pub").read_text().strip()
    (workdir / "authorized_keys").write_text(f"{RESTRICTION} {public}\n")
    (workdir / "authorized_keys").chmod(0o644)
    host_public = (workdir / "host_ed25519.pub").read_text().split()
    node.known_hosts.write_text(f"[127.0.0.1]:{node.port} {host_public[0]} {host_public[1]}\n")
    (workdir / "sshd_config").write_text(f"""\
Port {node.port}
ListenAddress 127.0.0.1
HostKey {workdir / 'host_ed25519'}
PidFile {workdir / 'sshd.pid'}
AuthorizedKeysFile {workdir / 'authorized_keys'}
AllowUsers {TUNNEL_USER}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes yes
AllowTcpForwarding local
GatewayPorts no
X11Forwarding no
PermitTTY no
PermitUserRC no
LogLevel VERBOSE
""")
    node.start()
    return node


@pytest.fixture(scope="session")
def login_node() -> Iterator[LoginNode]:
    workdir = Path(tempfile.mkdtemp(prefix="nfdi-test-sshd-", dir="/run"))
    workdir.chmod(0o755)
    client_dir = Path(tempfile.mkdtemp(prefix="nfdi-test-ssh-client-"))
    node = start_login_node(workdir, client_dir)
    try:
        yield node
    finally:
        node.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(client_dir, ignore_errors=True)
