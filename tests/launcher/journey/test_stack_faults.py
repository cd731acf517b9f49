"""Issue 9, scenario 6: ``nfdi-launcher stack`` behaves like a deployment one can trust.

A taken port and a second stack on the same state directory are one ``error:`` line, exit
status 2, with nothing started; Ctrl-C through ``| tee`` (and SIGHUP after the pipe is gone)
leaves no child process and no container; ``--status`` says what runs, where, and the logs;
after Ctrl-C and a new start on the same state directory the registry answers on the same
port with the images pushed before (receipts name images by that ``host:port``).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.harness.hub import wait_for
from tests.harness.registry import Registry, put_oci_manifest
from tests.harness.stack import (
    NFDI_LAUNCHER,
    RunningStack,
    StackPool,
    alive,
    descendants,
    stack_env,
    start_stack,
)

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.slow]


def _run_stack(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NFDI_LAUNCHER, "stack", *args], cwd=cwd, env=stack_env(),
                          capture_output=True, text=True, timeout=timeout)


def _processes_naming(text: str) -> list[str]:
    """Command lines of running processes that mention *text* (a state directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                found.append(cmd)
    return found


def _containers(state: Path) -> list[str]:
    prefix_file = state / "name-prefix"
    if not prefix_file.exists():
        return []
    out = subprocess.run(["docker", "ps", "-aq", "--filter",
                          f"name=^{prefix_file.read_text().strip()}"],
                         capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.split()


def test_a_taken_port_is_one_error_line_exit_2_and_nothing_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = _run_stack("--port", str(port), "--state-dir", str(state), cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: port "), lines
    assert str(port) in lines[0]
    assert "started" not in r.stdout
    assert "stack is up" not in r.stdout
    assert _processes_naming(str(state)) == []


def test_a_second_stack_on_the_same_state_is_refused(any_stack: RunningStack,
                                                    tmp_path: Path) -> None:
    stack = any_stack
    r = _run_stack("--port", "0", "--state-dir", str(stack.state), cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: a stack already runs on"), lines
    assert stack.url in lines[0]  # where the running one is
    assert "started" not in r.stdout
    # the first stack is untouched
    assert stack.running()
    assert requests.get(stack.launcher, timeout=10).status_code == 200


def test_status_says_what_runs_where_and_the_log_files(any_stack: RunningStack,
                                                       tmp_path: Path) -> None:
    stack = any_stack
    r = _run_stack("--status", "--state-dir", str(stack.state), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert stack.url in r.stdout
    for name in ("registry", "outpost", "jupyterhub", "launcher"):
        line = next((ln for ln in r.stdout.splitlines()
                     if ln.split()[:1] == [name] and " log " in ln), "")
        assert line, f"{name} missing in:\n{r.stdout}"
        assert "NOT RUNNING" not in line
        log = line.rsplit("log ", 1)[1].strip()
        assert Path(log).is_file(), line
    none = _run_stack("--status", "--state-dir", str(tmp_path / "nothing"), cwd=tmp_path)
    assert none.returncode == 3
    assert "no stack runs on" in none.stdout



def _status_registry_port(state: Path, cwd: Path) -> int:
    """The registry's port as ``--status`` shows it."""
    r = _run_stack("--status", "--state-dir", str(state), cwd=cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    line = next((ln for ln in r.stdout.splitlines()
                 if ln.split()[:1] == ["registry"] and " log " in ln), "")
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    assert m, r.stdout
    return int(m.group(1))


def test_a_restarted_stack_keeps_its_registry_port_and_images(
        any_stack: RunningStack, stack_pool: StackPool, tmp_path: Path) -> None:
    stack = any_stack
    port = _status_registry_port(stack.state, tmp_path)
    registry = f"http://127.0.0.1:{port}"
    repo, tag = "nfdi-launcher/restart-check", f"t-{secrets.token_hex(4)}"
    digest = put_oci_manifest(Registry(workdir=stack.state, port=port), repo, tag)
    assert stack.stop() == 0  # Ctrl-C
    # the stack is down, and its registry with it
    with pytest.raises(requests.ConnectionError):
        requests.get(registry + "/v2/", timeout=5)
    again = stack_pool.restart()
    assert _status_registry_port(again.state, tmp_path) == port
    assert f"registry: {registry}" in again.text()
    assert "is taken" not in again.text()
    catalog = requests.get(registry + "/v2/_catalog", timeout=10).json()["repositories"]
    assert repo in catalog
    assert tag in requests.get(f"{registry}/v2/{repo}/tags/list", timeout=10).json()["tags"]
    r = requests.head(f"{registry}/v2/{repo}/manifests/{tag}", timeout=10,
                      headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest
    # the base image builds start from survived too: not linked or pushed again
    held = [ln for ln in again.text().splitlines() if "registry holds" in ln]
    assert held and all("(already there" in ln for ln in held), again.text()[-2000:]


def _stop_through_pipe(stack: RunningStack, how: str) -> None:
    """Ctrl-C in a terminal signals the whole pipeline; a closed terminal sends SIGHUP."""
    if how == "ctrl-c":
        os.killpg(stack.proc.pid, signal.SIGINT)
        return
    stack_pid = int((stack.state / "stack.lock").read_text())
    tee = [pid for pid in descendants(stack.proc.pid) if pid != stack_pid
           and Path(f"/proc/{pid}/comm").read_text().strip() == "tee"]
    assert tee, "no tee in the pipeline"
    os.kill(tee[0], signal.SIGKILL)  # the reader is gone: every write now hits EPIPE
    wait_for(lambda: not alive(tee[0]), 10, "tee to die")
    os.kill(stack_pid, signal.SIGHUP)


@pytest.mark.parametrize("how", ["ctrl-c", "sighup-after-pipe-closed"])
def test_stopping_through_a_closed_pipe_leaves_no_child(tmp_path: Path, how: str) -> None:
    state = tmp_path / "state"
    stack = start_stack(state, tmp_path / "work", pipe=True)
    try:
        children = stack.note_pids()
        names = {Path(f"/proc/{pid}/comm").read_text().strip() for pid in children if alive(pid)}
        # registry, Outpost, hub, proxy and launcher service all run below the pipeline
        assert {"docker-registry", "node", "tee"} <= names, names
        assert len(children) >= 6, names
        _stop_through_pipe(stack, how)
        stack.proc.wait(timeout=150)
        deadline = time.monotonic() + 30
        left = [p for p in stack.seen_pids if alive(p)]
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            left = [p for p in stack.seen_pids if alive(p)]
        assert left == [], [Path(f"/proc/{p}/cmdline").read_bytes() for p in left]
        assert _processes_naming(str(state)) == []
        assert _containers(state) == []
        assert not (state / "stack.json").exists()
    finally:
        if stack.running() or any(alive(p) for p in stack.seen_pids):
            stack.kill()
