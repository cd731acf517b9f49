"""``nfdi-launcher stack --oidc``: a local OpenID Provider and the hub's OIDC login.

The provider is node's ``oidc-provider`` (``launcher/oidc_provider/``, installed by
``scripts/setup.sh`` from its lockfile) on 127.0.0.1, named ``http://localhost:<port>``
so that browsers keep its cookies apart from the hub's (``http://127.0.0.1:<port>``).
It knows the demo identities of :data:`DEMO_USERS`, whose entitlements differ; each
one's password is generated into ``<state-dir>/oidc-password-<user>`` (mode 0600).

The hub logs in through :class:`~launcher.login.authenticator.OIDCAuthenticator`
(:func:`launcher.hubconfig.configure_oidc_login`), its auth_state encrypted with a key
kept in ``<state-dir>/jupyterhub-crypt-key`` (0600). The Outpost's ``flavors.yaml`` has
``users:`` rules for the demo groups (:data:`DEMO_USER_RULES`).
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import launcher

PROVIDER_DIR = Path(launcher.__file__).parent / "oidc_provider"

#: the demo namespace of the entitlements (AARC-G069: urn:<namespace>:group:...)
NAMESPACE = "geant:demo.nfdi-launcher.local"
AUTHORITY = "#demo-op"
#: the HPC system of ``stack --with-slurm`` and the Unix account its jobs run as there
HPC_SYSTEM = "hpc-slurm"
HPC_ACCOUNT = "nfdi-hpc"
MEMBERS = f"{NAMESPACE}:jupyter"
COMPUTE = f"{NAMESPACE}:jupyter:compute"

DEMO_USERS: dict[str, dict[str, Any]] = {
    "alice": {"name": "Alice Example", "email": "alice@example.org", "about": "small flavor only",
              "eduperson_entitlement": [f"urn:{NAMESPACE}:group:jupyter{AUTHORITY}"]},
    "bob": {"name": "Bob Example", "email": "bob@example.org",
            "about": "all flavors, HPC project demo-project",
            "eduperson_entitlement": [
                f"urn:{NAMESPACE}:group:jupyter{AUTHORITY}",
                f"urn:{NAMESPACE}:group:jupyter:compute{AUTHORITY}",
                f"urn:{NAMESPACE}:res:hpc-slurm:demo-project:act:{HPC_ACCOUNT}:primary{AUTHORITY}"]},
    "carol": {"name": "Carol Example", "email": "carol@example.org",
              "about": "no entitlements: told why and where to ask"},
}

#: ``users:`` rules of the stack's flavors.yaml (they apply only to users whose hub sends
#: an ``authentication`` dict, i.e. to OIDC logins; the dummy login sees the hub's flavors)
DEMO_USER_RULES: dict[str, Any] = {
    "members-small": {"authentication": {"groups": [MEMBERS]}, "hubs": ["stack-local-small"],
                      "flavors": ["small"], "weight": 10},
    "members-no-large": {"authentication": {"groups": [MEMBERS]},
                         "hubs": ["stack-local-large"], "forbidden": True, "weight": 10},
    "compute-small": {"authentication": {"groups": [COMPUTE]}, "hubs": ["stack-local-small"],
                      "flavors": ["small", "medium"], "weight": 20},
    "compute-large": {"authentication": {"groups": [COMPUTE]}, "hubs": ["stack-local-large"],
                      "flavors": ["medium", "large"], "weight": 20},
    "everyone-else": {"authentication": {"groups": [MEMBERS]}, "negate_authentication": True,
                      "forbidden": True, "weight": 0},
}

#: ``users:`` rules of the Slurm Outpost's flavors (``stack --with-slurm --oidc``): holders
#: of a project there get every flavor, everybody else none
HPC_USER_RULES: dict[str, Any] = {
    "project-holders": {"authentication": {"groups": [f"res:{HPC_SYSTEM}"]}, "weight": 10},
    "everyone-else": {"authentication": {"groups": [f"res:{HPC_SYSTEM}"]},
                      "negate_authentication": True, "forbidden": True, "weight": 0},
}

ACCESS_HELP = ("Access comes from your group memberships at the login service; on this "
               "demo stack log in as bob for more.")


@dataclass(frozen=True)
class ProviderSetup:
    issuer: str
    config: Path
    client_id: str
    client_secret_file: Path
    users: dict[str, Path]  # user -> password file


def crypt_key_file(state: Path) -> Path:
    """JupyterHub's auth_state key (32 bytes, hex) in a 0600 file, made once."""
    path = state / "jupyterhub-crypt-key"
    if not path.exists():
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(os.urandom(32).hex() + "\n")
    return path


def provider_command(config: Path) -> list[str]:
    node = shutil.which("node")
    script = PROVIDER_DIR / "provider.js"
    if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("the local OpenID Provider is not installed; run scripts/setup.sh "
                           "(it needs node and `npm ci` in launcher/oidc_provider)")
    return [node, str(script), str(config)]


def _private(path: Path, text: str) -> Path:
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


Secret = Callable[[Path, int], tuple[str, bool]]


def write_provider_config(state: Path, port: int, hub_url: str,
                          users: dict[str, dict[str, Any]], secret: Secret,
                          client_id: str = "jupyterhub") -> ProviderSetup:
    """The provider's config (0600) for one hub at *hub_url* (``http://127.0.0.1:<p>/``)
    and *users*; ``secret(path, nbytes)`` makes or reads a 0600 secret file."""
    issuer = f"http://localhost:{port}"
    client_secret_file = state / "oidc-client-secret"
    client_secret = secret(client_secret_file, 32)[0]
    passwords = {name: state / f"oidc-password-{name}" for name in users}
    for path in passwords.values():
        secret(path, 12)
    hub = hub_url.rstrip("/")
    config = {
        "issuer": issuer, "host": "127.0.0.1", "port": port,
        "state_dir": str(state / "oidc-provider"),
        "clients": [{"client_id": client_id, "client_secret": client_secret,
                     "redirect_uris": [f"{hub}/hub/oauth_callback"],
                     "post_logout_redirect_uris": [f"{hub}/hub/login"]}],
        "users": [{"sub": name, "password_file": str(passwords[name]),
                   "misbehave": spec.get("misbehave", ""),
                   "claims": {k: v for k, v in spec.items() if k not in ("about", "misbehave")}}
                  for name, spec in users.items()],
    }
    path = _private(state / "oidc-provider.json", json.dumps(config, indent=2))
    return ProviderSetup(issuer=issuer, config=path, client_id=client_id,
                         client_secret_file=client_secret_file, users=passwords)


def hub_login_config(setup: ProviderSetup, *, hub_url: str, systems_file: Path,
                     crypt_key_file: Path, access_help: str = ACCESS_HELP) -> str:
    """The ``jupyterhub_config.py`` lines of the OIDC login against *setup*."""
    return textwrap.dedent(f"""
        # Login through the local OpenID Provider (nfdi-launcher stack --oidc).
        from launcher.hubconfig import configure_oidc_login
        configure_oidc_login(
            c, issuer={setup.issuer!r}, client_id={setup.client_id!r},
            client_secret_file={str(setup.client_secret_file)!r},
            callback_url={hub_url.rstrip('/') + '/hub/oauth_callback'!r},
            systems_file={str(systems_file)!r}, crypt_key_file={str(crypt_key_file)!r},
            login_service="the local OpenID Provider", access_help={access_help!r})
        """)


def ensure_user_rules(flavors_file: Path, rules: dict[str, Any] = DEMO_USER_RULES,
                      ) -> list[str]:
    """Add *rules* to a flavors.yaml that has no ``users:`` rules yet (one written by an
    older stack, or without ``--oidc``); an operator's own rules are left alone."""
    import yaml

    doc = yaml.safe_load(flavors_file.read_text(encoding="utf-8")) or {}
    if "users" in doc:
        return []
    doc["users"] = rules
    flavors_file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return [f"flavors: added the demo users' rules to {flavors_file}"]


def login_note(setup: ProviderSetup) -> str:
    users = ", ".join(f"{name} ({DEMO_USERS[name]['about']})" for name in setup.users
                      if name in DEMO_USERS)
    folder = next(iter(setup.users.values())).parent if setup.users else ""
    return (f"login: at the local OpenID Provider {setup.issuer} as {users}; each password "
            f"in {folder}/oidc-password-<user>")
