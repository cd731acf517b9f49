"""helm/nfdi-outpost: render, lint, strict schema validation and what the objects mean.

No Kubernetes API server is involved (see tests/helm/charts.py). The pods KubeSpawner
makes under this chart's settings are checked in tests/outpost/test_kube_objects.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from outpost.flavors import parse_flavors
from tests.helm import charts
from tests.helm.config_check import load_config_file, unknown_options

CHART = "nfdi-outpost"
FILES = charts.ci_values_files(CHART)
FULLNAME = f"{charts.RELEASE}-{CHART}"


@pytest.fixture(scope="module", params=FILES)
def case(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], charts.Rendered]:
    values = charts.load_values(CHART, request.param)
    return request.param, values, charts.render(CHART, values)


def outpost_pods(r: charts.Rendered) -> dict[str, Any]:
    return r.get("Deployment", FULLNAME)["spec"]["template"]


def test_ci_values_files_cover_the_variants() -> None:
    assert {"minimal-values.yaml", "production-values.yaml", "no-networkpolicy-values.yaml",
            "ingress-values.yaml"} <= set(FILES)


@pytest.mark.parametrize("kube", charts.KUBE_VERSIONS)
def test_lints_and_validates_strictly(case: Any, kube: str) -> None:
    _name, values, rendered = case
    assert charts.lint_and_validate(CHART, values, rendered, kube) == []


def test_objects_follow_the_values(case: Any) -> None:
    _name, values, r = case
    kinds = r.kinds()
    assert {"Deployment", "Service", "ConfigMap", "PersistentVolumeClaim", "Role", "RoleBinding"} <= kinds
    assert ("Ingress" in kinds) == values.get("ingress", {}).get("enabled", False)
    assert ("NetworkPolicy" in kinds) == values.get("networkPolicy", {}).get("enabled", True)
    assert ("Secret" in kinds) == (not values.get("existingSecret"))
    deployment = r.get("Deployment", FULLNAME)
    assert deployment["spec"]["replicas"] == 1  # one process owns the SQLite state
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    user_ns = values.get("userPods", {}).get("namespace") or charts.NAMESPACE
    assert r.get("Role")["metadata"]["namespace"] == user_ns


def test_selectors_and_references(case: Any) -> None:
    _name, values, r = case
    charts.check_workload_selectors(r)
    external = {values.get("existingSecret", "")} | set(values.get("image", {}).get("pullSecrets", []))
    charts.check_references(r, external - {""})
    labels = outpost_pods(r)["metadata"]["labels"]
    service = r.get("Service", FULLNAME)
    assert charts.selector_matches({"matchLabels": service["spec"]["selector"]}, labels)
    outpost = charts.container(outpost_pods(r), "outpost")
    for port in service["spec"]["ports"]:
        charts.port_number(outpost, port["targetPort"])
    for ingress in r.all("Ingress"):
        backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert backend["name"] == FULLNAME
        assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    if values.get("networkPolicy", {}).get("enabled", True):
        assert charts.selector_matches(r.get("NetworkPolicy", FULLNAME)["spec"]["podSelector"], labels)


def test_probes_hit_the_real_ping_route(case: Any) -> None:
    from outpost.app import make_app
    from outpost.handlers.ping import PingHandler

    _name, values, r = case
    base = values.get("outpost", {}).get("basePath", "/")
    app = make_app(None, base)  # type: ignore[arg-type]  # routes only; no request is served
    routes = [(rule.matcher.regex.pattern, rule.target) for rule in app.wildcard_router.rules]
    outpost = charts.container(outpost_pods(r), "outpost")
    for probe in ("readinessProbe", "livenessProbe"):
        http = outpost[probe]["httpGet"]
        assert charts.route_matches(routes, http["path"]) is PingHandler, http["path"]
        assert charts.port_number(outpost, http["port"]) == values.get("outpost", {}).get("port", 8080)


def test_config_file_and_flavors_are_what_the_outpost_reads(case: Any, tmp_path: Path) -> None:
    _name, values, r = case
    data = r.get("ConfigMap", FULLNAME)["data"]
    config = load_config_file(data["nfdi_launcher_config.py"], tmp_path)
    assert unknown_options(config) == []
    assert config.Outpost.backend_class == "outpost.backends.kubernetes.KubernetesBackend"
    flavors = parse_flavors(yaml.safe_load(data["flavors.yaml"]))
    # given flavors replace the defaults entirely (no merge with the chart's two)
    expected = set(values["flavors"]["flavors"]) if values.get("flavors") else {"small", "large"}
    assert set(flavors.flavors) == expected
    # the files the config names are where the Deployment mounts them
    mounts = {m["mountPath"] for m in charts.container(outpost_pods(r), "outpost")["volumeMounts"]}
    assert config.Outpost.flavors_path in mounts
    assert Path(config.Outpost.db_path).parent.as_posix() in mounts
    assert Path(config.Outpost.credentials_file).parent.as_posix() in mounts


def test_hub_passwords_only_in_the_secret(case: Any) -> None:
    _name, values, r = case
    public = [json.dumps(d) for d in r.docs if d["kind"] != "Secret"] + [r.notes]
    for password in values.get("hubs", {}).values():
        assert not any(password in text for text in public)
    for secret in r.all("Secret"):
        assert json.loads(secret["stringData"]["credentials.json"]) == values["hubs"]


WITH_POLICY = [f for f in FILES if charts.load_values(CHART, f).get("networkPolicy", {}).get("enabled", True)]


@pytest.mark.parametrize("name", WITH_POLICY)
def test_user_pods_admit_only_hub_proxy_and_outpost(name: str) -> None:
    values = charts.load_values(CHART, name)
    r = charts.render(CHART, values)
    users = r.get("NetworkPolicy", f"{FULLNAME}-users")
    peers = users["spec"]["ingress"][0]["from"]
    configured = values.get("networkPolicy", {}).get("userIngressFrom") or \
        yaml.safe_load((charts.HELM / CHART / "values.yaml").read_text())["networkPolicy"]["userIngressFrom"]
    assert peers[:-1] == configured
    assert charts.selector_matches(peers[-1]["podSelector"], outpost_pods(r)["metadata"]["labels"])
    assert len(users["spec"]["ingress"]) == 1
    for rule in users["spec"]["egress"]:
        for peer in rule.get("to", []):
            block = peer.get("ipBlock", {})
            if block.get("cidr") == "0.0.0.0/0":
                assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(block["except"])


BAD_VALUES = [
    ({"hubs": {"hub": "short"}}, "/hubs/hub"),
    ({"hubs": {"bad/name": "0123456789abcdef0123"}}, "invalid propertyName 'bad/name'"),
    ({"outpost": {"basePath": "outpost"}}, "/outpost/basePath"),
    ({"outpost": {"allowedImagePrefixes": []}}, "/outpost/allowedImagePrefixes"),
    ({"flavors": {"flavors": {"x": "not-a-mapping"}}}, "/flavors/flavors/x"),
    ({"flavors": {"flavors": {"x": {"resources": {"cpu_limit": -1}}}}}, "cpu_limit"),
    ({"flavors": {"flavors": {"x": {"resources": {"mem_limit": "2 GB"}}}}}, "mem_limit"),
    ({"flavors": {"flavors": {"x": {"resources": {"tolerations": [{"effect": "Sometimes"}]}}}}}, "effect"),
    ({"userPods": {"accessModes": ["ReadMostly"]}}, "/userPods/accessModes/0"),
    ({"userPods": {"storageCapacity": "ten gigs"}}, "/userPods/storageCapacity"),
    ({"userPods": {"namespace": "Users"}}, "/userPods/namespace"),
    ({"networkPolicy": {"userIngressFrom": []}}, "/networkPolicy/userIngressFrom"),
    ({"image": {"digest": "sha256:xyz"}}, "/image/digest"),
    ({"replicas": 2}, "replicas"),
]


@pytest.mark.parametrize(("bad", "where"), BAD_VALUES, ids=[w for _b, w in BAD_VALUES])
def test_schema_rejects_bad_values(bad: dict[str, Any], where: str) -> None:
    assert where in charts.rejection(CHART, "minimal-values.yaml", bad)


def test_without_hubs_is_a_clear_error() -> None:
    with pytest.raises(helm_python.HelmError, match=r"hubs \(or existingSecret\) is required"):
        charts.render(CHART, {})


def test_package_leaves_ci_values_out(tmp_path: Path) -> None:
    names = charts.packaged_names(CHART, tmp_path)
    assert f"{CHART}/values.schema.json" in names
    assert not [n for n in names if "/ci/" in n]
