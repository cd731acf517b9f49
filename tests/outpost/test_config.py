"""Hub credentials of the Outpost: file, JSON env and upstream's usernames/passwords."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from outpost.config import OutpostConfig


def test_credentials_from_file_and_environment(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "hubs.yaml"
    creds.write_text("hub-a: pw-a\nhub-b: pw-b\n")
    monkeypatch.setenv("OUTPOST_CREDENTIALS", json.dumps({"hub-b": "pw-b2", "hub-c": "pw-c"}))
    monkeypatch.setenv("usernames", "hub-d;hub-e")
    monkeypatch.setenv("passwords", "pw-d;pw-e")
    assert OutpostConfig(credentials_file=str(creds)).load_credentials() == {
        "hub-a": "pw-a", "hub-b": "pw-b2", "hub-c": "pw-c", "hub-d": "pw-d", "hub-e": "pw-e"}


def test_credentials_file_must_be_a_mapping(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OUTPOST_CREDENTIALS", "usernames", "passwords"):
        monkeypatch.delenv(var, raising=False)
    bad = tmp_path / "hubs.yaml"
    bad.write_text("- hub-a\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        OutpostConfig(credentials_file=str(bad)).load_credentials()
    assert OutpostConfig().load_credentials() == {}


def test_every_option_has_help() -> None:
    for name, trait in OutpostConfig.class_traits(config=True).items():
        assert trait.help, name
        assert len(trait.help) > 20, name
