"""A private Docker engine that tests may stop and restart (never the machine's shared one).

``dockerd`` runs inside its own network namespace (``ip netns``) with its own data root,
exec root (so its own managed containerd), pid file and unix socket in a temp dir, and
``--iptables=false``. Whatever the engine does to network interfaces (it creates, and
with ``--bridge=none`` deletes, an interface named ``docker0``) stays in that namespace:
the host's ``docker0`` and firewall are never touched. Containers and build steps run
there with no way out (its own ``docker0``, no NAT), which is all a build of a
``FROM local/debian:bookworm`` Dockerfile needs. Its loopback is not the host's, so it
cannot push to the test registry: tests using it keep images in the engine itself.

API::

    engine = start_private_dockerd(workdir, images=["local/debian:bookworm"])
    engine.host                     # "unix:///tmp/.../docker.sock" (for DOCKER_HOST)
    engine.restart()                # SIGTERM, wait, start again: same data, same socket
    engine.stop()                   # and remove the namespace

Fixture: ``private_dockerd`` (module scope; starts in ~5 s plus the image load).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness.hub import wait_for

IP = shutil.which("ip") or "/usr/sbin/ip"
DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
DOCKER = shutil.which("docker") or "/usr/bin/docker"
NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"


@dataclass
class PrivateDockerd:
    workdir: Path
    netns: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def socket(self) -> Path:
        return self.workdir / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def docker(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([DOCKER, "-H", self.host, *args], capture_output=True, check=False,
                              **kwargs)  # type: ignore[call-overload,no-any-return]

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        log = (self.workdir / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            # nsenter, not "ip netns exec": that one also remounts /sys, hiding the cgroups
            [NSENTER, f"--net=/run/netns/{self.netns}", DOCKERD,
             "--data-root", str(self.workdir / "data"), "--exec-root", str(self.workdir / "x"),
             "-H", self.host, "--pidfile", str(self.workdir / "docker.pid"),
             "--iptables=false", "--ip-masq=false", "--ip-forward=false",
             "--cgroup-parent", f"{self.netns}", "--log-level", "warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        wait_for(lambda: self._answers(), 60, f"the private dockerd ({self.workdir / 'dockerd.log'})")

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"private dockerd exited: {(self.workdir / 'dockerd.log').read_text()[-1500:]}")
        return self.socket.exists() and self.docker("version").returncode == 0

    def stop_engine(self, timeout: float = 30) -> None:
        """SIGTERM, as an operator's restart does: the engine stops its containers and builds."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def restart(self) -> None:
        self.stop_engine()
        self.start()

    def load(self, image: str) -> None:
        """Copy *image* from the shared engine (read-only there) into this one."""
        save = subprocess.Popen([DOCKER, "save", image], stdout=subprocess.PIPE)
        loaded = subprocess.run([DOCKER, "-H", self.host, "load", "-q"], stdin=save.stdout,
                                capture_output=True, check=False, timeout=300)
        save.wait(60)
        if loaded.returncode != 0 or save.returncode != 0:
            raise RuntimeError(f"could not load {image}: {loaded.stderr.decode()[-500:]}")

    def stop(self) -> None:
        self.stop_engine()
        # containerd-shims of containers outlive dockerd by design; ours are in our cgroup parent
        for pid in subprocess.run([IP, "netns", "pids", self.netns], capture_output=True, text=True,
                                  check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run([IP, "netns", "delete", self.netns], capture_output=True, check=False)


def start_private_dockerd(workdir: Path, images: list[str] | tuple[str, ...] = ()) -> PrivateDockerd:
    workdir.mkdir(parents=True, exist_ok=True)
    netns = f"nfdi-dockerd-{secrets.token_hex(3)}"
    subprocess.run([IP, "netns", "add", netns], check=True, capture_output=True, timeout=30)
    engine = PrivateDockerd(workdir, netns)
    try:
        subprocess.run([IP, "netns", "exec", netns, IP, "link", "set", "lo", "up"], check=True,
                       capture_output=True, timeout=30)
        engine.start()
        for image in images:
            engine.load(image)
    except BaseException:
        engine.stop()
        raise
    return engine


@pytest.fixture(scope="module")
def private_dockerd() -> Iterator[PrivateDockerd]:
    # short path: the engine's sockets (unix, max 108 bytes) live below it
    workdir = Path(tempfile.mkdtemp(prefix="nfdi-dd-", dir="/tmp"))
    engine = start_private_dockerd(workdir, images=["local/debian:bookworm"])
    try:
        yield engine
    finally:
        engine.stop()
        shutil.rmtree(workdir, ignore_errors=True)
