"""The operator's config file in ``nfdi-launcher stack``: which component loads it, and what wins.

The generated config files are loaded with traitlets' own loader, as the launcher service
and the Outpost load them. (That the file really reaches the running launcher is shown by
the journey suite: its repositories are reachable only through the operator file's URL
rewrites.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import Config, PyFileConfigLoader

from launcher.cli.stack import StackApp
from launcher.cli.stack_files import StackPorts, write_launcher_config, write_outpost_files
from launcher.systems import write_systems

PORTS = StackPorts(public=8000, hub=8081, proxy_api=8001, outpost=8090, launcher=8585,
                   registry=5000)


def load(path: Path) -> Config:
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


@pytest.fixture
def operator_file(tmp_path: Path) -> Path:
    path = tmp_path / "site" / "nfdi_launcher_config.py"
    path.parent.mkdir()
    path.write_text("c.NetConfig.allowed_networks = ['127.0.0.0/8']\n"
                    "c.NetConfig.allow_http = True\n"
                    "c.LauncherConfig.hub_url = 'http://elsewhere.example/'\n"
                    "c.Outpost.name_prefix = 'operator-'\n"
                    "c.Outpost.allowed_image_prefixes = ['registry.example/']\n")
    return path


def test_the_launcher_service_gets_the_operator_file_and_the_stack_wiring_wins(
        tmp_path: Path, operator_file: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    write_systems(state / "systems.json", [])  # no Outpost to ask for flavors
    path = write_launcher_config(state, state / "systems.json", "http://127.0.0.1:5000",
                                 "http://127.0.0.1:8000/", operator_config=operator_file)
    config = load(path)
    assert config.NetConfig.allowed_networks == ["127.0.0.0/8"]
    assert config.NetConfig.allow_http is True
    assert config.LauncherConfig.hub_url == "http://127.0.0.1:8000/"  # the stack's proxy
    assert path.stat().st_mode & 0o077 == 0  # holds the cookie secret


def test_the_outpost_loads_the_file_only_when_told_and_keeps_its_wiring(
        tmp_path: Path, operator_file: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    write_outpost_files(state, PORTS, "http://127.0.0.1:5000", operator_file)
    config = load(state / "outpost_config.py")
    assert config.Outpost.name_prefix == (state / "name-prefix").read_text().strip()
    assert config.Outpost.allowed_image_prefixes[0] == "127.0.0.1:5000/"
    assert config.NetConfig.allow_http is True  # the operator's file was loaded
    write_outpost_files(state, PORTS, "", None)
    assert "NetConfig" not in load(state / "outpost_config.py")


@pytest.mark.parametrize(("text", "outpost"), [
    ("c.NetConfig.allow_http = True", False),
    ("c.Admission.rate_limit = 3", False),
    ("c.Outpost.name_prefix = 'x-'", True),
    ("c.OutpostServer.port = 9", True),
    ("c.DockerBackend.pull_policy = 'always'", True),
    ("c.KubernetesBackend.namespace = 'n'", True),
    ("c.OutpostConfig.port = 9", True),  # the old name, forwarded by the Outpost
])
def test_which_files_the_outpost_reads_too(tmp_path: Path, text: str, outpost: bool) -> None:
    path = tmp_path / "nfdi_launcher_config.py"
    path.write_text(text + "\n")
    app = StackApp()
    app.load_config_file(path.name, path=str(tmp_path))
    assert app._configures_outpost() is outpost
