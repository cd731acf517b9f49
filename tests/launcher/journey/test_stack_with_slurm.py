"""Issue 9 with issue 11: a person picks "HPC (Slurm)" in the form and lands in JupyterLab
running the Binder image in a Slurm job (``nfdi-launcher stack --with-slurm``, the cluster
and site directories of the harness' ``hpc_site``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.slurm import HpcSite
from tests.harness.stack import RunningStack, StackPool, hub_login
from tests.launcher.journey.browser import LAUNCH_MS, REPO1, wait_for_lab

pytestmark = [pytest.mark.slurm, pytest.mark.browser, pytest.mark.docker, pytest.mark.registry,
              pytest.mark.hub, pytest.mark.slow]

USER = "hilde"
#: the first start on the cluster pulls the image with Charliecloud (about 25 s here)
HPC_LAUNCH_MS = LAUNCH_MS + 300_000


@pytest.fixture
def slurm_stack(stack_pool: StackPool, hpc_site: HpcSite) -> RunningStack:
    # the same arguments as tests/outpost/scenarios/hpc: one stack for both when adjacent
    return stack_pool.get("--with-slurm", "--slurm-conf", str(hpc_site.cluster.conf),
                          "--hpc-root", str(hpc_site.root))


def test_the_form_launches_onto_hpc_slurm_in_the_browser(
        slurm_stack: RunningStack, hpc_site: HpcSite, chromium_page: Any) -> None:
    stack = slurm_stack
    page = chromium_page
    try:
        page.goto(stack.launcher)
        hub_login(page, stack, USER)
        page.wait_for_url(stack.launcher)
        page.fill("#identifier", REPO1)
        page.click("#resolve-btn")
        page.wait_for_selector("#options:not([hidden])")
        assert "HPC (Slurm)" in page.inner_text("#system")
        page.select_option("#system", "hpc-slurm")
        page.select_option("#flavor", "hpc-small")
        page.click("#launch-btn")
        server = wait_for_lab(page, USER, HPC_LAUNCH_MS)
        [model] = stack.servers(USER).values()
        assert model["user_options"]["system"] == "hpc-slurm"
        assert server.endswith(f"/user/{USER}/{model['name']}/")
        prefix = (stack.state / "name-prefix").read_text().strip() + "hpc-"
        jobs = [j for j in hpc_site.cluster.jobs() if j["name"].startswith(prefix)]
        assert [j["state"] for j in jobs] == ["RUNNING"]  # JupyterLab runs in this job
    finally:
        stack.remove_servers(USER)
