"""Launcher settings: each on the class that acts, short hand-off names, old names forwarded."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from traitlets import TraitError

from launcher.admission import Admission
from launcher.cli.serve import ServeApp
from launcher.config import RENAMED, LauncherConfig
from launcher.handoff.hubapi import HubApiHandOff, HubClient
from launcher.handoff.starturl import StartUrlHandOff
from launcher.pipeline import Pipeline


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """ServeApp.initialize installs its log handler on the root logger; undo it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("cls", [LauncherConfig, Admission, Pipeline, HubApiHandOff, HubClient])
def test_every_option_has_help(cls: type) -> None:
    for name, trait in cls.class_traits(config=True).items():  # type: ignore[attr-defined]
        assert trait.help, name
        assert len(trait.help) > 20, name


def test_handoff_class_takes_a_short_name_or_an_import_string() -> None:
    assert LauncherConfig().handoff_class is HubApiHandOff
    assert LauncherConfig(handoff_class="start-url").handoff_class is StartUrlHandOff
    dotted = "launcher.handoff.starturl.StartUrlHandOff"
    assert LauncherConfig(handoff_class=dotted).handoff_class is StartUrlHandOff
    with pytest.raises(TraitError):
        LauncherConfig(handoff_class="no-such-handoff")


def test_every_renamed_setting_exists_under_its_new_name() -> None:
    classes = {c.__name__: c for c in (LauncherConfig, Admission, Pipeline, HubApiHandOff,
                                       HubClient)}
    for old, new in RENAMED.items():
        cls, name = new.split(".")
        assert name in classes[cls].class_traits(config=True), (old, new)
        assert old.split(".")[1] not in LauncherConfig.class_traits(config=True), old


def test_a_config_file_with_the_old_names_still_works(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """The names the docs and ``nfdi-launcher stack`` used before the settings moved."""
    config = tmp_path / "old_config.py"
    config.write_text("c.LauncherConfig.rate_limit = 3\n"
                      "c.LauncherConfig.banned_specs = ['^gh/evil/']\n"
                      "c.LauncherConfig.hub_url = 'https://hub.example.org/'\n"
                      "c.LauncherConfig.hub_api_url = 'http://hub:8081/hub/api/'\n"
                      "c.LauncherConfig.hub_api_token = 'secret-service-token'\n"
                      "c.LauncherConfig.launch_timeout = 42.0\n"
                      "c.LauncherConfig.launch_retries = 0\n"
                      "c.Admission.per_user_quota = 2\n")
    app = ServeApp()
    with caplog.at_level(logging.WARNING):
        app.initialize(["--config", str(config)])
    state = app.make_app().settings["state"]
    assert state.admission.rate.limit == 3
    assert state.admission.policy.banned_by(["gh/evil/x/HEAD"])
    assert state.admission.quotas.per_user == 2  # a new name beside the old ones
    handoff = state.pipeline.handoff
    assert handoff.launch_timeout == 42.0
    assert handoff.hub.url == "http://hub:8081/hub/api/"
    assert handoff.hub.api_token == "secret-service-token"
    assert state.pipeline.launch_retries == 0
    warnings = caplog.text
    assert "LauncherConfig.rate_limit is deprecated: use Admission.rate_limit" in warnings
    assert "LauncherConfig.hub_api_url is deprecated: use HubClient.api_url" in warnings
    assert "secret-service-token" not in warnings


def test_the_old_handoff_name_selects_the_strategy(tmp_path: Path) -> None:
    config = tmp_path / "old_config.py"
    config.write_text("c.LauncherConfig.handoff = 'start-url'\n")
    app = ServeApp()
    app.initialize(["--config", str(config)])
    assert app.make_app().settings["state"].pipeline.handoff.name == "start-url"


def test_a_new_name_wins_over_an_old_one(tmp_path: Path) -> None:
    config = tmp_path / "both.py"
    config.write_text("c.LauncherConfig.rate_limit = 3\nc.Admission.rate_limit = 7\n")
    app = ServeApp()
    app.initialize(["--config", str(config)])
    assert app.make_app().settings["state"].admission.rate.limit == 7
