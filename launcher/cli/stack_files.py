"""The files ``nfdi-launcher stack`` writes into its state directory (configs and secrets).

Secrets (Outpost passwords, the launcher's API token, the login password) are generated
once, kept in files of mode 0600 and reused by later runs; so are the container name
prefix (user volumes stay findable) and ``flavors.yaml`` (an operator may edit it).
"""

from __future__ import annotations

import json
import os
import secrets
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

from launcher.cli.stack_oidc import DEMO_USER_RULES
from launcher.hubconfig import render_hub_config
from launcher.systems import System, write_systems

SYSTEMS = {"local-small": "Local Docker (small)", "local-large": "Local Docker (large)"}

DEFAULT_FLAVORS = {
    "flavors": {
        "small": {"display_name": "Small: 1 CPU, 2 GB", "description": "For notebooks and "
                  "teaching", "max": 8, "maxPerUser": 4, "weight": 10,
                  "resources": {"cpu_limit": 1, "mem_limit": "2G"}, "runtime": {"hours": 8}},
        "medium": {"display_name": "Medium: 2 CPU, 4 GB", "max": 4, "maxPerUser": 2,
                   "weight": 20, "resources": {"cpu_limit": 2, "mem_limit": "4G"},
                   "runtime": {"hours": 8}},
        "large": {"display_name": "Large: 2 CPU, 8 GB", "max": 2, "maxPerUser": 1,
                  "weight": 30, "resources": {"cpu_limit": 2, "mem_limit": "8G"},
                  "runtime": {"hours": 4}},
    },
    # Each system is its own hub identity at the Outpost, so each gets its own flavors.
    "hubs": {
        "small": {"jupyterhub_name": ["stack-local-small"], "flavors": ["small", "medium"]},
        "large": {"jupyterhub_name": ["stack-local-large"], "flavors": ["medium", "large"]},
    },
    # Per-user rules: they apply when the hub sends the user's authentication, i.e. with
    # the OIDC login (`stack --oidc`); the one-password login sees the hubs' flavors.
    "users": DEMO_USER_RULES,
}


@dataclass(frozen=True)
class StackPorts:
    public: int
    hub: int
    proxy_api: int
    outpost: int
    launcher: int
    registry: int


def secret_file(path: Path, nbytes: int = 32) -> tuple[str, bool]:
    """Read a secret, or create it (mode 0600); returns (value, newly created)."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    return value, True


def _private(path: Path, text: str) -> Path:
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def write_registry_config(state: Path, port: int) -> Path:
    root = state / "registry"
    root.mkdir(exist_ok=True)
    config = {"version": 0.1, "log": {"level": "warn"},
              "storage": {"filesystem": {"rootdirectory": str(root)}, "delete": {"enabled": True}},
              "http": {"addr": f"127.0.0.1:{port}"}}
    return _private(state / "registry.yml", yaml.safe_dump(config))


def write_outpost_files(state: Path, ports: StackPorts, registry_url: str,
                        operator_config: Path | None = None) -> Path:
    """Outpost config, credentials and flavors; returns the systems file for hub+launcher.

    *operator_config* (the operator's own file, when it configures Outpost classes) is
    loaded first; the stack's wiring below wins over it."""
    prefix_file = state / "name-prefix"
    if not prefix_file.exists():
        prefix_file.write_text(f"nfdi-stack-{secrets.token_hex(3)}-\n")
    prefix = prefix_file.read_text().strip()
    creds = {f"stack-{name}": secret_file(state / f"outpost-password-{name}", 24)[0]
             for name in SYSTEMS}
    _private(state / "outpost_credentials.yaml", yaml.safe_dump(creds))
    flavors = state / "flavors.yaml"
    if not flavors.exists():
        flavors.write_text(yaml.safe_dump(DEFAULT_FLAVORS, sort_keys=False))
    allowed = ["local/", "nfdi-launcher/"]
    if registry_url:
        allowed.insert(0, registry_url.removeprefix("http://") + "/")
    _private(state / "outpost_config.py", _GENERATED + _operator(operator_config)
             + textwrap.dedent(f"""\
        c.OutpostServer.port = {ports.outpost}
        c.Outpost.db_path = {str(state / 'outpost.sqlite')!r}
        c.Outpost.flavors_path = {str(flavors)!r}
        c.Outpost.credentials_file = {str(state / 'outpost_credentials.yaml')!r}
        c.Outpost.name_prefix = {prefix!r}
        c.Outpost.allowed_image_prefixes = {allowed!r}
        c.OutpostServer.check_interval = 60
        """))
    systems = [System(name=name, url=f"http://127.0.0.1:{ports.outpost}/services",
                      hub_name=f"stack-{name}", password=creds[f"stack-{name}"],
                      display_name=display) for name, display in SYSTEMS.items()]
    path = state / "systems.json"
    write_systems(path, systems)
    return path


def write_launcher_config(state: Path, systems_file: Path, registry_url: str,
                          public_url: str, *, anonymous: bool = False,
                          operator_config: Path | None = None, access_help: str = "") -> Path:
    """The launcher service's config: the operator's file first, then the stack's wiring."""
    secret = secret_file(state / "launcher-cookie-secret", 32)[0]
    lines = [
        "from launcher.systems import launcher_systems",
        "c.LauncherConfig.handoff_class = 'hub-api'",
        # Logged in: launches belong to the user, and so does the storage. Anonymous:
        # temporary users, created on demand (a pooled user could be culled meanwhile).
        f"c.LauncherConfig.anonymous = {anonymous!r}",
        f"c.LauncherConfig.systems = launcher_systems({str(systems_file)!r})",
        # Links handed to browsers go through the proxy, not to the hub's own port.
        f"c.LauncherConfig.hub_url = {public_url!r}",
        # its store (jobs of /api/v1, receipts) survives restarts of the stack
        f"c.LauncherConfig.state_dir = {str(state / 'launcher')!r}",
        # signs the login cookie and build tokens: logins survive a launcher restart
        f"c.LauncherConfig.build_token_secret = {secret!r}",
    ]
    if anonymous:
        lines.append("c.HubApiHandOff.anonymous_user_pool = 0")
    if access_help:
        lines.append(f"c.LauncherConfig.access_help = {access_help!r}")
    if registry_url:
        lines.append(f"c.BuildManager.registry_url = {registry_url!r}")
    text = _GENERATED + _operator(operator_config) + "\n".join(lines) + "\n"
    return _private(state / "launcher_config.py", text)


_GENERATED = "# Generated by nfdi-launcher stack (rewritten on every start).\n"


def _operator(path: Path | None) -> str:
    if path is None:
        return ""
    return (f"# The operator's config file; the stack's own settings below win over it.\n"
            f"load_subconfig({str(path)!r})  # noqa: F821\n")


def write_hub_files(state: Path, ports: StackPorts, systems_file: Path,
                    launcher_cmd: list[str] | None, password: str, extra: str = "") -> Path:
    """``jupyterhub_config.py``; *extra* is appended (anonymous mode, the idle culler)."""
    secret_file(state / "launcher-token", 32)
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("NFDI_LAUNCHER_", "DOCKER_")) or k in ("HOME", "PATH")}
    login = textwrap.dedent(f"""
        # Local login: JupyterHub's own DummyAuthenticator with one shared password.
        c.JupyterHub.authenticator_class = "dummy"
        c.DummyAuthenticator.password = {json.dumps(password)}
        c.Authenticator.allow_all = True
        """)
    text = render_hub_config(
        systems_file=str(systems_file), launcher_url=f"http://127.0.0.1:{ports.launcher}",
        launcher_token_file=str(state / "launcher-token"),
        bind_url=f"http://127.0.0.1:{ports.public}", hub_port=ports.hub,
        proxy_api_port=ports.proxy_api, state_dir=str(state),
        launcher_command=launcher_cmd, launcher_environment=env if launcher_cmd else None,
        home_is_launcher=launcher_cmd is not None,
        login=login + extra)
    return _private(state / "jupyterhub_config.py", text)
