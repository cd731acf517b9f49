"""Issue 18: a flavor the person's rights do not allow, on ``nfdi-launcher stack --oidc``
(the local OpenID Provider, the Outpost's ``users:`` rules of the stack's flavors.yaml).

alice (a member: the small flavor on local-small only) logs in at the provider. Asking the
launcher for another flavor is refused at once (the launcher reads her rights from the hub);
when her rights change at the Outpost after she logged in, the Outpost refuses the start and
the launcher tells her in the Outpost's words — after one start request, never retried.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.oidc import hub_login
from tests.harness.stack import RunningStack, StackPool
from tests.launcher.failures.checks import assert_final
from tests.launcher.failures.test_stack_limits import REPO1, launch, refused_starts

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.hub, pytest.mark.slow]


@pytest.fixture(scope="module")
def oidc_stack(stack_pool: StackPool) -> RunningStack:
    return stack_pool.get("--oidc")


def log_in(stack: RunningStack, user: str) -> None:
    """alice's login at the provider (as in a browser): her rights land in the hub."""
    password = (stack.state / f"oidc-password-{user}").read_text().strip()
    _session, page = hub_login(stack.public, user, password)
    assert page.status_code == 200, page.text[:300]
    state = stack.hub_api("GET", f"/users/{user}").json().get("auth_state") or {}
    assert "outpost_flavors" in state, "the login kept no rights"


@pytest.fixture
def rights_changed(oidc_stack: RunningStack) -> Iterator[Path]:
    """The stack's flavors.yaml, restored after the test."""
    path = oidc_stack.state / "flavors.yaml"
    saved = path.read_text(encoding="utf-8")
    yield path
    path.write_text(saved, encoding="utf-8")
    oidc_stack.remove_servers("alice")


def test_the_launcher_refuses_a_flavor_the_rights_do_not_allow(oidc_stack: RunningStack) -> None:
    log_in(oidc_stack, "alice")
    evs = launch(oidc_stack, "alice", REPO1, system="local-small", flavor="medium")
    final = assert_final(evs, "flavor_forbidden")
    assert final["message"].startswith(
        "Your account may not use the flavor 'medium' on 'local-small'. You may use: small."), final
    assert len(evs) == 1  # nothing was resolved, built or started


def test_the_outpost_refuses_when_the_rights_changed_after_login(
        oidc_stack: RunningStack, rights_changed: Path) -> None:
    log_in(oidc_stack, "alice")  # the launcher and the hub still think: small is hers
    doc: dict[str, Any] = yaml.safe_load(rights_changed.read_text(encoding="utf-8"))
    doc["users"]["members-small"]["flavors"] = ["medium"]  # the Outpost re-reads it per start
    rights_changed.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    before = refused_starts(oidc_stack)
    evs = launch(oidc_stack, "alice", REPO1, system="local-small", flavor="small")
    final = assert_final(evs, "flavor_forbidden")
    assert final["message"].startswith(
        "Your account may not use the flavor 'small' on this system. You may use: Medium"), final
    assert final["next_action"] == "choose_flavor"
    assert refused_starts(oidc_stack) - before == 1
