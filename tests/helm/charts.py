"""Offline checks of the Helm charts: render, lint, validate, and meaning.

No Kubernetes API server runs here. What runs for real: the Helm SDK (``helm_python``,
libhelm) renders and lints the charts and enforces ``values.schema.json``;
``kubernetes_validate`` checks every rendered object against the official OpenAPI
schemas of the named Kubernetes versions with ``--strict`` (unknown fields fail). CRDs
(ServiceMonitor) have no bundled schema; they get the semantic checks only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / "helm"
KUBE_VERSIONS = ("1.30.0", "1.33.0")
#: kinds without a schema in kubernetes-validate (CustomResourceDefinitions of operators)
CRD_KINDS = {"ServiceMonitor"}
RELEASE, NAMESPACE = "rel", "hubns"


@dataclass
class Rendered:
    """One render of a chart: manifests by kind/name, and the NOTES text."""

    docs: list[dict[str, Any]]
    notes: str

    def kinds(self) -> set[str]:
        return {d["kind"] for d in self.docs}

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [d for d in self.all(kind) if name is None or d["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {d["metadata"]["name"] for d in self.all(kind)}


def load_values(chart: str, *files: str) -> dict[str, Any]:
    """Merge ci/ values files (later wins, maps merged like helm -f)."""
    values: dict[str, Any] = {}
    for name in files:
        data = yaml.safe_load((HELM / chart / "ci" / name).read_text()) or {}
        values = merge(values, data)
    return values


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def ci_values_files(chart: str) -> list[str]:
    return sorted(p.name for p in (HELM / chart / "ci").glob("*-values.yaml"))


def render(chart: str, values: dict[str, Any]) -> Rendered:
    with helm_python.Chart.load(str(HELM / chart)) as loaded:
        out = loaded.render(values, name=RELEASE, namespace=NAMESPACE)
    docs = [d for path, text in sorted(out.items()) if path.endswith((".yaml", ".yml"))
            for d in yaml.safe_load_all(text) if d]
    notes = next((t for p, t in out.items() if p.endswith("NOTES.txt")), "")
    return Rendered(docs=docs, notes=notes)


def lint(chart: str, values: dict[str, Any], kube_version: str) -> dict[str, Any]:
    result: dict[str, Any] = helm_python.lint(str(HELM / chart), values, strict=True,
                                             kube_version=f"v{kube_version}")
    return result


def validate(docs: list[dict[str, Any]], kube_version: str) -> list[str]:
    """Strict schema validation; returns the kinds that had no schema (CRDs)."""
    skipped = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            assert doc["kind"] in CRD_KINDS, f"no schema for {doc['kind']}"
            skipped.append(doc["kind"])
    return skipped


# -- meaning -----------------------------------------------------------------------------
def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Does a LabelSelector (matchLabels, matchExpressions In/Exists) select ``labels``?"""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        op, key = expr["operator"], expr["key"]
        if op == "In" and labels.get(key) not in expr["values"]:
            return False
        if op == "NotIn" and labels.get(key) in expr["values"]:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pod_templates(r: Rendered) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod template) of every Deployment/DaemonSet/StatefulSet."""
    for doc in r.docs:
        if doc["kind"] in ("Deployment", "DaemonSet", "StatefulSet"):
            yield doc, doc["spec"]["template"]


def secret_refs(pod_spec: dict[str, Any]) -> Iterator[tuple[str, str | None, bool]]:
    """(secret name, key or None, optional) for every Secret a pod spec uses."""
    for vol in pod_spec.get("volumes") or []:
        if "secret" in vol:
            items = vol["secret"].get("items") or [{"key": None}]
            for item in items:
                yield vol["secret"]["secretName"], item["key"], bool(vol["secret"].get("optional"))
    for ref in pod_spec.get("imagePullSecrets") or []:
        yield ref["name"], None, False
    for container in [*(pod_spec.get("initContainers") or []), *pod_spec["containers"]]:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                yield ref["name"], ref["key"], bool(ref.get("optional"))
        for src in container.get("envFrom") or []:
            if "secretRef" in src:
                yield src["secretRef"]["name"], None, bool(src["secretRef"].get("optional"))


def configmap_refs(pod_spec: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    for vol in pod_spec.get("volumes") or []:
        if "configMap" in vol:
            yield vol["configMap"]["name"], [i["key"] for i in vol["configMap"].get("items") or []]


def secret_keys(secret: dict[str, Any]) -> set[str]:
    return set(secret.get("data") or {}) | set(secret.get("stringData") or {})


def route_matches(routes: list[tuple[Any, ...]], path: str) -> Any:
    """The handler class tornado would pick for ``path`` (first full match), or None."""
    for entry in routes:
        if re.fullmatch(entry[0], path):
            return entry[1]
    return None


def fenced_yaml(text: str, begin: str, end: str) -> dict[str, Any]:
    """The YAML document between two marker lines of a NOTES text."""
    match = re.search(rf"^{re.escape(begin)}\n(.*?)^{re.escape(end)}$", text, re.S | re.M)
    assert match, f"no block between {begin!r} and {end!r}"
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data


def container(pod_template: dict[str, Any], name: str) -> dict[str, Any]:
    found = [c for c in pod_template["spec"]["containers"] if c["name"] == name]
    assert len(found) == 1, f"no container {name}"
    return found[0]


def port_number(c: dict[str, Any], name_or_number: str | int) -> int:
    if isinstance(name_or_number, int):
        return name_or_number
    ports = {p["name"]: p["containerPort"] for p in c.get("ports") or []}
    assert name_or_number in ports, f"container {c['name']} has no port {name_or_number}"
    return int(ports[name_or_number])


def check_workload_selectors(r: Rendered) -> None:
    """Every workload's selector selects its own pod template."""
    for workload, template in pod_templates(r):
        assert selector_matches(workload["spec"]["selector"], template["metadata"]["labels"]), \
            workload["metadata"]["name"]


def check_references(r: Rendered, external: set[str]) -> None:
    """Every Secret (and key), ConfigMap (and key), volume, ServiceAccount and Role a pod or
    binding names is rendered, or is one the operator was told to provide (``external``)."""
    secrets = {s["metadata"]["name"]: s for s in r.all("Secret")}
    configmaps = {c["metadata"]["name"]: c for c in r.all("ConfigMap")}
    claims = r.names("PersistentVolumeClaim")
    accounts = r.names("ServiceAccount") | {"default"}
    for _workload, template in pod_templates(r):
        spec = template["spec"]
        assert spec.get("serviceAccountName", "default") in accounts
        for name, key, optional in secret_refs(spec):
            if name in external:
                continue
            assert name in secrets, f"Secret {name} is used but not rendered"
            if key is not None and not optional:
                assert key in secret_keys(secrets[name]), f"{name} has no key {key}"
        for name, keys in configmap_refs(spec):
            assert name in configmaps, f"ConfigMap {name} is used but not rendered"
            assert set(keys) <= set(configmaps[name]["data"])
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for vol in volumes.values():
            if "persistentVolumeClaim" in vol:
                assert vol["persistentVolumeClaim"]["claimName"] in claims
        for c in spec["containers"]:
            for mount in c.get("volumeMounts", []):
                assert mount["name"] in volumes
                if mount.get("subPath") and "configMap" in volumes[mount["name"]]:
                    assert mount["subPath"] in configmaps[volumes[mount["name"]]["configMap"]["name"]]["data"]
    for binding in r.all("RoleBinding"):
        assert binding["roleRef"]["name"] in r.names("Role")
        for subject in binding["subjects"]:
            assert subject["name"] in accounts


def lint_and_validate(chart: str, values: dict[str, Any], rendered: Rendered, kube: str) -> list[str]:
    """Strict lint without warnings, then strict validation; the kinds without a schema."""
    result = lint(chart, values, kube)
    assert result["errors"] == [], result
    assert not [m for m in result["messages"] if m["severity"] > 1], result["messages"]
    return validate(rendered.docs, kube)


def rejection(chart: str, base_file: str, bad: dict[str, Any]) -> str:
    """The schema error for the base values with ``bad`` merged in (fails if accepted)."""
    values = merge(load_values(chart, base_file), bad)
    try:
        render(chart, values)
    except helm_python.HelmValuesError as err:
        return str(err)
    raise AssertionError(f"{chart} accepted {bad}")


def packaged_names(chart: str, destination: Path) -> list[str]:
    import tarfile

    tgz = helm_python.package(str(HELM / chart), destination=str(destination))
    with tarfile.open(tgz) as tar:
        return tar.getnames()
