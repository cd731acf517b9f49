"""One user's systems from the rights an OIDC login left in auth_state (pure)."""

from __future__ import annotations

from typing import Any

from launcher.systems import systems_for_auth_state

SYSTEMS: list[dict[str, Any]] = [
    {"name": "small", "display_name": "Small", "needs_project": False,
     "flavors": [{"name": "s"}, {"name": "m"}]},
    {"name": "large", "display_name": "Large", "needs_project": False,
     "flavors": [{"name": "m"}, {"name": "l"}]},
    {"name": "hpc", "display_name": "HPC", "needs_project": True, "flavors": [{"name": "b"}]},
]


def names(systems: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {s["name"]: [f["name"] for f in s["flavors"]] for s in systems}


def test_without_per_user_rights_everything() -> None:
    assert systems_for_auth_state(SYSTEMS, None) == SYSTEMS
    assert systems_for_auth_state(SYSTEMS, {"name": "x"}) == SYSTEMS


def test_exactly_the_users_flavors_and_projects() -> None:
    state = {"outpost_flavors": {
        "small": {"s": {"weight": 1, "display_name": "Small one"}, "gpu": {"weight": 9}},
        "large": False, "hpc": {"b": {}}, "unknown": {"x": {}}},
        "resources": [{"system": "hpc", "project": "p1", "account": "bob"},
                      {"system": "elsewhere", "project": "p2", "account": "bob"}]}
    got = systems_for_auth_state(SYSTEMS, state)
    # the Outpost's answer counts (gpu came from a users: rule), highest weight first
    assert names(got) == {"small": ["gpu", "s"], "hpc": ["b"]}
    assert got[0]["flavors"][1]["display_name"] == "Small one"
    assert got[1]["projects"] == [{"project": "p1", "account": "bob", "partition": ""}]
    assert "projects" not in got[0]


def test_hpc_without_a_project_and_nothing_at_all() -> None:
    state = {"outpost_flavors": {"small": False, "large": {}, "hpc": {"b": {}}},
             "resources": []}
    assert systems_for_auth_state(SYSTEMS, state) == []
