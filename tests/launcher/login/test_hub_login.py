"""A real JupyterHub logging in through the real local OpenID Provider, with a real Outpost
deciding flavors per user (no containers: every start here is refused or stops at the
Outpost's image check).

One hub, one provider and one Outpost for the module; the demo identities of the stack
plus users with hostile or no entitlements and users whose id_tokens the provider forges.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from launcher.cli.stack_files import DEFAULT_FLAVORS
from launcher.cli.stack_oidc import DEMO_USER_RULES, DEMO_USERS, crypt_key_file
from launcher.systems import System, write_systems
from tests.harness.hub import VENV_BIN, Hub, free_port, progress_events, start_hub, wait_for
from tests.harness.oidc import Provider, hub_login, start_provider
from tests.outpost.outpost_proc import OutpostProc, make_outpost, user_options

pytestmark = pytest.mark.hub

NS = "geant:demo.nfdi-launcher.local"
USERS: dict[str, dict[str, Any]] = {
    **DEMO_USERS,
    "mallory": {"name": "Mallory", "eduperson_entitlement": [
        f"urn:{NS}:group:jupyter:compute\nurn:{NS}:group:admins",   # smuggled line
        f"urn:{NS}:group:jupyter:compute" + "x" * 5000,             # very long
        f"urn:{NS}:group:jupyter|compute",                           # not a URN character
        "urn:x:group:(.*)", f"urn:{NS}:group:.*", f"urn:{NS}:group:jupyter*",  # patterns
        42]},
    **{f"eve-{mode}": {"name": "Eve", "misbehave": mode,
                       "eduperson_entitlement": [f"urn:{NS}:group:jupyter:compute"]}
       for mode in ("wrong-signature", "expired", "wrong-audience")},
}
HUBS = {"local-small": "stack-local-small", "local-large": "stack-local-large",
        "hpc-slurm": "test-hpc"}
FLAVORS = copy.deepcopy(DEFAULT_FLAVORS)
FLAVORS["flavors"]["batch"] = {"display_name": "Batch node", "weight": 1}
FLAVORS["hubs"]["hpc"] = {"jupyterhub_name": ["test-hpc"], "flavors": []}
FLAVORS["users"] = {**DEMO_USER_RULES, "hpc-holders": {
    "authentication": {"groups": ["res:hpc-slurm"]}, "hubs": ["test-hpc"],
    "flavors": ["batch"], "weight": 30}}


@dataclass
class Setup:
    hub: Hub
    op: Provider
    outpost: OutpostProc

    def login(self, user: str, session: requests.Session | None = None,
              ) -> tuple[requests.Session, requests.Response]:
        return hub_login(self.hub.url, user, self.op.passwords[user], session)

    def user(self, name: str) -> dict[str, Any]:
        r = self.hub.api("GET", f"/users/{name}")
        return dict(r.json()) if r.status_code == 200 else {}

    def user_token(self, name: str) -> str:
        r = self.hub.api("POST", f"/users/{name}/tokens", json={"expires_in": 600})
        return str(r.json()["token"])

    def spawn_as(self, name: str, server: str, options: dict[str, Any]) -> str:
        """Start *server* as the user would with their own API token, bypassing the
        launcher; return the message the start ended with."""
        r = requests.post(f"{self.hub.api_url}/users/{name}/servers/{server}", json=options,
                          headers={"Authorization": f"token {self.user_token(name)}"},
                          timeout=60)
        if r.status_code not in (201, 202):
            return f"{r.status_code} {r.text}"
        try:
            return json.dumps(progress_events(self.hub, name, server, timeout=60))
        except requests.HTTPError:
            # refused before the progress stream opened ("not pending"): the hub logged it
            return self.hub.log_tail(100)


def launcher_command(work: Path, systems: Path) -> list[str]:
    """The launcher as the hub's managed service, offering the Outposts' systems."""
    config = work / "launcher_config.py"
    config.write_text("\n".join([
        "from launcher.systems import launcher_systems",
        "c.LauncherConfig.anonymous = False",
        f"c.LauncherConfig.systems = launcher_systems({str(systems)!r})",
        "c.LauncherConfig.access_help = 'Ask the test desk.'",
        f"c.LauncherConfig.state_dir = {str(work / 'launcher')!r}",
    ]) + "\n")
    return [str(VENV_BIN / "nfdi-launcher"), "serve", "--config", str(config)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("oidc-hub")
    port = free_port()
    hub_url = f"http://127.0.0.1:{port}/"
    op = start_provider(work / "op", hub_url=hub_url, users=USERS)
    outpost = make_outpost(work / "outpost", flavors=FLAVORS, hubs=tuple(HUBS.values()))
    systems = work / "systems.json"
    write_systems(systems, [System(name=s, url=outpost.url + "/services", hub_name=h,
                                   password=outpost.credentials[h], display_name=s,
                                   needs_project=s == "hpc-slurm") for s, h in HUBS.items()])
    config = f"""
from launcher.hubconfig import configure_oidc_login, configure_spawner
from launcher.systems import load_systems
configure_spawner(c, load_systems({str(systems)!r}), poll_interval_ms=2000)
configure_oidc_login(c, issuer={op.issuer!r}, client_id="jupyterhub",
    client_secret_file={str(op.setup.client_secret_file)!r},
    callback_url={hub_url + 'hub/oauth_callback'!r}, systems_file={str(systems)!r},
    crypt_key_file={str(crypt_key_file(work))!r}, access_help="Ask the test desk.")
c.JupyterHub.redirect_to_server = False  # no default server: land on /hub/home
from jupyterhub.utils import random_port
c.JupyterHub.services[0].update(url=f"http://127.0.0.1:{{random_port()}}",
    command={launcher_command(work, systems)!r}, oauth_no_confirm=True)
c.JupyterHub.load_roles = [{{"name": "launcher-service", "services": ["launcher"],
    "scopes": ["admin:users", "admin:servers", "admin:auth_state", "read:users", "tokens",
               "list:users", "read:groups"]}},
    # users may use the launcher service (as launcher.hubconfig grants it)
    {{"name": "user", "scopes": ["self", "access:services!service=launcher"]}}]
"""
    hub = start_hub(work / "hub", config=config, spawner="outpost", port=port)
    wait_for(lambda: requests.get(hub.url + "services/launcher/versions", timeout=2).ok, 60,
             "the launcher service behind the proxy")
    try:
        yield Setup(hub=hub, op=op, outpost=outpost)
    finally:
        hub.stop()
        op.stop()
        outpost.cleanup()


def test_demo_users_get_their_rights_and_a_small_auth_state(setup: Setup) -> None:
    for name in ("alice", "bob"):
        _, page = setup.login(name)
        assert page.status_code == 200 and page.url.startswith(setup.hub.url), page.url
    alice, bob = setup.user("alice"), setup.user("bob")
    state = alice["auth_state"]
    assert set(state) == {"name", "groups", "entitlements", "resources", "outpost_flavors",
                          "confirmed_at", "oauth_user", "userinfo_token", "token_expires_at"}
    assert not {"refresh_token", "id_token", "token_response", "access_token"} & set(state)
    assert set(state["oauth_user"]) == {"sub", "name", "preferred_username", "email"}
    assert {k: sorted(v) if v else v for k, v in state["outpost_flavors"].items()} == {
        "local-small": ["small"], "local-large": False, "hpc-slurm": False}
    assert alice["groups"] == [f"{NS}:jupyter"]
    flavors = bob["auth_state"]["outpost_flavors"]
    assert sorted(flavors["local-small"]) == ["medium", "small"]
    assert sorted(flavors["local-large"]) == ["large", "medium"]
    assert list(flavors["hpc-slurm"]) == ["batch"]
    assert bob["auth_state"]["resources"] == [{
        "system": "hpc-slurm", "project": "demo-project", "account": "nfdi-hpc", "partition": "",
        "accounttype": "primary"}]
    assert {"res:hpc-slurm", "res:hpc-slurm:demo-project", f"{NS}:jupyter:compute"} \
        <= set(bob["groups"])


def test_no_entitlements_and_hostile_entitlements(setup: Setup) -> None:
    for name in ("carol", "mallory"):
        _, page = setup.login(name)
        assert page.status_code == 200, page.text
    carol = setup.user("carol")["auth_state"]
    assert carol["groups"] == [] and set(carol["outpost_flavors"].values()) == {False}
    mallory = setup.user("mallory")
    assert sorted(mallory["groups"]) == sorted(["x:(.*)", f"{NS}:.*", f"{NS}:jupyter*"])
    # her "groups" are data: none is literally a demo group, so no flavor anywhere
    assert set(mallory["auth_state"]["outpost_flavors"].values()) == {False}


@pytest.mark.parametrize("mode, message", [
    ("wrong-signature", "signature is not valid"),
    ("expired", "the id_token has expired"),
    ("wrong-audience", "the id_token was issued for another application"),
])
def test_forged_id_tokens_log_nobody_in(setup: Setup, mode: str, message: str) -> None:
    _, page = setup.login(f"eve-{mode}")
    assert page.status_code == 403
    assert "Login refused: " in page.text and message in page.text
    assert setup.user(f"eve-{mode}") == {}


def test_a_forbidden_flavor_is_refused_by_the_outpost(setup: Setup) -> None:
    setup.login("alice")
    message = setup.spawn_as("alice", "crafted", user_options(
        system="local-small", flavor="medium"))
    assert "Your account may not use the flavor 'medium' on this system. You may use: " \
           "Small: 1 CPU, 2 GB (small)." in message
    message = setup.spawn_as("alice", "crafted2", user_options(
        system="local-large", flavor="large"))
    assert "Your account may not start servers on this system." in message
    message = setup.spawn_as("bob", "hpc", user_options(system="hpc-slurm", flavor="batch"))
    assert "Choose one of your projects on 'hpc-slurm': demo-project (account nfdi-hpc)" in message
    assert setup.outpost.request("GET", "/services/", hub="stack-local-small").json() == []


def test_provider_down_no_login_and_no_start_with_old_rights(setup: Setup) -> None:
    session, _ = setup.login("bob")
    allowed = user_options(system="local-small", flavor="medium",
                           image="docker.io/library/not-allowed:1")
    # with the provider up, the start passes the hub and stops at the Outpost's image check
    assert "not from an allowed registry" in setup.spawn_as("bob", "up", allowed)
    setup.op.stop()
    try:
        page = requests.get(setup.hub.url + "hub/oauth_login", timeout=30)
        assert page.status_code == 503
        assert "Logging in is not possible right now: the login service at localhost:" \
               f"{setup.op.port} cannot be reached" in page.text
        message = setup.spawn_as("bob", "down", allowed)
        assert "Your access rights could not be confirmed with the login service" in message
    finally:
        setup.op.start()
    # the provider is back, but it keeps tokens in memory only: bob's old token is unknown
    # to it now, so the hub asks him to log in again; then his rights count again
    assert "Please log in again" in setup.spawn_as("bob", "back", allowed)
    setup.login("bob")
    assert "not from an allowed registry" in setup.spawn_as("bob", "again", allowed)


def test_logout_ends_the_session_at_the_provider(setup: Setup) -> None:
    session, page = setup.login("alice")
    assert page.status_code == 200
    # logged in at the provider: a second login needs no password
    _, again = hub_login(setup.hub.url, "alice", "wrong", session)
    assert again.status_code == 200 and "/hub/" in again.url
    answer = session.get(setup.hub.url + "hub/logout", allow_redirects=False, timeout=30)
    end_session = answer.headers["Location"]
    assert end_session.startswith(setup.op.issuer + "/session/end?client_id=jupyterhub")
    confirm = session.get(end_session, timeout=30)
    form = confirm.text.split('action="', 1)[1].split('"', 1)[0]
    xsrf = confirm.text.split('name="xsrf" value="', 1)[1].split('"', 1)[0]
    done = session.post(requests.compat.urljoin(confirm.url, form),
                        data={"xsrf": xsrf, "logout": "yes"}, timeout=30)
    assert done.url == setup.hub.url + "hub/login"
    assert "userinfo_token" not in setup.user("alice")["auth_state"]
    # the provider asks for the password again
    _, page = hub_login(setup.hub.url, "alice", "wrong", session)
    assert page.status_code == 401 and "Wrong user name or password" in page.text


def test_no_secret_reaches_a_log(setup: Setup) -> None:
    setup.login("bob")
    secrets = [setup.user("bob")["auth_state"]["userinfo_token"], setup.op.client_secret,
               *setup.op.passwords.values()]
    logs = setup.hub.log_path.read_text() + (setup.op.workdir / "oidc-provider.log").read_text()
    assert [s for s in secrets if s in logs] == []


def _launcher(setup: Setup, user: str, path: str) -> requests.Response:
    return requests.get(setup.hub.url + "services/launcher/" + path, timeout=60, headers={
        "Authorization": f"token {setup.user_token(user)}", "Accept": "text/event-stream"})


def _choices(systems: list[dict[str, Any]]) -> dict[str, Any]:
    return {s["name"]: ([f["name"] for f in s["flavors"]], s.get("projects"))
            for s in systems}


def test_the_launcher_offers_each_user_exactly_their_choices(setup: Setup) -> None:
    for name in ("alice", "bob", "carol"):
        setup.login(name)
    alice = _launcher(setup, "alice", "api/v1/systems").json()
    assert _choices(alice["systems"]) == {"local-small": (["small"], None)}
    bob = _launcher(setup, "bob", "api/v1/systems").json()
    assert _choices(bob["systems"]) == {
        "local-small": (["medium", "small"], None), "local-large": (["large", "medium"], None),
        "hpc-slurm": (["batch"], [{"project": "demo-project", "account": "nfdi-hpc",
                                   "partition": ""}])}
    carol = _launcher(setup, "carol", "api/v1/systems").json()
    assert carol["systems"] == []
    assert carol["message"].startswith("Your account (carol) may not use any of this "
                                       "service's systems")
    assert carol["message"].endswith("Ask the test desk.")


@pytest.mark.parametrize("user, query, status, message", [
    ("alice", "system=local-large&flavor=large", 403,
     "Your account may not use the system 'local-large'. Ask the test desk."),
    ("alice", "system=local-small&flavor=medium", 403,
     "Your account may not use the flavor 'medium' on 'local-small'. You may use: small."),
    ("bob", "system=hpc-slurm&flavor=batch&project=other-project", 400,
     "choose one of your projects on 'hpc-slurm': demo-project (account nfdi-hpc)"),
    ("bob", "system=local-small&flavor=huge", 400, "unknown flavor 'huge'"),
    ("carol", "", 403, "Your account (carol) may not use any of this service's systems"),
])
def test_the_launcher_refuses_what_a_user_may_not_use(setup: Setup, user: str, query: str,
                                                      status: int, message: str) -> None:
    setup.login(user)
    stream = _launcher(setup, user, "build/gh/nfdi/demo/HEAD?" + query)
    failed = json.loads(stream.text.split("data:", 1)[1].split("\n", 1)[0])
    assert failed["phase"] == "failed"
    assert failed["status_code"] == status
    assert message in failed["message"]
