"""``nfdi-launcher stack --oidc --with-slurm``: bob's HPC entitlement
(``urn:...:res:hpc-slurm:demo-project:act:nfdi-hpc:primary``) maps to the system
``hpc-slurm``; in Chromium he picks his project and launches a Slurm job charged to it, and
alice, without that entitlement, is offered no HPC system at all."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.chromium import new_page
from tests.harness.slurm import HpcSite
from tests.harness.stack import RunningStack, StackPool
from tests.launcher.journey.browser import LAUNCH_MS, REPO1, wait_for_lab
from tests.launcher.login.oidc_browser import login, offered

pytestmark = [pytest.mark.slurm, pytest.mark.browser, pytest.mark.docker,
              pytest.mark.registry, pytest.mark.hub, pytest.mark.slow]


@pytest.fixture
def oidc_hpc_stack(stack_pool: StackPool, hpc_site: HpcSite) -> RunningStack:
    return stack_pool.get("--oidc", "--with-slurm", "--slurm-conf", str(hpc_site.cluster.conf),
                          "--hpc-root", str(hpc_site.root))


def resolved(page: Any) -> None:
    page.fill("#identifier", REPO1)
    page.click("#resolve-btn")
    page.wait_for_selector("#options:not([hidden])")


def test_bob_launches_on_hpc_with_his_project_and_alice_sees_none(
        oidc_hpc_stack: RunningStack, hpc_site: HpcSite, chromium: Any) -> None:
    stack = oidc_hpc_stack
    page = new_page(chromium)
    try:
        login(page, stack, "alice")
        resolved(page)
        assert offered(page) == {"local-small": ["small"]}
    finally:
        page.context.close()
    page = new_page(chromium)
    try:
        login(page, stack, "bob")
        resolved(page)
        assert offered(page)["hpc-slurm"] == ["hpc-medium", "hpc-small"]
        page.select_option("#system", "hpc-slurm")
        assert page.locator("#project-field").is_visible()
        assert page.eval_on_selector_all("#project option", "els => els.map(e => e.text)") \
            == ["demo-project (account nfdi-hpc)"]
        page.select_option("#flavor", "hpc-small")
        page.click("#launch-btn")
        wait_for_lab(page, "bob", LAUNCH_MS)
        [server] = stack.servers("bob").values()
        assert server["user_options"]["hpc"] == {"project": "demo-project",
                                                 "account": "nfdi-hpc"}
        prefix = (stack.state / "name-prefix").read_text().strip() + "hpc-"
        jobs = [row.split("|") for row in hpc_site.cluster.run(
            "squeue", "-h", "-o", "%j|%a|%u").stdout.split()]
        assert [(account, user) for name, account, user in jobs if name.startswith(prefix)] \
            == [("demo-project", "nfdi-hpc")]   # charged to his project, run as his account
    finally:
        page.context.close()
        stack.remove_servers("bob")
