"""Issue 13 through ``nfdi-launcher stack --oidc``, started as the README says, in Chromium.

Each demo user logs in at the local OpenID Provider, comes back to the launcher, sees exactly
their systems and flavors, and launches; carol (no entitlements) is told why and where to
ask; a forbidden flavor sent straight to the hub's API is refused by the Outpost; logout ends
the session at the provider (the next login asks for the password again).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from launcher.cli.stack_oidc import DEMO_USERS
from tests.harness.chromium import new_page
from tests.harness.hub import wait_for
from tests.harness.stack import RunningStack, StackPool
from tests.launcher.journey.browser import LAUNCH_MS, REPO1, wait_for_lab
from tests.launcher.login.oidc_browser import issuer, login, offered, password

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.registry, pytest.mark.hub,
              pytest.mark.slow]

#: what each demo user may pick: system -> flavors, highest weight first
EXPECTED = {
    "alice": {"local-small": ["small"]},
    "bob": {"local-small": ["medium", "small"], "local-large": ["large", "medium"]},
    "carol": {},
}
LAUNCH = {"alice": ("local-small", "small"), "bob": ("local-large", "large")}


@pytest.fixture(scope="module")
def oidc_stack(stack_pool: StackPool) -> RunningStack:
    return stack_pool.get("--oidc")


@pytest.mark.parametrize("user", ["alice", "bob", "carol"])
def test_each_user_sees_exactly_their_choices_and_launches(
        oidc_stack: RunningStack, chromium: Any, user: str) -> None:
    stack = oidc_stack
    page = new_page(chromium)
    try:
        login(page, stack, user)
        assert offered(page) == EXPECTED[user]
        # a script's request counts as the logged-in user's with the page's XSRF token
        systems = page.evaluate("""async () => {
          const cfg = JSON.parse(document.getElementById('app').getAttribute('data-config'));
          const r = await fetch('api/v1/systems', {headers: {'X-XSRFToken': cfg.xsrf_token}});
          return await r.json(); }""")
        assert {s["name"]: [f["name"] for f in s["flavors"]] for s in systems["systems"]} \
            == EXPECTED[user]
        if user not in LAUNCH:
            note = page.locator("#no-systems")
            assert note.is_visible()
            assert "Your account (carol) may not use any of this service's systems" \
                in note.text_content()
            assert "log in as bob" in note.text_content()   # where to ask, on this demo
            page.fill("#identifier", REPO1)
            page.click("#resolve-btn")
            page.wait_for_selector("#options:not([hidden])")
            assert page.locator("#launch-btn").is_disabled()
            return
        system, flavor = LAUNCH[user]
        page.fill("#identifier", REPO1)
        page.click("#resolve-btn")
        page.wait_for_selector("#options:not([hidden])")
        page.select_option("#system", system)
        page.select_option("#flavor", flavor)
        page.click("#launch-btn")
        wait_for_lab(page, user, LAUNCH_MS)
        server = next(iter(stack.servers(user).values()))
        assert server["user_options"]["system"] == system
        assert server["user_options"]["flavor"] == flavor
    finally:
        page.context.close()
        stack.remove_servers(user)


def test_a_crafted_start_with_a_forbidden_flavor_is_refused_by_the_outpost(
        oidc_stack: RunningStack, chromium: Any) -> None:
    stack = oidc_stack
    page = new_page(chromium)
    try:
        login(page, stack, "alice")   # rights in auth_state, as after any login
    finally:
        page.context.close()
    # straight to the hub's API with alice's own token: no launcher in between
    token = stack.user_token("alice")
    options = {"service": "jupyterlab", "option": "custom", "profile": "custom",
               "system": "local-small", "flavor": "medium",
               "custom": {"customimage": "local/jupyter-base:6.1.1"},
               "storage": {"localstoragepath": "/home/jovyan/work"}}
    r = requests.post(stack.public + "hub/api/users/alice/servers/crafted", json=options,
                      headers={"Authorization": f"token {token}"}, timeout=60)
    assert r.status_code in (201, 202), r.text
    refusal = "Your account may not use the flavor 'medium' on this system."
    wait_for(lambda: refusal in stack.log("jupyterhub") + stack.log("outpost"), 60,
             "the Outpost's refusal")
    assert "crafted" not in stack.servers("alice") or not \
        stack.servers("alice")["crafted"].get("ready")
    stack.remove_servers("alice")


def test_logout_ends_the_session_at_the_provider(oidc_stack: RunningStack,
                                                 chromium: Any) -> None:
    stack = oidc_stack
    page = new_page(chromium)
    try:
        login(page, stack, "bob")
        page.click("#logout-link")   # the launcher's "Log out": the launcher, the hub, the provider
        page.wait_for_url(issuer(stack) + "/session/end**")
        page.get_by_role("button", name="Yes, sign me out").click()
        page.wait_for_url(stack.public + "hub/login**")
        # logging in again goes to the provider's password form, not straight back
        page.get_by_text("Sign in with the local OpenID Provider").click()
        page.wait_for_selector("#password")
        assert "sign in" in page.title().lower()
    finally:
        page.context.close()


def test_demo_users_and_their_passwords_stay_out_of_the_output(
        oidc_stack: RunningStack) -> None:
    stack = oidc_stack
    text = stack.text()
    for user in DEMO_USERS:
        path = stack.state / f"oidc-password-{user}"
        assert path.stat().st_mode & 0o077 == 0
        assert password(stack, user) not in text
        assert password(stack, user) not in stack.log("jupyterhub")
    assert (stack.state / "jupyterhub-crypt-key").stat().st_mode & 0o077 == 0
    assert "alice (small flavor only)" in text
