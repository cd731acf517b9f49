"""What the ``stack --oidc`` browser tests do: log in at the local OpenID Provider through
the launcher and the hub, and read the choices the home form offers."""

from __future__ import annotations

import re
from typing import Any

from tests.harness.stack import RunningStack


def password(stack: RunningStack, user: str) -> str:
    return (stack.state / f"oidc-password-{user}").read_text().strip()


def issuer(stack: RunningStack) -> str:
    m = re.search(r"login: at the local OpenID Provider (http://localhost:\d+)", stack.text())
    assert m, stack.text()
    return m.group(1)


def login(page: Any, stack: RunningStack, user: str) -> None:
    """From the launcher's home page through the hub's login to the provider and back."""
    page.goto(stack.launcher)  # the launcher sends the browser through the hub's login
    page.get_by_text("Sign in with the local OpenID Provider").click()
    page.wait_for_url(issuer(stack) + "/interaction/**")
    page.fill("#login", user)
    page.fill("#password", password(stack, user))
    page.click("button[type=submit]")
    page.wait_for_url(stack.launcher + "**", timeout=60_000)
    page.wait_for_selector("#identifier")
    assert page.text_content("#whoami") == user


def offered(page: Any) -> dict[str, list[str]]:
    """The systems of the home form and, for each, the flavors it offers."""
    result = {}
    for system in page.eval_on_selector_all("#system option", "els => els.map(e => e.value)"):
        page.select_option("#system", system, force=True)  # the form's options show after Resolve
        result[system] = page.eval_on_selector_all("#flavor option",
                                                   "els => els.map(e => e.value)")
    return result
