"""The JupyterHub configuration the project ships: OutpostSpawner + the launcher service.

Use it from a ``jupyterhub_config.py``::

    from launcher.hubconfig import configure_hub
    configure_hub(c, systems_file="/etc/nfdi/systems.json",
                  launcher_url="http://127.0.0.1:8585", launcher_token_file="/etc/nfdi/token")

or write one with :func:`render_hub_config`. The systems file (:mod:`launcher.systems`)
names each system's Outpost and this hub's credentials there.

What the OutpostSpawner needs here (read from jupyterhub-outpostspawner 2.2.13 /
forwardbasespawner 2.1.2): the ``kubernetes`` package installed (hard import, never
called), ``ssh_during_startup = False`` so that the Outpost's ``"127.0.0.1:<port>"``
answer is used directly (no tunnel, no k8s Service), and the custom scopes its API
handlers check declared in ``custom_scopes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from launcher.systems import System, load_systems

CUSTOM_SCOPES = {
    "custom:servers:list": {"description": "List all servers (Outpost cleanup loop)."},
    "custom:outpostflavors:set": {"description": "Outposts push their flavor usage."},
    "custom:sshnode:restart": {"description": "Re-create tunnels of a restarted node."},
}


def configure_spawner(c: Any, systems: dict[str, System], poll_interval_ms: int = 10_000,
                      ) -> None:
    """OutpostSpawner with one Outpost URL and Basic-auth identity per system, direct mode.

    Before each start the user's rights are checked (:func:`launcher.login.rights.
    check_start`) when the login keeps them (the OIDC login); the Outpost checks the
    flavor again with the ``authentication`` the OutpostSpawner sends."""

    def system_of(user_options: dict[str, Any]) -> System:
        name = (user_options or {}).get("system", "")
        if name not in systems:
            raise ValueError(f"Unknown system {name!r}; choose one of {', '.join(systems)}")
        return systems[name]

    async def check_allowed(spawner: Any, user_options: dict[str, Any]) -> None:
        from launcher.login.rights import check_start

        system = system_of(user_options)
        auth_state = await spawner.user.get_auth_state()
        authenticator = spawner.authenticator
        check_start(auth_state, user_options or {}, system,
                    max_age=float(getattr(authenticator, "rights_max_age", 120.0)),
                    access_help=str(getattr(authenticator, "access_help", "")))

    c.JupyterHub.spawner_class = "outpostspawner.OutpostSpawner"
    c.OutpostSpawner.check_allowed = check_allowed
    c.OutpostSpawner.request_url = lambda spawner, uo: system_of(uo).url
    c.OutpostSpawner.request_headers = lambda spawner, uo: system_of(uo).auth_header()
    c.OutpostSpawner.ssh_during_startup = False  # direct: the Outpost answers 127.0.0.1:<port>
    c.OutpostSpawner.start_async = False
    c.OutpostSpawner.stop_async = False
    c.OutpostSpawner.custom_poll_interval = poll_interval_ms
    c.OutpostSpawner.request_kwargs = {"request_timeout": 180, "connect_timeout": 10}
    c.JupyterHub.allow_named_servers = True
    c.JupyterHub.custom_scopes = CUSTOM_SCOPES


def configure_launcher_service(c: Any, *, url: str, token: str,
                               command: list[str] | None = None,
                               environment: dict[str, str] | None = None) -> None:
    """Register the launcher at ``/services/launcher/`` with the scopes its hand-off needs.

    With *command* the hub starts and stops the launcher itself (a managed service)."""
    service: dict[str, Any] = {"name": "launcher", "url": url, "api_token": token,
                               "oauth_no_confirm": True, "display": True}
    if command:
        service.update(command=command, environment=environment or {})
    c.JupyterHub.services = [service]
    c.JupyterHub.load_roles = [
        {"name": "launcher-service", "services": ["launcher"],
         "scopes": ["admin:users", "admin:servers", "access:servers", "read:users",
                    "list:users", "read:users:activity", "tokens",
                    # the per-user systems of an OIDC login (auth_state.outpost_flavors)
                    "admin:auth_state"]},
        # Users may open the launcher (a hub service) and their own servers.
        {"name": "user", "scopes": ["self", "access:services!service=launcher"]},
    ]


def configure_hub(c: Any, *, systems_file: str, launcher_url: str, launcher_token_file: str,
                  bind_url: str = "http://127.0.0.1:8000", hub_port: int = 8081,
                  proxy_api_port: int = 8001, state_dir: str = ".",
                  launcher_command: list[str] | None = None,
                  launcher_environment: dict[str, str] | None = None,
                  home_is_launcher: bool = True) -> None:
    """A complete loopback-only hub: OutpostSpawner, the launcher, named servers."""
    c.JupyterHub.bind_url = bind_url
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_connect_ip = "127.0.0.1"
    c.JupyterHub.hub_port = hub_port
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{proxy_api_port}"
    c.JupyterHub.db_url = f"sqlite:///{state_dir}/jupyterhub.sqlite"
    c.JupyterHub.cookie_secret_file = f"{state_dir}/jupyterhub_cookie_secret"
    c.JupyterHub.pid_file = f"{state_dir}/jupyterhub.pid"
    c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}
    if home_is_launcher:
        c.JupyterHub.default_url = "/services/launcher/"
    c.Spawner.start_timeout = 180
    c.Spawner.http_timeout = 90
    configure_spawner(c, load_systems(systems_file))
    token = Path(launcher_token_file).read_text(encoding="utf-8").strip()
    configure_launcher_service(c, url=launcher_url, token=token, command=launcher_command,
                               environment=launcher_environment)


def configure_oidc_login(c: Any, *, issuer: str, client_id: str, client_secret_file: str,
                         callback_url: str, crypt_key_file: str, systems_file: str = "",
                         login_service: str = "", access_help: str = "") -> None:
    """Login through an OpenID Provider (:class:`~launcher.login.authenticator.
    OIDCAuthenticator`, e.g. IAM4NFDI's NFDI Infrastructure Proxy), auth_state encrypted.

    *client_secret_file* and *crypt_key_file* (64 hex characters: 32 bytes for
    JupyterHub's CryptKeeper) are files of mode 0600; their contents never appear in
    the configuration. Further settings: ``c.OIDCAuthenticator.*`` and
    ``c.EntitlementMapper.*`` (see docs/operator.md)."""
    key = Path(crypt_key_file).read_text(encoding="utf-8").strip()
    c.CryptKeeper.keys = [bytes.fromhex(key)]
    c.JupyterHub.authenticator_class = "launcher.login.authenticator.OIDCAuthenticator"
    c.OIDCAuthenticator.issuer = issuer
    c.OIDCAuthenticator.client_id = client_id
    c.OIDCAuthenticator.client_secret = Path(client_secret_file).read_text(
        encoding="utf-8").strip()
    c.OIDCAuthenticator.oauth_callback_url = callback_url
    c.OIDCAuthenticator.systems_file = systems_file
    c.OIDCAuthenticator.allow_all = True  # who may use what is decided per system
    if login_service:
        c.OIDCAuthenticator.login_service = login_service
    if access_help:
        c.OIDCAuthenticator.access_help = access_help


def render_hub_config(**kwargs: Any) -> str:
    """A ``jupyterhub_config.py`` calling :func:`configure_hub` (plus login settings)."""
    login = kwargs.pop("login", "")
    args = ",\n    ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return ("# Generated by nfdi-launcher; see launcher/hubconfig.py\n"
            "from launcher.hubconfig import configure_hub\n\n"
            "c = get_config()  # noqa: F821\n"
            f"configure_hub(\n    c,\n    {args},\n)\n{login}\n")
