"""The launcher image (helm/Dockerfile) runs the way the chart runs it.

Built here for real FROM the local Debian base (layers cached between runs), then started
with ``docker run`` exactly as the rendered Deployment describes the container: its args,
its environment (Secret values taken from the rendered Secrets), the rendered
``nfdi_launcher_config.py`` and registry ``config.json`` mounted where the Deployment
mounts them, a read-only root file system with /tmp writable, the non-root user. The
probe's path and port must answer 200. What differs from a cluster: host networking (so
the container reaches the test registry on loopback) and ``start-url`` hand-off (no hub
is started here; the hub-api check is covered by the launcher's own tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.harness.hub import free_port
from tests.harness.registry import Registry
from tests.helm import charts
from tests.helm.images import build_image, docker_run_options

pytestmark = [pytest.mark.docker, pytest.mark.registry]

@pytest.fixture(scope="session")
def launcher_image() -> str:
    return build_image("launcher")




@pytest.fixture
def rendered_for_docker(registry: Registry) -> Iterator[tuple[charts.Rendered, int]]:
    port = free_port()
    values = charts.merge(charts.load_values("nfdi-launcher", "minimal-values.yaml"), {
        "launcher": {"port": port, "handoff": "start-url", "hubUrl": "https://hub.example.org/"},
        "registry": {"url": registry.url},
    })
    yield charts.render("nfdi-launcher", values), port


def test_image_starts_and_answers_the_chart_probes(
        launcher_image: str, rendered_for_docker: tuple[charts.Rendered, int], tmp_path: Path) -> None:
    rendered, port = rendered_for_docker
    opts, container = docker_run_options(rendered, "launcher", tmp_path)
    os.chmod(tmp_path, 0o755)
    name = f"nfdi-launcher-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--network", "host", *opts,
                    launcher_image, *container["args"]], check=True, capture_output=True, text=True)
    try:
        probe = container["readinessProbe"]["httpGet"]
        assert charts.port_number(container, probe["port"]) == port
        url = f"http://127.0.0.1:{port}{probe['path']}"
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = requests.get(url, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.5)
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
        assert answer is not None, f"no answer on {url}; logs:\n{logs[-3000:]}"
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["ok"] is True
        assert {c["service"] for c in body["checks"]} == {"Docker registry", "JupyterHub API"}
        # the same process serves the pages under the configured base URL
        home = requests.get(f"http://127.0.0.1:{port}{probe['path'].removesuffix('health')}versions", timeout=5)
        assert home.status_code == 200
        # logs are JSON lines as configured, with no secret in them
        assert logs.strip() and all(line.startswith("{") for line in logs.strip().splitlines())
        token = {e["name"]: e["value"] for e in opts_env(opts)}["JUPYTERHUB_API_TOKEN"]
        assert token not in logs
        # SIGTERM (what the kubelet sends) stops it promptly and cleanly
        t0 = time.monotonic()
        subprocess.run(["docker", "stop", "-t", "20", name], check=True, capture_output=True)
        assert time.monotonic() - t0 < 10
        state = json.loads(subprocess.run(["docker", "inspect", name], capture_output=True, text=True,
                                          check=True).stdout)[0]["State"]
        assert state["ExitCode"] == 0, state
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def opts_env(opts: list[str]) -> list[dict[str, str]]:
    return [{"name": v.split("=", 1)[0], "value": v.split("=", 1)[1]}
            for flag, v in zip(opts, opts[1:], strict=False) if flag == "-e"]
