"""Jupyter-JSC user_options → spawner settings (pure, table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from outpost.mapping import MappingError, image_allowed, map_user_options

PREFIXES = ["127.0.0.1:*/", "local/"]


def _map(options: dict[str, Any], flavor: dict[str, Any] | None = None, **kw: Any) -> Any:
    args: dict[str, Any] = {"hub": "hub-a", "user_id": "42", "server_name": "srv",
                            "start_id": "abc", "default_image": "", "allowed_prefixes": PREFIXES,
                            "prefix": "p-"}
    args.update(kw)
    return map_user_options(options, flavor or {}, **args)


@pytest.mark.parametrize("image, ok", [
    ("127.0.0.1:5000/r2d/repo:abc", True),
    ("127.0.0.1:41234/a/b/c@sha256:" + "0" * 64, True),
    ("local/jupyter-base:6.1.1", True),
    ("127.0.0.1:5000.evil.com/x:1", False),   # '*' does not cross into another host
    ("127.0.0.1/x:1", False),
    ("docker.io/library/busybox", False),
    ("localx/jupyter", False),
    ("local/Jupyter", False),                 # upper case is not a valid reference
    ("local/x:1 --privileged", False),
    ("local/../x", False),
    ("", False),
])
def test_image_allowed(image: str, ok: bool) -> None:
    assert image_allowed(image, PREFIXES) is ok


def test_full_mapping() -> None:
    s = _map({"custom": {"customimage": "local/x:1"},
              "storage": {"localstoragepath": "/home/jovyan/data/"}},
             {"resources": {"cpu_limit": 1.5, "mem_limit": "2G"}})
    assert s.image == "local/x:1"
    assert s.mount_path == "/home/jovyan/data"
    assert (s.cpu_limit, s.mem_limit) == (1.5, "2G")
    assert s.volume_name == "p-vol-hub_2Da-42"
    assert s.container_name == "p-hub_2Da-42-srv-abc"


@pytest.mark.parametrize("options, image", [
    ({"repo2docker": {"image": "local/r2d:1"}}, "local/r2d:1"),
    ({}, "local/default:1"),
])
def test_image_sources(options: dict[str, Any], image: str) -> None:
    assert _map(options, default_image="local/default:1").image == image
    assert _map(options, default_image="local/default:1").mount_path == "/home/jovyan/work"


def test_volume_is_per_hub_and_user_and_escaping_is_injective() -> None:
    base = {"custom": {"customimage": "local/x:1"}}
    v = {_map(base, hub=h, user_id=u).volume_name
         for h, u in [("a", "1"), ("b", "1"), ("a", "2"), ("a-1", "1"), ("a", "-1-1")]}
    assert len(v) == 5
    # Same hub and user, another server or image: the same volume.
    assert _map(base, server_name="x").volume_name == _map(
        {"custom": {"customimage": "local/y:2"}}).volume_name


@pytest.mark.parametrize("options, flavor, message", [
    ({}, {}, "No image given"),
    ({"custom": "local/x"}, {}, "must be objects"),
    ({"custom": {"customimage": "quay.io/x:1"}}, {}, "not from an allowed registry"),
    ({"custom": {"customimage": 5}}, {}, "not from an allowed registry"),
    ({"storage": {"localstoragepath": "relative"}}, {}, "absolute path"),
    ({"storage": {"localstoragepath": "/home/jovyan/./x"}}, {}, "normalised"),
    ({"storage": {"localstoragepath": "/home/jovyan/x/../.."}}, {}, "normalised"),
    ({"storage": {"localstoragepath": "/home/jovyan"}}, {}, "below /home/jovyan/"),
    ({"storage": {"localstoragepath": "/home/jovyanx"}}, {}, "below /home/jovyan/"),
    ({"storage": {"localstoragepath": "/root/.ssh"}}, {}, "below /home/jovyan/"),
    ({"storage": "x"}, {}, "must be an object"),
    ({}, {"resources": {"mem_limit": "lots"}}, "mem_limit"),
    ({}, {"resources": {"cpu_limit": 0}}, "cpu_limit"),
])
def test_refusals(options: dict[str, Any], flavor: dict[str, Any], message: str) -> None:
    options = {"custom": {"customimage": "local/x:1"}, **options} if "custom" not in options \
        and message != "No image given" else options
    with pytest.raises(MappingError, match=message):
        _map(options, flavor)
