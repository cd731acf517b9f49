"""The stack's registry port on a state directory: recorded once, reused while free, replaced
(and said so, in one line) when something else holds it. The whole restart, with a real
registry and a pushed image, is ``tests/launcher/journey/test_stack_faults.py``."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from launcher.cli.stack_registry import PORT_NAME, keep_port, recorded_port


def test_the_first_port_is_recorded_and_reused(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert recorded_port(tmp_path) is None
    port = keep_port(tmp_path)
    assert (tmp_path / PORT_NAME).read_text() == f"{port}\n"
    assert keep_port(tmp_path) == port
    assert keep_port(tmp_path) == port
    assert capsys.readouterr().out == ""


def test_a_taken_port_is_replaced_in_one_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        old = taken.getsockname()[1]
        (tmp_path / PORT_NAME).write_text(f"{old}\n")
        new = keep_port(tmp_path)
    assert new != old
    assert recorded_port(tmp_path) == new
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert f"port {old}" in lines[0] and f"using {new}" in lines[0]
    assert keep_port(tmp_path) == new  # the new one is kept from now on


@pytest.mark.parametrize("text", ["", "not a port\n", "0\n", "70000\n"])
def test_an_unreadable_record_gets_a_fresh_port(tmp_path: Path, text: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / PORT_NAME).write_text(text)
    port = keep_port(tmp_path)
    assert 0 < port < 65536
    assert recorded_port(tmp_path) == port
    assert capsys.readouterr().out == ""


def test_a_port_the_stack_uses_elsewhere_is_not_reused(tmp_path: Path) -> None:
    (tmp_path / PORT_NAME).write_text("8000\n")
    assert keep_port(tmp_path, avoid={8000}) != 8000
