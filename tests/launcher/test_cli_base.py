"""The nfdi-launcher command: help from trait help texts, version, config file, JSON logs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from launcher import __version__

CLI = [str(Path(sys.executable).parent / "nfdi-launcher")]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_version() -> None:
    r = run("--version")
    assert r.returncode == 0
    assert __version__ in r.stdout


def test_help_all_shows_trait_help_text() -> None:
    r = run("--help-all")
    assert r.returncode == 0
    assert "--LauncherApp.json_logs" in r.stdout
    assert "--Admission.rate_limit" in r.stdout  # the subcommands' classes too
    assert "--OutpostServer.port" in r.stdout


def test_a_subcommand_lists_its_plugins_in_help_all() -> None:
    """The Kubernetes backend is listed though ``nfdi-launcher outpost`` imports it only then."""
    r = run("outpost", "--help-all")
    assert r.returncode == 0, r.stderr
    assert "--KubernetesBackend.namespace" in r.stdout
    assert "--DockerBackend.pull_policy" in r.stdout
    assert "Secrets in URLs" in r.stdout  # the help= text of the trait itself


def test_generate_config_writes_every_option(tmp_path: Path) -> None:
    r = run("--generate-config", "--config", str(tmp_path / "c.py"))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "c.py").read_text()
    # every subcommand's classes, each setting under the class that acts
    for option in ("c.LauncherApp.json_logs", "c.ServeApp.port", "c.LauncherConfig.handoff_class",
                   "c.Admission.rate_limit", "c.HubClient.api_url", "c.HubApiHandOff.launch_timeout",
                   "c.Pipeline.launch_retries", "c.BuildManager.executor_class",
                   "c.DockerExecutor.extra_args", "c.NetConfig.", "c.OutpostServer.port",
                   "c.Outpost.backend_class", "c.DockerBackend.pull_policy", "c.StackApp.state_dir",
                   "c.KubernetesBackend.namespace", "c.KubernetesExecutor."):
        assert option in text, option
    # Running it again must not overwrite the operator's file.
    again = run("--generate-config", "--config", str(tmp_path / "c.py"))
    assert again.returncode == 2
    assert again.stderr.startswith("error:")


def test_missing_explicit_config_file_is_a_clear_error(tmp_path: Path) -> None:
    r = run("--config", str(tmp_path / "nope.py"))
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error:")
    assert "nope.py" in r.stderr


def test_config_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "nfdi_launcher_config.py").write_text("c.Application.log_level = 'NO_SUCH_LEVEL'\n")
    r = run("--help", cwd=tmp_path)
    # --help exits before loading config; an invalid value in the file surfaces on a real run.
    assert r.returncode == 0
    bad = run(cwd=tmp_path)
    assert bad.returncode != 0
    assert "NO_SUCH_LEVEL" in bad.stderr
