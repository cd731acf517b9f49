"""helm/nfdi-launcher: render, lint, strict schema validation and what the objects mean.

Nothing here talks to a Kubernetes API server (none can run on this machine); see
tests/helm/charts.py for what runs for real.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python
import pytest
from traitlets.config import Config

from tests.helm import charts
from tests.helm.config_check import load_config_file, unknown_options

CHART = "nfdi-launcher"
FILES = charts.ci_values_files(CHART)
FULLNAME = f"{charts.RELEASE}-{CHART}"


@pytest.fixture(scope="module", params=FILES)
def case(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], charts.Rendered]:
    values = charts.load_values(CHART, request.param)
    return request.param, values, charts.render(CHART, values)


def launcher_pods(r: charts.Rendered) -> dict[str, Any]:
    return r.get("Deployment", FULLNAME)["spec"]["template"]


def existing_secret_names(values: dict[str, Any]) -> set[str]:
    """Secrets the operator promises to create (named in values, not made by the chart)."""
    names = {values.get("existingSecret", ""), values.get("registry", {}).get("existingSecret", ""),
             values.get("outposts", {}).get("existingSecret", ""),
             values.get("receipts", {}).get("existingSecret", "")}
    names |= set(values.get("image", {}).get("pullSecrets", []))
    return names - {""}


def test_ci_values_files_cover_the_variants() -> None:
    assert {"minimal-values.yaml", "production-values.yaml", "no-networkpolicy-values.yaml",
            "ingress-monitoring-values.yaml"} <= set(FILES)


@pytest.mark.parametrize("kube", charts.KUBE_VERSIONS)
def test_lints_and_validates_strictly(case: Any, kube: str) -> None:
    name, values, rendered = case
    skipped = charts.lint_and_validate(CHART, values, rendered, kube)
    assert set(skipped) == ({"ServiceMonitor"} if values.get("serviceMonitor", {}).get("enabled") else set())


def test_objects_follow_the_values(case: Any) -> None:
    name, values, r = case
    kinds = r.kinds()
    assert {"Deployment", "Service", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"} <= kinds
    assert ("Ingress" in kinds) == values.get("ingress", {}).get("enabled", False)
    assert ("ServiceMonitor" in kinds) == values.get("serviceMonitor", {}).get("enabled", False)
    assert ("NetworkPolicy" in kinds) == values.get("networkPolicy", {}).get("enabled", True)
    assert ("PodDisruptionBudget" in kinds) == values.get("podDisruptionBudget", {}).get("enabled", True)
    assert ("DaemonSet" in kinds) == values.get("dind", {}).get("enabled", True)
    deployment = r.get("Deployment", FULLNAME)
    assert deployment["spec"]["replicas"] == values.get("replicas", 2) >= 2
    image = charts.container(launcher_pods(r), "launcher")["image"]
    digest = values.get("image", {}).get("digest")
    assert image.endswith("@" + digest) if digest else image.endswith(":0.1.0")


def test_selectors_select_the_pods(case: Any) -> None:
    _name, values, r = case
    pods = launcher_pods(r)
    labels = pods["metadata"]["labels"]
    charts.check_workload_selectors(r)
    service = r.get("Service", FULLNAME)
    assert charts.selector_matches({"matchLabels": service["spec"]["selector"]}, labels)
    launcher = charts.container(pods, "launcher")
    for port in service["spec"]["ports"]:
        charts.port_number(launcher, port["targetPort"])
    # the Service selects the launcher only, not the DinD pods
    for ds in r.all("DaemonSet"):
        assert not charts.selector_matches({"matchLabels": service["spec"]["selector"]},
                                           ds["spec"]["template"]["metadata"]["labels"])
    for pdb in r.all("PodDisruptionBudget"):
        assert charts.selector_matches(pdb["spec"]["selector"], labels)
        assert pdb["spec"]["minAvailable"] < r.get("Deployment", FULLNAME)["spec"]["replicas"]
    for monitor in r.all("ServiceMonitor"):
        assert charts.selector_matches(monitor["spec"]["selector"], service["metadata"]["labels"])
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
    for ingress in r.all("Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] == FULLNAME
                assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
                assert path["path"] == values.get("launcher", {}).get("baseUrl", "/services/launcher/")
        for tls in ingress["spec"].get("tls", []):
            assert tls["hosts"] == [values["ingress"]["host"]]
    if values.get("networkPolicy", {}).get("enabled", True):
        policy = r.get("NetworkPolicy", FULLNAME)
        assert charts.selector_matches(policy["spec"]["podSelector"], labels)


def test_referenced_secrets_configmaps_and_accounts_exist(case: Any) -> None:
    _name, values, r = case
    charts.check_references(r, existing_secret_names(values))


def test_probes_and_metrics_hit_real_routes(case: Any) -> None:
    """The probe paths are the launcher's own /health route (and /metrics for Prometheus)."""
    from launcher.app import collect_handlers
    from launcher.handlers.health import HealthHandler
    from launcher.handlers.metrics import MetricsHandler

    _name, values, r = case
    base_url = values.get("launcher", {}).get("baseUrl", "/services/launcher/")
    routes = collect_handlers(base_url)
    launcher = charts.container(launcher_pods(r), "launcher")
    for probe in ("readinessProbe", "livenessProbe"):
        http = launcher[probe]["httpGet"]
        assert charts.route_matches(routes, http["path"]) is HealthHandler, http["path"]
        assert charts.port_number(launcher, http["port"]) == values.get("launcher", {}).get("port", 8585)
    for monitor in r.all("ServiceMonitor"):
        for endpoint in monitor["spec"]["endpoints"]:
            assert charts.route_matches(routes, endpoint["path"]) is MetricsHandler


def test_config_file_sets_only_real_options(case: Any, tmp_path: Path) -> None:
    _name, values, r = case
    text = r.get("ConfigMap", FULLNAME)["data"]["nfdi_launcher_config.py"]
    config = load_config_file(text, tmp_path)
    assert unknown_options(config) == []
    assert config.LauncherConfig.base_url == values.get("launcher", {}).get("baseUrl", "/services/launcher/")
    assert config.BuildManager.registry_url == values.get("registry", {}).get("url", "https://registry.example.org")
    assert config.ServeApp.port == values.get("launcher", {}).get("port", 8585)
    # the registry credentials file the config names is where the Deployment mounts it
    mounts = charts.container(launcher_pods(r), "launcher")["volumeMounts"]
    assert any(config.BuildManager.docker_config_path.startswith(m["mountPath"] + "/")
               for m in mounts if m["name"] == "registry")
    # so are the receipt keys all replicas share
    if values.get("receipts", {}).get("existingSecret"):
        assert config.Receipts.key_dir in {m["mountPath"] for m in mounts if m["name"] == "receipt-keys"}


def test_no_secret_value_outside_secrets(case: Any) -> None:
    _name, values, r = case
    secret_values = [values.get("hub", {}).get("apiToken"), values.get("buildToken", {}).get("secret"),
                     values.get("registry", {}).get("password"), values.get("store", {}).get("url")]
    secret_values += [s.get("password") for s in values.get("outposts", {}).get("systems", {}).values()]
    public = [json.dumps(d) for d in r.docs if d["kind"] != "Secret"] + [r.notes]
    for value in filter(None, secret_values):
        assert not any(value in text for text in public), "a secret value leaked out of the Secrets"


WITH_POLICY = [f for f in FILES if charts.load_values(CHART, f).get("networkPolicy", {}).get("enabled", True)]


@pytest.mark.parametrize("name", WITH_POLICY)
def test_network_policy_keeps_private_ranges_closed(name: str) -> None:
    values = charts.load_values(CHART, name)
    r = charts.render(CHART, values)
    allowed = {a["cidr"] for a in values.get("networkPolicy", {}).get("allowedCIDRs", [])}
    for policy in r.all("NetworkPolicy"):
        assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        for rule in policy["spec"]["egress"]:
            if "to" not in rule:  # any destination: DNS only
                assert {p["port"] for p in rule["ports"]} == {53}
                continue
            for peer in rule["to"]:
                block = peer.get("ipBlock")
                if block and block["cidr"] == "0.0.0.0/0":
                    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(block["except"])
                    assert {p["port"] for p in rule["ports"]} == {443}
                elif block:
                    assert block["cidr"] in allowed
    ingress_from = r.get("NetworkPolicy", FULLNAME)["spec"]["ingress"][0]["from"]
    assert len(ingress_from) == 1 + values.get("ingress", {}).get("enabled", False) \
        + values.get("serviceMonitor", {}).get("enabled", False)


def test_z2jh_snippet_registers_this_release(case: Any, tmp_path: Path) -> None:
    """The hub.services / hub.extraConfig values in NOTES point at what was rendered."""
    _name, values, r = case
    z2jh = charts.fenced_yaml(r.notes, "# --- z2jh values: begin ---", "# --- z2jh values: end ---")
    hub = z2jh["hub"]
    name = values.get("hub", {}).get("serviceName", "launcher")
    service = r.get("Service", FULLNAME)
    port = service["spec"]["ports"][0]["port"]
    assert hub["services"][name]["url"] == f"http://{FULLNAME}.{charts.NAMESPACE}.svc:{port}"
    assert any(name in role.get("services", []) for role in hub["loadRoles"].values())
    pods = launcher_pods(r)
    rule = z2jh["proxy"]["chp"]["networkPolicy"]["egress"][0]
    assert charts.selector_matches(rule["to"][0]["podSelector"], pods["metadata"]["labels"])
    assert rule["ports"][0]["port"] == charts.port_number(charts.container(pods, "launcher"), "http")
    # the hub mounts the systems Secret of this release and its extraConfig reads it
    secret_name = hub["extraVolumes"][0]["secret"]["secretName"]
    mount = hub["extraVolumeMounts"][0]["mountPath"]
    code = hub["extraConfig"]["nfdi-launcher-outposts.py"]
    assert f'"{mount}/systems.json"' in code
    if secret_name in existing_secret_names(values):
        return
    systems_json = r.get("Secret", secret_name)["stringData"]["systems.json"]
    (tmp_path / "systems.json").write_text(systems_json)
    c = Config()
    exec(compile(code.replace(mount, str(tmp_path)), "extraConfig", "exec"), {"c": c})  # noqa: S102
    assert c.JupyterHub.spawner_class == "outpostspawner.OutpostSpawner"
    for system, spec in values.get("outposts", {}).get("systems", {}).items():
        assert c.OutpostSpawner.request_url(None, {"system": system}) == spec["url"]
        header = c.OutpostSpawner.request_headers(None, {"system": system})["Authorization"]
        assert header.startswith("Basic ")


BAD_VALUES = [
    ({"replicas": 0}, "/replicas"),
    ({"replicas": 3, "store": {"url": ""}}, "store/url"),
    ({"replicas": 2, "receipts": {"existingSecret": ""}}, "receipts/existingSecret"),
    ({"builds": {"executor": "docker"}}, "/builds/executor"),
    ({"launcher": {"handoff": "ftp"}}, "/launcher/handoff"),
    ({"launcher": {"baseUrl": "services/launcher"}}, "/launcher/baseUrl"),
    ({"launcher": {"hubUrl": "https://hub.example.org"}}, "/launcher/hubUrl"),
    ({"registry": {"url": "registry.example.org"}}, "/registry/url"),
    ({"image": {"digest": "sha256:abc"}}, "/image/digest"),
    ({"image": {"name": "Upper/Case"}}, "/image/name"),
    ({"store": {"url": "mysql://x"}}, "/store/url"),
    ({"networkPolicy": {"publicPorts": [70000]}}, "/networkPolicy/publicPorts/0"),
    ({"networkPolicy": {"allowedCIDRs": [{"cidr": "10.0.0.1"}]}}, "/networkPolicy/allowedCIDRs/0"),
    ({"ingress": {"enabled": True, "host": "Bad Host"}}, "/ingress/host"),
    ({"serviceMonitor": {"interval": "often"}}, "/serviceMonitor/interval"),
    ({"builds": {"timeoutSeconds": 5}}, "/builds/timeoutSeconds"),
    ({"unknownKey": 1}, "unknownKey"),
]


@pytest.mark.parametrize(("bad", "where"), BAD_VALUES, ids=[w for _b, w in BAD_VALUES])
def test_schema_rejects_bad_values(bad: dict[str, Any], where: str) -> None:
    assert where in charts.rejection(CHART, "minimal-values.yaml", bad)


def test_missing_token_is_a_clear_error() -> None:
    values = charts.load_values(CHART, "minimal-values.yaml")
    values["hub"] = {"apiToken": ""}
    with pytest.raises(helm_python.HelmError, match=r"hub\.apiToken \(or existingSecret\) is required"):
        charts.render(CHART, values)


def test_package_leaves_ci_values_out(tmp_path: Path) -> None:
    names = charts.packaged_names(CHART, tmp_path)
    assert f"{CHART}/values.schema.json" in names and f"{CHART}/templates/NOTES.txt" in names
    assert not [n for n in names if "/ci/" in n]


@pytest.mark.parametrize("name", FILES)
def test_build_pods_fit_the_chart(name: str, tmp_path: Path) -> None:
    """The executor configured from the rendered config file makes build pods that the
    chart's Role allows, its NetworkPolicy selects, its DinD socket and Secret serve."""
    from builders import BuildManager
    from builders.executors import buildpod
    from builders.executors.base import BuildRequest
    from builders.executors.kubernetes import KubernetesExecutor

    values = charts.load_values(CHART, name)
    r = charts.render(CHART, values)
    config = load_config_file(r.get("ConfigMap", FULLNAME)["data"]["nfdi_launcher_config.py"], tmp_path)
    # the executor the launcher's BuildManager makes from this config file
    executor = BuildManager(config=config).executor
    assert isinstance(executor, KubernetesExecutor)
    assert executor.registry_url == config.BuildManager.registry_url
    image = f"registry.example.org/{config.BuildManager.image_prefix}gh-o-2dr-123456:abcdef"
    blob = buildpod.ContextBlob(executor.registry_url, "r", "sha256:" + "1" * 64)
    pod = buildpod.build_pod_manifest(executor.pod_spec(
        BuildRequest(context_dir=tmp_path, image=image, push=True), blob))
    for kube in charts.KUBE_VERSIONS:
        charts.validate([pod], kube)
    role = r.get("Role", f"{FULLNAME}-builds")
    assert role["metadata"]["namespace"] == pod["metadata"]["namespace"] == executor.namespace
    granted = {(res, verb) for rule in role["rules"] for res in rule["resources"] for verb in rule["verbs"]}
    # what PodApi calls: create, read, delete, list (+ delete by selector), log
    assert {("pods", "create"), ("pods", "get"), ("pods", "delete"), ("pods", "list"), ("pods/log", "get")} <= granted
    registry = next(v for v in pod["spec"]["volumes"] if v["name"] == "registry")["secret"]["secretName"]
    assert registry == (values.get("registry", {}).get("existingSecret") or f"{FULLNAME}-registry")
    socket = next(v for v in pod["spec"]["volumes"] if v["name"] == "docker-socket")["hostPath"]["path"]
    for dind in r.all("DaemonSet"):
        assert next(v for v in dind["spec"]["template"]["spec"]["volumes"]
                    if v["name"] == "run-dind")["hostPath"]["path"] == socket
        assert dind["spec"]["template"]["spec"].get("nodeSelector") == pod["spec"].get("nodeSelector")
    if values.get("networkPolicy", {}).get("enabled", True):
        policy = r.get("NetworkPolicy", f"{FULLNAME}-builds")
        assert charts.selector_matches(policy["spec"]["podSelector"], pod["metadata"]["labels"])
    assert pod["spec"]["activeDeadlineSeconds"] == values.get("builds", {}).get("timeoutSeconds", 3600)
