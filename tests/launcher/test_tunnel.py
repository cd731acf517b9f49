"""The hub's tunnel hooks: what a setuptunnel body may choose, and the ssh command built.

(The hooks against a real sshd, hub and Slurm job: tests/outpost/scenarios/hpc/test_tunnel.py.)
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from launcher.tunnel import (
    Tunnel,
    TunnelError,
    TunnelHooks,
    control_path,
    forward_command,
    target_of,
)

TUNNEL = Tunnel(ssh_node="login1", ssh_key="/k", known_hosts="/kh", ssh_port=2222,
                allowed_hosts=r"node[0-9]+")


def test_body_names_a_node_and_port() -> None:
    assert target_of(TUNNEL, {"service": "node7:41234", "ssh_node": "login1"}) == ("node7", 41234)
    assert target_of(TUNNEL, {"service": "http://node7:80"}) == ("node7", 80)


@pytest.mark.parametrize(("body", "message"), [
    ({"service": "db.internal:5432"}, "not a node of this system"),
    ({"service": "node7:41234", "ssh_node": "evil.example.org"}, "is not login1"),
    ({"service": "node7:0"}, "not <host>:<port>"),
    ({"service": "node7:99999"}, "not <host>:<port>"),
    ({"service": "node7; rm -rf /:1"}, "not <host>:<port>"),
    ({"service": "-oProxyCommand=x:1"}, "not <host>:<port>"),
    ({}, "not <host>:<port>"),
])
def test_body_cannot_choose_what_the_operator_did_not(body: dict[str, Any],
                                                      message: str) -> None:
    with pytest.raises(TunnelError, match=message):
        target_of(TUNNEL, body)


def test_body_keys_for_ssh_options_are_ignored() -> None:
    body = {"service": "node7:41234", "ssh_key": "/etc/shadow", "ssh_username": "root",
            "ssh_port": 22, "ssh_forward_options": {"ProxyCommand": "touch /tmp/x"}}
    host, port = target_of(TUNNEL, body)
    cmd = forward_command(TUNNEL, Path("/s/t.sock"), 50001, host, port)
    assert cmd[:2] == ["ssh", "-f"] and "/etc/shadow" not in cmd and "root@login1" not in cmd
    assert not any("ProxyCommand" in arg for arg in cmd)
    assert cmd[-3:] == ["-L", "127.0.0.1:50001:node7:41234", "nfdi-tunnel@login1"]
    assert "StrictHostKeyChecking=yes" in cmd and "UserKnownHostsFile=/kh" in cmd
    assert cmd[cmd.index("-p") + 1] == "2222" and cmd[cmd.index("-i") + 1] == "/k"


def _spawner(system: str, name: str = "srv") -> Any:
    return SimpleNamespace(user_options={"system": system}, user=SimpleNamespace(name="alice"),
                           name=name, port=50001, events=[])


def test_control_sockets_are_per_server_and_short(tmp_path: Path) -> None:
    one = control_path(tmp_path, _spawner("hpc"))
    two = control_path(tmp_path, _spawner("hpc", name="other"))
    assert one != two and one.parent == tmp_path / "tunnels"
    assert len(str(control_path("/var/lib/nfdi-launcher/stack/hub", _spawner("x")))) < 100


def test_only_tunnel_systems_are_rewritten_and_refused_tunnels_never_look_ready(
        tmp_path: Path) -> None:
    hooks = TunnelHooks({"hpc": TUNNEL}, tmp_path)
    direct, hpc = _spawner("cloud"), _spawner("hpc")
    assert hooks.expected_path(direct, "http://10.1.1.1:8888") == "http://10.1.1.1:8888"
    assert hooks.expected_path(hpc, "http://jupyter-alice--srv:50001") == "http://127.0.0.1:50001"
    ready = {"progress": 100, "ready": True, "url": "/user/alice/srv/"}
    assert hooks.ready_event(hpc, ready) is ready
    hpc.nfdi_tunnel_error = "ssh to nfdi-tunnel@login1:2222 failed: Permission denied"
    event = hooks.ready_event(hpc, ready)
    assert event["failed"] and "Permission denied" in event["message"] and "ready" not in event
