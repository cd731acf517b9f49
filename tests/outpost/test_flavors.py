"""flavors.yaml rules (pure, table-driven)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from outpost.flavors import (
    FlavorError,
    check_start,
    flavors_for,
    matches,
    parse_flavors,
    runtime_of,
    sorted_flavors,
)

DOC: dict[str, Any] = {
    "flavors": {
        "s": {"max": 3, "maxPerUser": 1, "weight": 1},
        "m": {"max": -1, "weight": 5, "resources": {"cpu_limit": 2}},
        "gpu": {"max": 1, "weight": 9},
    },
    "hubs": {
        "jsc": {"jupyterhub_name": ["jsc"], "flavors": ["s", "m"], "weight": 1},
        "nfdi": {"jupyterhub_name": "nfdi-.*", "flavors": ["s", "m", "gpu"], "weight": 2,
                 "flavorsOverride": {"m": {"maxPerUser": 2}}},
        "glob": {"jupyterhub_name": "test-*", "flavors": ["s"], "weight": 0},
    },
    "users": {
        "gpu-group": {"authentication": {"groups": ["gpu-users"]}, "hubs": ["nfdi-prod"],
                      "flavors": ["gpu"], "weight": 10},
        "blocked": {"authentication": {"name": "mallory@.*"}, "forbidden": True, "weight": 20},
        "not-staff": {"authentication": {"email": ".*@staff.example"},
                      "negate_authentication": True, "hubs": ["jsc"], "flavors": ["s"],
                      "weight": 1},
    },
}
CFG = parse_flavors(DOC)


@pytest.mark.parametrize("pattern, value, expected", [
    ("nfdi-.*", "nfdi-prod", True),      # regex, full match
    ("nfdi-.*", "xnfdi-prod", False),
    ("test-*", "test-hub", True),        # glob ("test-*" is also a regex: "test" + "-"*)
    ("a+b", "a+b", True),                # literal (the regex does not match itself)
    (["x", "y"], "y", True),             # list: exact membership
    (["x", "y"], "xy", False),
    ("gpu-users", ["other", "gpu-users"], True),  # a list value matches if any element does
    ("[", "[", True),                    # invalid regex: glob / literal
])
def test_matches(pattern: Any, value: Any, expected: bool) -> None:
    assert matches(pattern, value) is expected


@pytest.mark.parametrize("hub, auth, expected", [
    ("jsc", None, ["s", "m"]),
    ("nfdi-prod", None, ["s", "m", "gpu"]),
    ("test-1", None, ["s"]),
    ("unknown", None, []),                                   # hubs section: no match, none
    ("nfdi-prod", {"groups": ["gpu-users"]}, ["gpu"]),       # user set narrows
    ("nfdi-dev", {"groups": ["gpu-users"]}, ["s", "m", "gpu"]),  # set limited to nfdi-prod
    ("nfdi-prod", {"name": "mallory@evil"}, []),             # forbidden
    ("jsc", {"email": "bob@uni.example"}, ["s"]),            # negated match
    ("jsc", {"email": "eve@staff.example"}, ["s", "m"]),
])
def test_flavors_for(hub: str, auth: dict[str, Any] | None, expected: list[str]) -> None:
    assert sorted(flavors_for(CFG, hub, auth)) == sorted(expected)


def test_override_and_weight_order_and_no_hubs_section() -> None:
    nfdi = flavors_for(CFG, "nfdi-prod")
    assert nfdi["m"]["maxPerUser"] == 2
    assert "maxPerUser" not in CFG.flavors["m"]
    assert list(sorted_flavors(nfdi)) == ["gpu", "m", "s"]
    open_cfg = parse_flavors({"flavors": DOC["flavors"]})
    assert sorted(flavors_for(open_cfg, "anyone")) == ["gpu", "m", "s"]


@pytest.mark.parametrize("flavor, glob, user, message", [
    ("xl", 0, 0, "Start with flavor xl not allowed"),
    ("gpu", 0, 0, "Start with flavor gpu not allowed"),   # jsc may not use gpu
    (None, 0, 0, "No flavor given"),
    ("s", 0, 1, "limit of 1 server(s) per user"),
    ("s", 3, 0, "all 3 slot(s) are in use"),
])
def test_check_start_refuses(flavor: str | None, glob: int, user: int, message: str) -> None:
    with pytest.raises(FlavorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_start(CFG, "jsc", flavor, None, running_global=glob, running_user=user)


def test_check_start_accepts_and_no_rules_accept_everything() -> None:
    assert check_start(CFG, "jsc", "m", None, running_global=100, running_user=100)["weight"] == 5
    assert check_start(parse_flavors(None), "x", None, None, running_global=0,
                       running_user=0) == {}


@pytest.mark.parametrize("doc, message", [
    ([1], "top level must be a mapping"),
    ({"flavour": {}}, "unknown top-level keys"),
    ({"flavors": {"a": 1}}, "flavors must map names to mappings"),
    ({"flavors": {"a": {"runtime": {"years": 1}}}}, "runtime must use keys"),
    ({"flavors": {"a": {"start_timeout": 0}}}, "start_timeout must be a positive"),
    ({"flavors": {"a": {"start_timeout": "10"}}}, "start_timeout must be a positive"),
])
def test_bad_files_are_rejected(doc: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_flavors(doc)


def test_runtime() -> None:
    assert runtime_of({"runtime": {"hours": 2, "minutes": 30}}) == timedelta(hours=2, minutes=30)
    assert runtime_of({}) is None
