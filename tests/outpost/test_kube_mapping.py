"""user_options + flavor -> KubeSpawner profile (outpost/backends/kube_mapping.py), pure."""

from __future__ import annotations

import re
from typing import Any

import pytest

from outpost.backends import kube_mapping as km
from outpost.mapping import MappingError, SpawnSettings
from tests.outpost.kube_objects import DIGEST, IMAGE, user_options

PREFIXES = ["registry.example.org/nfdi-launcher/"]
STORAGE = km.StorageSettings("fast", "20Gi")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def settings(image: str = IMAGE, mount: str = "/home/jovyan/work") -> SpawnSettings:
    return SpawnSettings(image=image, volume_name="v", mount_path=mount, container_name="c",
                         cpu_limit=2.0, mem_limit="4G")


def profile(flavor: dict[str, Any] | None = None, uo: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    flavor = flavor if flavor is not None else {"display_name": "Medium", "resources": {"cpu_limit": 2, "mem_limit": "4G"}}
    kw.setdefault("hub", "hub.example.org")
    kw.setdefault("user_id", "42")
    return km.kube_profile(settings(), flavor, uo if uo is not None else user_options(), storage=STORAGE,
                           prefixes=PREFIXES, **kw)


def test_profile_has_jsc_shape() -> None:
    p = profile()
    assert set(p) == {"display_name", "slug", "default", "kubespawner_override"}
    assert p["slug"] == "custom"  # the launcher's user_options["profile"]
    assert p["default"] is True
    assert p["display_name"] == "Medium"


def test_image_is_pinned_by_the_launchers_digest() -> None:
    assert profile()["kubespawner_override"]["image"] == f"{IMAGE}@{DIGEST}"


@pytest.mark.parametrize("r2d_image", [
    None,                                                     # no pinned reference sent
    f"registry.example.org/nfdi-launcher/other:1@{DIGEST}",   # pinned, but another image
    f"evil.example.org/nfdi-launcher/gh-o-2dr-4b1c2d:0f0f0f0f@{DIGEST}",  # not an allowed prefix
    f"{IMAGE}@sha256:12",                                     # not a digest
])
def test_unpinned_images_are_refused(r2d_image: str | None) -> None:
    uo = user_options()
    uo["repo2docker"]["image"] = r2d_image
    with pytest.raises(MappingError, match="not pinned by digest"):
        profile(uo=uo)
    assert profile(uo=uo, require_digest=False)["kubespawner_override"]["image"] == IMAGE


def test_resources_and_scheduling_come_from_the_flavor() -> None:
    flavor = {"resources": {"cpu_limit": 4, "cpu_guarantee": 1, "mem_limit": "16G", "mem_guarantee": "8G",
                            "node_selector": {"nvidia.com/gpu.present": "true"},
                            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                            "extra_resource_limits": {"nvidia.com/gpu": "1"}}}
    o = profile(flavor)["kubespawner_override"]
    assert (o["cpu_limit"], o["cpu_guarantee"], o["mem_limit"], o["mem_guarantee"]) == (4.0, 1.0, "16G", "8G")
    assert o["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert o["tolerations"] == flavor["resources"]["tolerations"]
    assert o["extra_resource_limits"] == o["extra_resource_guarantees"] == {"nvidia.com/gpu": "1"}


def test_flavor_without_resources_sets_no_limits() -> None:
    o = profile({"display_name": "Default"})["kubespawner_override"]
    assert not {"cpu_limit", "mem_limit", "cpu_guarantee", "mem_guarantee"} & set(o)


@pytest.mark.parametrize(("resources", "message"), [
    ({"cpu_limit": 1, "cpu_guarantee": 2}, "cpu_guarantee"),
    ({"mem_guarantee": "lots"}, "mem_guarantee"),
    ({"node_selector": {"bad key!": "x"}}, "node_selector"),
    ({"node_selector": {"zone": "a b"}}, "node_selector"),
    ({"tolerations": [{"key": "k", "command": "rm"}]}, "tolerations"),
    ({"extra_resource_limits": {"nvidia.com/gpu": "many"}}, "extra_resource_limits"),
    ({"mem_limit": "2 GB"}, "mem_limit"),
])
def test_bad_flavors_are_clear_errors(resources: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        profile({"resources": resources})


def test_one_claim_per_hub_and_user() -> None:
    a = profile()["kubespawner_override"]
    b = km.kube_profile(settings(mount="/home/jovyan/data"), {}, {**user_options(), "profile": "other"},
                        hub="hub.example.org", user_id="42", storage=STORAGE, prefixes=PREFIXES)["kubespawner_override"]
    assert a["pvc_name"] == b["pvc_name"]  # another server of the same user: same data
    assert profile(user_id="43")["kubespawner_override"]["pvc_name"] != a["pvc_name"]
    assert profile(hub="hub.other.org")["kubespawner_override"]["pvc_name"] != a["pvc_name"]
    assert a["volumes"] == [{"name": km.PVC_VOLUME, "persistentVolumeClaim": {"claimName": a["pvc_name"]}}]
    assert a["volume_mounts"] == [{"name": km.PVC_VOLUME, "mountPath": "/home/jovyan/work"}]
    assert b["volume_mounts"][0]["mountPath"] == "/home/jovyan/data"
    assert (a["storage_class"], a["storage_capacity"], a["storage_pvc_ensure"]) == ("fast", "20Gi", True)


@pytest.mark.parametrize(("hub", "user_id"), [
    ("hub.example.org", "42"), ("Hub_With.Caps", "0"), ("h" * 300, "9" * 50), ("hub/../x", "id;rm -rf"),
])
def test_names_are_valid_kubernetes_names(hub: str, user_id: str) -> None:
    claim = km.pvc_name(hub, user_id)
    assert len(claim) <= 63
    assert DNS_SUBDOMAIN.fullmatch(claim), claim
    template = km.pod_name_template(hub)
    assert template.endswith("--{user_server}")
    assert DNS_SUBDOMAIN.fullmatch(template.removesuffix("--{user_server}")), template


def test_distinct_hubs_never_share_names() -> None:
    """Hubs whose names differ only in characters the slug drops still get distinct names."""
    assert km.pvc_name("hub.a", "1") != km.pvc_name("hub-a", "1")
    assert km.pod_name_template("hub.a") != km.pod_name_template("hub-a")
