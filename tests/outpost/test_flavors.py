"""flavors.yaml rules (pure, table-driven), held against the upstream Outpost's semantics.

Upstream (kreuzert/jupyterhub-outpost 2.3.0, ``spawner/outpost.py``): a pattern string is
tried as a regex (full match), then as a glob, then literally; a list matches by exact
membership; a ``users`` set matches when ANY of its ``authentication`` keys matches; of
the matching sets the highest weight wins and, among equal weights, the last written
(ascending sort, take the last); the winner's ``flavors`` come from all flavors.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from outpost.flavors import (
    MAX_AUTH_VALUE_LENGTH,
    MAX_AUTH_VALUES,
    AuthenticationError,
    FlavorError,
    check_authentication,
    check_start,
    flavors_for,
    matches,
    matches_pattern,
    parse_flavors,
    runtime_of,
    sorted_flavors,
)

DOC: dict[str, Any] = {
    "flavors": {
        "s": {"max": 3, "maxPerUser": 1, "weight": 1, "display_name": "Small"},
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
    ("nfdi", "nfdi-prod", False),        # full match, not search
    ("test-*", "test-hub", True),        # no regex match ("test" + "-"*), then the glob
    ("a+b", "a+b", True),                # no regex match, no glob match: literally
    ("[", "[", True),                    # invalid regex: glob / literal
    ("gpu?", "gpu", True),               # the regex ("gp" + optional "u") matches,
    ("gpu?", "gpu1", True),              # ... here only the glob does
    ("gpu?", "gpu12", False),
])
def test_pattern_order_regex_glob_literal(pattern: str, value: str, expected: bool) -> None:
    assert matches_pattern(pattern, value) is expected


@pytest.mark.parametrize("pattern, value, expected", [
    (["x", "y"], "y", True),             # list: exact membership
    (["x", "y"], "xy", False),
    (["x.*"], "xyz", False),             # list entries are literals, never patterns
    ("gpu-users", ["other", "gpu-users"], True),  # a list value matches if any element does
    ("admins", ".*", False),             # the USER's value is data, never a pattern
    ("admins", "*", False),
    (["admins"], [".*", "adm?ns"], False),
])
def test_lists_and_user_values_are_literal(pattern: Any, value: Any, expected: bool) -> None:
    assert matches(pattern, value) is expected


@pytest.mark.parametrize("hub, auth, expected", [
    ("jsc", None, ["s", "m"]),
    ("nfdi-prod", None, ["s", "m", "gpu"]),
    ("test-1", None, ["s"]),
    ("unknown", None, []),                                   # hubs section: no match, none
    ("nfdi-prod", {"groups": ["gpu-users"]}, ["gpu"]),       # the user set decides
    ("nfdi-dev", {"groups": ["gpu-users"]}, ["s", "m", "gpu"]),  # set limited to nfdi-prod
    ("nfdi-prod", {"name": "mallory@evil"}, []),             # forbidden
    ("jsc", {"email": "bob@uni.example"}, ["s"]),            # negated match
    ("jsc", {"email": "eve@staff.example"}, ["s", "m"]),
    ("jsc", {}, ["s", "m"]),                                 # empty authentication
    ("nfdi-prod", {"groups": ["other"]}, ["s", "m", "gpu"]),  # no set matches: the hub's
])
def test_flavors_for(hub: str, auth: dict[str, Any] | None, expected: list[str]) -> None:
    assert sorted(flavors_for(CFG, hub, auth)) == sorted(expected)


def _users(users: dict[str, Any], hubs: dict[str, Any] | None = None) -> Any:
    return parse_flavors({"flavors": DOC["flavors"], "hubs": hubs or {
        "all": {"jupyterhub_name": ".*", "flavors": ["s", "m"]}}, "users": users})


def test_highest_weight_wins_whatever_the_order() -> None:
    for order in (1, -1):
        users = dict(list({"low": {"authentication": {"groups": ["a"]}, "flavors": ["s"],
                                   "weight": 1},
                           "high": {"authentication": {"groups": ["b"]}, "flavors": ["m"],
                                    "weight": 5}}.items())[::order])
        assert list(flavors_for(_users(users), "h", {"groups": ["a", "b"]})) == ["m"]


def test_equal_weights_the_last_written_wins() -> None:
    users = {"first": {"authentication": {"groups": ["a"]}, "flavors": ["s"], "weight": 3},
             "second": {"authentication": {"groups": ["b"]}, "flavors": ["m"], "weight": 3}}
    assert list(flavors_for(_users(users), "h", {"groups": ["a", "b"]})) == ["m"]
    swapped = dict(reversed(list(users.items())))
    assert list(flavors_for(_users(swapped), "h", {"groups": ["a", "b"]})) == ["s"]
    # no weight counts as 0
    users = {"w0": {"authentication": {"groups": ["a"]}, "flavors": ["s"]},
             "neg": {"authentication": {"groups": ["a"]}, "flavors": ["m"], "weight": -1}}
    assert list(flavors_for(_users(users), "h", {"groups": ["a"]})) == ["s"]


def test_any_authentication_key_matches() -> None:
    users = {"either": {"authentication": {"name": "alice", "groups": ["hpc"]},
                        "flavors": ["gpu"]}}
    cfg = _users(users)
    assert list(flavors_for(cfg, "h", {"name": "alice", "groups": []})) == ["gpu"]
    assert list(flavors_for(cfg, "h", {"name": "bob", "groups": ["hpc"]})) == ["gpu"]
    assert sorted(flavors_for(cfg, "h", {"name": "bob", "groups": ["x"]})) == ["m", "s"]


def test_user_set_flavors_come_from_all_flavors_with_overrides() -> None:
    users = {"gpu": {"authentication": {"groups": ["gpu"]}, "flavors": ["gpu", "s"],
                     "flavorsOverride": {"s": {"maxPerUser": 5}}}}
    got = flavors_for(_users(users), "h", {"groups": ["gpu"]})
    assert sorted(got) == ["gpu", "s"]    # gpu is not among the hub's flavors
    assert got["s"]["maxPerUser"] == 5
    assert DOC["flavors"]["s"]["maxPerUser"] == 1   # the file's definition is untouched
    every = flavors_for(_users({"any": {"authentication": {"groups": ["x"]}}}), "h",
                        {"groups": ["x"]})
    assert sorted(every) == ["gpu", "m", "s"]   # a set without ``flavors``: all of them


def test_hubs_of_a_user_set_are_exact_names() -> None:
    users = {"g": {"authentication": {"groups": ["g"]}, "hubs": ["hub.a"], "flavors": ["gpu"]}}
    cfg = _users(users)
    assert list(flavors_for(cfg, "hub.a", {"groups": ["g"]})) == ["gpu"]
    assert "gpu" not in flavors_for(cfg, "hubXa", {"groups": ["g"]})   # "." is no wildcard


def test_override_and_weight_order_and_no_hubs_section() -> None:
    nfdi = flavors_for(CFG, "nfdi-prod")
    assert nfdi["m"]["maxPerUser"] == 2
    assert "maxPerUser" not in CFG.flavors["m"]
    assert list(sorted_flavors(nfdi)) == ["gpu", "m", "s"]
    open_cfg = parse_flavors({"flavors": DOC["flavors"]})
    assert sorted(flavors_for(open_cfg, "anyone")) == ["gpu", "m", "s"]


@pytest.mark.parametrize("hub, flavor, auth, glob, user, message, reason", [
    ("jsc", "xl", None, 0, 0, "The flavor 'xl' does not exist on this system. "
     "Available: m (m), Small (s).", "flavor_unknown"),
    ("jsc", "gpu", None, 0, 0, "The flavor 'gpu' does not exist", "flavor_unknown"),
    ("jsc", None, None, 0, 0, "No flavor was chosen. You may use: m (m), Small (s).",
     "flavor_missing"),
    ("jsc", "s", None, 0, 1, "You already run 1 server on 'Small' (the limit). Stop one, or "
     "pick another flavor.", "flavor_user_limit"),
    ("jsc", "s", None, 3, 0, "All 3 servers on 'Small' are in use. Try again later, or pick "
     "another flavor.", "flavor_full"),
    ("nfdi-prod", "m", {"groups": ["gpu-users"]}, 0, 0,
     "Your account may not use the flavor 'm' on this system. You may use: gpu (gpu). "
     "Ask support@example.org for access.", "flavor_not_allowed"),
    ("nfdi-prod", "s", {"name": "mallory@evil"}, 0, 0,
     "Your account may not start servers on this system. Ask support@example.org for access.",
     "user_forbidden"),
])
def test_check_start_refuses_with_a_message_for_people(
        hub: str, flavor: str | None, auth: dict[str, Any] | None, glob: int, user: int,
        message: str, reason: str) -> None:
    with pytest.raises(FlavorError) as err:
        check_start(CFG, hub, flavor, auth, running_global=glob, running_user=user,
                    access_help="Ask support@example.org for access.")
    assert message in str(err.value)
    assert err.value.reason == reason
    # the class name is what reaches a launcher through the hub (it maps it to its reason)
    assert type(err.value).__name__ == {
        "flavor_unknown": "FlavorUnknown", "flavor_missing": "FlavorMissing",
        "flavor_user_limit": "FlavorUserLimit", "flavor_full": "FlavorFull",
        "flavor_not_allowed": "FlavorNotAllowed", "user_forbidden": "UserForbidden"}[reason]


def test_check_start_accepts_and_no_rules_accept_everything() -> None:
    assert check_start(CFG, "jsc", "m", None, running_global=100, running_user=100)["weight"] == 5
    assert check_start(CFG, "nfdi-prod", "gpu", {"groups": ["gpu-users"]}, running_global=0,
                       running_user=0)["max"] == 1
    assert check_start(parse_flavors(None), "x", None, None, running_global=0,
                       running_user=0) == {}


@pytest.mark.parametrize("auth, key", [
    ({"groups": ["g"] * (MAX_AUTH_VALUES + 1)}, "groups"),
    ({"name": "a" * (MAX_AUTH_VALUE_LENGTH + 1)}, "name"),
    ({"groups": ["ok", "x" * (MAX_AUTH_VALUE_LENGTH + 1)]}, "groups"),
    ({f"k{i}": "v" for i in range(100)}, ""),
    (["not", "a", "dict"], ""),
])
def test_authentication_is_bounded(auth: Any, key: str) -> None:
    with pytest.raises(AuthenticationError) as err:
        check_authentication(auth)
    assert err.value.key == key


def test_long_values_and_metacharacters_are_matched_as_data() -> None:
    long_group = "(a+)+" * (MAX_AUTH_VALUE_LENGTH // 5)   # also a classic ReDoS pattern
    auth = check_authentication({"groups": [long_group, ".*", "gpu-users|admins"]})
    assert sorted(flavors_for(CFG, "nfdi-prod", auth)) == ["gpu", "m", "s"]   # no set matches


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
