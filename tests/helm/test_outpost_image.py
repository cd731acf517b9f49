"""The Outpost as helm/nfdi-outpost runs it: the launcher image with the chart's files.

``docker run`` of the image with the rendered Deployment's args, config file, flavors.yaml,
hub credentials and state directory (an empty directory stands in for the claim). The
Outpost answers its probe, serves the chart's flavors to a hub with the right password,
and refuses what it must refuse before touching Kubernetes. A start that passes those
checks reaches KubeSpawner, which cannot load a cluster configuration here (there is no
cluster): the hub gets a 419 saying so, and nothing is left behind.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.harness.hub import free_port
from tests.helm import charts
from tests.helm.images import build_image, docker_run_options
from tests.outpost.kube_objects import DIGEST, IMAGE, env, user_options

pytestmark = pytest.mark.docker
HUB, PASSWORD = "hub.example.org", "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def outpost(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, container name) of a running Outpost container."""
    image = build_image("launcher")
    port = free_port()
    values = charts.merge(charts.load_values("nfdi-outpost", "minimal-values.yaml"), {
        "outpost": {"port": port, "allowedImagePrefixes": ["registry.example.org/nfdi-launcher/"]}})
    rendered = charts.render("nfdi-outpost", values)
    workdir = tmp_path_factory.mktemp("outpost")
    workdir.chmod(0o755)
    opts, container = docker_run_options(rendered, "outpost", workdir)
    name = f"nfdi-outpost-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--network", "host", *opts, image,
                    *container["args"]], check=True, capture_output=True, text=True)
    probe = container["readinessProbe"]["httpGet"]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a loaded 2-core machine starts slowly
        while time.monotonic() < deadline:
            try:
                if requests.get(url + probe["path"], timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
            pytest.fail(f"the Outpost did not answer its probe; logs:\n{logs[-3000:]}")
        yield url, name
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def start_body(image: str) -> dict[str, Any]:
    uo = user_options(image=image.partition("@")[0])
    uo["repo2docker"]["image"] = image
    return {"name": "r-abc123", "env": env("alice", "42", "r-abc123"), "user_options": uo, "flavor": "small"}


def test_probe_and_flavors(outpost: tuple[str, str]) -> None:
    url, _name = outpost
    assert requests.get(f"{url}/ping", timeout=5).json() == {"ping": "pong!"}
    flavors = requests.get(f"{url}/flavors/", auth=(HUB, PASSWORD), timeout=5)
    assert flavors.status_code == 200
    assert set(flavors.json()) == {"small", "large"}
    assert flavors.json()["small"]["display_name"] == "Small: 1 CPU, 2 GB"
    assert requests.get(f"{url}/flavors/", auth=(HUB, "wrong"), timeout=5).status_code == 401


def test_unpinned_image_is_refused_before_kubernetes(outpost: tuple[str, str]) -> None:
    url, _name = outpost
    body = start_body(IMAGE)  # repo2docker.image without a digest
    resp = requests.post(f"{url}/services", json=body, auth=(HUB, PASSWORD), timeout=30)
    assert resp.status_code == 419
    assert "not pinned by digest" in json.dumps(resp.json()["args"])
    assert requests.get(f"{url}/services/", auth=(HUB, PASSWORD), timeout=5).json() == []


def test_image_from_another_registry_is_refused(outpost: tuple[str, str]) -> None:
    url, _name = outpost
    body = start_body(f"evil.example.org/x/y:1@{DIGEST}")
    resp = requests.post(f"{url}/services", json=body, auth=(HUB, PASSWORD), timeout=30)
    assert resp.status_code == 419
    assert "not from an allowed registry" in json.dumps(resp.json()["args"])


def test_a_valid_start_reaches_kubespawner_which_finds_no_cluster_here(outpost: tuple[str, str]) -> None:
    url, name = outpost
    resp = requests.post(f"{url}/services", json=start_body(f"{IMAGE}@{DIGEST}"), auth=(HUB, PASSWORD), timeout=60)
    assert resp.status_code == 419
    assert "This Outpost cannot reach Kubernetes: no in-cluster service account" in json.dumps(resp.json()["args"])
    assert requests.get(f"{url}/services/", auth=(HUB, PASSWORD), timeout=5).json() == []
    logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
    assert "tok-123" not in logs  # the hub's token for the server is never logged
