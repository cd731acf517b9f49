"""The real local OpenID Provider (node oidc-provider, ``launcher/oidc_provider``) for tests,
and a login through a hub's OIDC flow scripted with ``requests`` (browser tests use
Chromium instead).

API::

    op = start_provider(workdir, hub_url="http://127.0.0.1:<port>/", users={...})
    op.issuer, op.passwords["alice"], op.stop(), op.start()   # same port and keys
    session, response = hub_login(hub_url, "alice", op.passwords["alice"])

Fixture: ``provider_factory`` (function scope; providers it made are stopped afterwards).
The provider uses ``localhost`` and the hub ``127.0.0.1``, so the two keep separate cookies
even in one ``requests.Session``, as in a browser.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from launcher.cli.stack_files import secret_file
from launcher.cli.stack_oidc import ProviderSetup, provider_command, write_provider_config
from tests.harness.hub import free_port, wait_for


@dataclass
class Provider:
    workdir: Path
    setup: ProviderSetup
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return self.setup.issuer

    @property
    def passwords(self) -> dict[str, str]:
        return {u: p.read_text().strip() for u, p in self.setup.users.items()}

    @property
    def client_secret(self) -> str:
        return self.setup.client_secret_file.read_text().strip()

    def start(self) -> None:
        with (self.workdir / "oidc-provider.log").open("ab") as log:
            self.process = subprocess.Popen(provider_command(self.setup.config),
                                            cwd=self.workdir, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        proc = self.process

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"oidc-provider exited {proc.returncode}:\n{self.log_tail()}")
            return requests.get(self.issuer + "/.well-known/openid-configuration",
                                timeout=2).status_code == 200

        wait_for(answers, 30, "the OpenID Provider")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "oidc-provider.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def start_provider(workdir: Path, *, hub_url: str, users: dict[str, dict[str, Any]],
                   port: int = 0) -> Provider:
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    setup = write_provider_config(workdir, port, hub_url, users, secret_file)
    provider = Provider(workdir=workdir, setup=setup, port=port)
    provider.start()
    return provider


@pytest.fixture
def provider_factory(tmp_path_factory: pytest.TempPathFactory,
                     ) -> Iterator[Callable[..., Provider]]:
    made: list[Provider] = []

    def make(**kwargs: Any) -> Provider:
        provider = start_provider(tmp_path_factory.mktemp("oidc"), **kwargs)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.stop()


_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def follow(session: requests.Session, response: requests.Response,
           limit: int = 12) -> requests.Response:
    """Follow redirects by hand (bounded), so every hop's cookies are kept."""
    for _ in range(limit):
        if response.status_code not in (301, 302, 303, 307, 308):
            return response
        response = session.get(urljoin(response.url, response.headers["Location"]),
                               allow_redirects=False, timeout=30)
    raise RuntimeError(f"more than {limit} redirects, last {response.url}")


def hub_login(hub_url: str, user: str, password: str,
              session: requests.Session | None = None,
              ) -> tuple[requests.Session, requests.Response]:
    """Log in at the hub through the provider's login form; returns the session and the
    last response (the hub's page after login, or its error page)."""
    session = session or requests.Session()
    page = follow(session, session.get(hub_url.rstrip("/") + "/hub/oauth_login",
                                       allow_redirects=False, timeout=30))
    match = _ACTION.search(page.text)
    if not match:  # already logged in at the provider, or an error page
        return session, page
    answer = session.post(urljoin(page.url, match.group(1)),
                          data={"login": user, "password": password},
                          allow_redirects=False, timeout=30)
    return session, follow(session, answer)


def authorize(provider: Provider, user: str, password: str,
              scope: str = "openid profile email eduperson_entitlement") -> dict[str, Any]:
    """The authorization code flow without a hub (stops at the redirect to the hub's
    callback, then redeems the code): the provider's token response."""
    config = json.loads(provider.setup.config.read_text())
    client = config["clients"][0]
    session = requests.Session()
    start = session.get(provider.issuer + "/auth", allow_redirects=False, timeout=30, params={
        "client_id": client["client_id"], "redirect_uri": client["redirect_uris"][0],
        "response_type": "code", "scope": scope, "state": "test-state"})
    page = follow(session, start)
    match = _ACTION.search(page.text)
    assert match, page.text
    answer = session.post(urljoin(page.url, match.group(1)), allow_redirects=False,
                          data={"login": user, "password": password}, timeout=30)
    for _ in range(12):
        location = answer.headers.get("Location", "")
        if answer.status_code not in (302, 303) or location.startswith(
                client["redirect_uris"][0]):
            break
        answer = session.get(urljoin(answer.url, location), allow_redirects=False, timeout=30)
    location = answer.headers.get("Location", "")
    if not location.startswith(client["redirect_uris"][0]):
        raise RuntimeError(f"login as {user} did not come back ({answer.status_code})")
    code = parse_qs(urlsplit(location).query)["code"][0]
    token = requests.post(provider.issuer + "/token", timeout=30, data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": client["redirect_uris"][0], "client_id": client["client_id"],
        "client_secret": client["client_secret"]})
    token.raise_for_status()
    return dict(token.json())
