"""Self-test of the stack harness: one ``nfdi-launcher stack`` per session, reachable, known."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.harness.stack import PUBLIC_GIT, RunningStack, StackPool, alive

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.slow]


def test_the_pool_keeps_one_stack_for_the_same_arguments(stack_pool: StackPool,
                                                         stack: RunningStack) -> None:
    assert stack_pool.get() is stack
    assert stack.running()
    assert stack.url == stack.launcher  # the printed URL is the launcher's home page
    assert requests.get(stack.launcher, timeout=10).status_code == 200


def test_the_stack_runs_below_its_process_and_reads_the_operator_file(stack: RunningStack) -> None:
    names = {Path(f"/proc/{pid}/comm").read_text().strip()
             for pid in stack.note_pids() if alive(pid)}
    assert {"docker-registry", "node"} <= names, names  # the registry and the hub's proxy
    config = (stack.workdir / "nfdi_launcher_config.py").read_text()
    assert PUBLIC_GIT in config
    assert "load_subconfig" in (stack.state / "launcher_config.py").read_text()


def test_hub_api_and_user_tokens(stack: RunningStack) -> None:
    token = stack.user_token("harness-user")
    me = requests.get(stack.public + "hub/api/user", timeout=10,
                      headers={"Authorization": f"token {token}"})
    assert me.status_code == 200
    assert me.json()["name"] == "harness-user"
    assert stack.servers("harness-user") == {}
