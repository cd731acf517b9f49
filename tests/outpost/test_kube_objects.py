"""KubeSpawner's pod and claim for every flavor of every nfdi-outpost values file.

The backend is configured from the chart's rendered config file (as the Outpost pod would
be), the flavors are the chart's flavors.yaml, and KubeSpawner makes the objects with its
own functions (see tests/outpost/kube_objects.py). Each object is validated strictly
against the Kubernetes 1.30 and 1.33 schemas and checked against the chart: the user
pods' NetworkPolicy selects the pod, on the port it listens on. No API server is contacted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from outpost.backends.kube_mapping import pvc_name
from outpost.backends.kubernetes import KubernetesBackend
from outpost.manager import Outpost
from tests.harness.canary import Canary
from tests.helm import charts
from tests.helm.config_check import load_config_file
from tests.outpost.kube_objects import (
    DIGEST,
    HUB,
    IMAGE,
    objects,
    start_request,
    use_canary_kubeconfig,
    user_options,
)

CHART = "nfdi-outpost"
CASES = [(f, name) for f in charts.ci_values_files(CHART)
         for name in yaml.safe_load(charts.render(CHART, charts.load_values(CHART, f))
                                    .get("ConfigMap")["data"]["flavors.yaml"])["flavors"]]


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canary]:
    canary = Canary()
    use_canary_kubeconfig(canary, tmp_path_factory.mktemp("kube"))
    yield canary
    canary.close()
    assert canary.requests == [], "KubeSpawner contacted the (canary) API server"


def chart_backend(values_file: str, tmp: Path) -> tuple[KubernetesBackend, charts.Rendered, dict[str, Any]]:
    rendered = charts.render(CHART, charts.load_values(CHART, values_file))
    data = rendered.get("ConfigMap")["data"]
    # the chart's Outpost settings, with its database and credentials in places a test can use
    outpost = Outpost(config=load_config_file(data["nfdi_launcher_config.py"], tmp),
                      db_path=str(tmp / "outpost.sqlite"), credentials_file="")
    backend = outpost.backend
    assert isinstance(backend, KubernetesBackend)
    return backend, rendered, yaml.safe_load(data["flavors.yaml"])["flavors"]


@pytest.mark.parametrize(("values_file", "flavor_name"), CASES)
async def test_pod_and_claim_for_each_flavor(values_file: str, flavor_name: str, canary: Canary,
                                             tmp_path: Path) -> None:
    backend, rendered, flavors = chart_backend(values_file, tmp_path)
    flavor = flavors[flavor_name]
    prefix = backend.allowed_image_prefixes[0]
    image = prefix + IMAGE.rsplit("/", 1)[1]
    request = start_request(flavor_name, flavor, options=user_options(image), prefixes=tuple(backend.allowed_image_prefixes))
    pod, pvc = await objects(backend, request)
    for kube in charts.KUBE_VERSIONS:
        kubernetes_validate.validate(pod, kube, strict=True)
        kubernetes_validate.validate(pvc, kube, strict=True)

    container = pod["spec"]["containers"][0]
    assert container["image"] == f"{image}@{DIGEST}"
    res = flavor.get("resources", {})
    if "cpu_limit" in res:
        assert float(container["resources"]["limits"]["cpu"]) == float(res["cpu_limit"])
    if "mem_guarantee" in res:
        assert "memory" in container["resources"]["requests"]
    assert pod["spec"].get("nodeSelector", {}) == res.get("node_selector", {})
    assert pod["spec"].get("tolerations", []) == res.get("tolerations", [])
    for name, qty in res.get("extra_resource_limits", {}).items():
        assert container["resources"]["limits"][name] == qty
    # the claim of (hub, user), mounted where the user asked
    claim = pvc_name(HUB, "42")
    assert pvc["metadata"]["name"] == claim
    volume = next(v for v in pod["spec"]["volumes"] if v.get("persistentVolumeClaim"))
    assert volume["persistentVolumeClaim"]["claimName"] == claim
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert mount["mountPath"] == "/home/jovyan/work"
    assert pod["spec"]["securityContext"]["fsGroup"] == 1000
    values = charts.load_values(CHART, values_file)
    assert pvc["spec"]["resources"]["requests"]["storage"] == values.get("userPods", {}).get("storageCapacity", "10Gi")
    assert pvc["spec"].get("storageClassName", "") == values.get("userPods", {}).get("storageClass", "")
    # KubeSpawner's naming and labels, with the hub in front
    assert pod["metadata"]["name"].startswith("jupyter-hub-examp")
    assert pod["metadata"]["name"].endswith("--alice--r-abc123")
    labels = pod["metadata"]["labels"]
    assert labels["component"] == "singleuser-server"
    assert labels["hub.jupyter.org/username"] == "alice"
    assert labels["hub.jupyter.org/servername"] == "r-abc123"
    # the chart's NetworkPolicy for user pods selects this pod, on its port, in its namespace
    if values.get("networkPolicy", {}).get("enabled", True):
        policy = rendered.get("NetworkPolicy", f"{charts.RELEASE}-{CHART}-users")
        assert charts.selector_matches(policy["spec"]["podSelector"], labels)
        ports = {p["containerPort"] for p in container["ports"]}
        assert {p["port"] for p in policy["spec"]["ingress"][0]["ports"]} == ports
        assert policy["metadata"]["namespace"] == backend.namespace
        outpost_egress = rendered.get("NetworkPolicy", f"{charts.RELEASE}-{CHART}")["spec"]["egress"][0]
        assert charts.selector_matches(outpost_egress["to"][0]["podSelector"], labels)


async def test_claims_are_stable_per_hub_and_user(canary: Canary, tmp_path: Path) -> None:
    backend, _r, flavors = chart_backend("minimal-values.yaml", tmp_path)
    first = (await objects(backend, start_request("small", flavors["small"], server="srv-a")))[1]
    again = (await objects(backend, start_request("small", flavors["small"], server="srv-b")))[1]
    other_user = (await objects(backend, start_request("small", flavors["small"], user="bob", user_id="43")))[1]
    other_hub = (await objects(backend, start_request("small", flavors["small"], hub="hub.other.org")))[1]
    assert first["metadata"]["name"] == again["metadata"]["name"]
    assert len({first["metadata"]["name"], other_user["metadata"]["name"], other_hub["metadata"]["name"]}) == 3
