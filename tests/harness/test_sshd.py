"""Self-test of the login node: the hub's key forwards to loopback and does nothing else."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.harness.hub import free_port, wait_for
from tests.harness.sshd import LoginNode


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello through ssh")

    def log_message(self, format: str, *args: object) -> None:
        pass


def finish(proc: subprocess.Popen[str]) -> str:
    """Stop an ssh client; its stderr."""
    proc.terminate()
    try:
        return proc.communicate(timeout=20)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=10)[1]


@pytest.fixture
def web() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def ssh(node: LoginNode, *args: str, key: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ssh", "-i", key or str(node.key), "-p", str(node.port), "-o", "BatchMode=yes",
         "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={node.known_hosts}",
         "-o", "StrictHostKeyChecking=yes", "-o", "ExitOnForwardFailure=yes", *args,
         f"{node.user}@127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_key_forwards_to_loopback(login_node: LoginNode, web: int) -> None:
    local = free_port()
    proc = ssh(login_node, "-N", "-L", f"127.0.0.1:{local}:127.0.0.1:{web}")
    try:
        text = wait_for(lambda: requests.get(f"http://127.0.0.1:{local}/", timeout=2).text,
                        20, "the forwarded port")
        assert text == "hello through ssh"
    finally:
        finish(proc)


def test_key_runs_no_command_and_reaches_no_other_host(login_node: LoginNode, web: int,
                                                       ) -> None:
    proc = ssh(login_node, "echo", "pwned")
    out, err = proc.communicate(timeout=30)
    assert "pwned" not in out and proc.returncode != 0

    local = free_port()
    proc = ssh(login_node, "-N", "-L", f"127.0.0.1:{local}:127.0.0.2:{web}")
    err = ""
    try:
        wait_for(lambda: subprocess.run(["ss", "-ltn", f"sport = :{local}"],
                                        capture_output=True, text=True).stdout.count("\n") > 1,
                 30, "the local end of the forward")
        with pytest.raises(requests.RequestException):
            requests.get(f"http://127.0.0.1:{local}/", timeout=5)
    finally:
        err = finish(proc)
    assert "administratively prohibited" in err


def test_other_key_is_refused(login_node: LoginNode) -> None:
    proc = ssh(login_node, "-N", key=str(login_node.refused_key))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 255 and "Permission denied (publickey)" in err
