"""Outpost settings: hub credentials, help texts, and config files that use the old names."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from outpost.app import OutpostServer
from outpost.backends.docker import DockerBackend
from outpost.credentials import load_credentials
from outpost.manager import Outpost
from tests.harness.hub import VENV_BIN, free_port, wait_for


def test_credentials_from_file_and_environment(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "hubs.yaml"
    creds.write_text("hub-a: pw-a\nhub-b: pw-b\n")
    monkeypatch.setenv("OUTPOST_CREDENTIALS", json.dumps({"hub-b": "pw-b2", "hub-c": "pw-c"}))
    monkeypatch.setenv("usernames", "hub-d;hub-e")
    monkeypatch.setenv("passwords", "pw-d;pw-e")
    assert load_credentials(str(creds)) == {
        "hub-a": "pw-a", "hub-b": "pw-b2", "hub-c": "pw-c", "hub-d": "pw-d", "hub-e": "pw-e"}


def test_credentials_file_must_be_a_mapping(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OUTPOST_CREDENTIALS", "usernames", "passwords"):
        monkeypatch.delenv(var, raising=False)
    bad = tmp_path / "hubs.yaml"
    bad.write_text("- hub-a\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        load_credentials(str(bad))
    assert load_credentials() == {}


@pytest.mark.parametrize("text, env", [
    ("hub-a: pw-a\nhubC:\n", {}),  # YAML null: was the password "None" (issue 10)
    ("hub-a: pw-a\nhubC: ''\n", {}),  # empty: was matched by "\0"
    ("hub-a: pw-a\nhubC: '   '\n", {}),
    ("hub-a: pw-a\n", {"OUTPOST_CREDENTIALS": json.dumps({"hubC": None})}),
    ("hub-a: pw-a\n", {"usernames": "hub-d;hubC", "passwords": "pw-d"}),
])
def test_a_hub_without_a_password_is_refused_at_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     text: str, env: dict[str, str]) -> None:
    for var in ("OUTPOST_CREDENTIALS", "usernames", "passwords"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    creds = tmp_path / "hubs.yaml"
    creds.write_text(text)
    with pytest.raises(ValueError, match="hub 'hubC' has no password"):
        load_credentials(str(creds))


def test_the_outpost_does_not_start_with_a_passwordless_hub(tmp_path: Path) -> None:
    creds = tmp_path / "hubs.yaml"
    creds.write_text("hub-a: pw-a\nhubC:\n")
    proc = subprocess.run(
        [str(VENV_BIN / "nfdi-launcher"), "outpost", "--port", "0", "--credentials", str(creds),
         "--db", str(tmp_path / "o.sqlite")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "hub 'hubC' has no password" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "outpost listening" not in proc.stdout


@pytest.mark.parametrize("cls", [OutpostServer, Outpost, DockerBackend])
def test_every_option_has_help(cls: type) -> None:
    for name, trait in cls.class_traits(config=True).items():  # type: ignore[attr-defined]
        assert trait.help, name
        assert len(trait.help) > 20, name


def test_a_config_file_with_the_old_names_still_works(tmp_path: Path) -> None:
    """``c.OutpostConfig.*`` (before the settings moved to the classes that act) is
    forwarded to ``c.OutpostServer.*`` / ``c.Outpost.*`` with a warning."""
    port = free_port()
    config = tmp_path / "old_config.py"
    config.write_text(f"c.OutpostConfig.port = {port}\n"
                      f"c.OutpostConfig.db_path = {str(tmp_path / 'old.sqlite')!r}\n"
                      "c.OutpostConfig.check_interval = 5\n")
    log = tmp_path / "outpost.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(VENV_BIN / "nfdi-launcher"), "outpost", "--config",
                                 str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).ok,
                 timeout=60, what="the Outpost on the port of the old config name")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    text = log.read_text()
    assert "OutpostConfig.port is deprecated: use OutpostServer.port" in text
    assert "OutpostConfig.db_path is deprecated: use Outpost.db_path" in text
    assert (tmp_path / "old.sqlite").exists()
