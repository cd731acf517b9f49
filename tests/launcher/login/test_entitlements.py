"""Entitlements -> groups and HPC resources (pure), with hostile values."""

from __future__ import annotations

from typing import Any

import pytest

from launcher.login.entitlements import EntitlementMapper, Resource, fill, map_entitlements

RULES = EntitlementMapper().rules()
NS = "geant:nfdi.example"


def groups(values: Any, rules: Any = RULES) -> list[str]:
    return list(map_entitlements(values, rules).groups)


def test_aarc_group_with_subgroups_role_and_authority() -> None:
    got = groups([f"urn:{NS}:group:jupyter:gpu:a100:role=member#login.example"])
    assert got == [f"{NS}:jupyter", f"{NS}:jupyter:gpu", f"{NS}:jupyter:gpu:a100",
                   f"{NS}:jupyter:gpu:a100:role=member"]
    assert groups([f"urn:{NS}:group:jupyter"]) == [f"{NS}:jupyter"]   # G002: no authority


def test_same_group_name_of_two_communities_stays_apart() -> None:
    got = groups(["urn:geant:a.example:group:admins#a", "urn:geant:b.example:group:admins#b"])
    assert got == ["geant:a.example:admins", "geant:b.example:admins"]


def test_resource_capability_becomes_a_resource_and_groups() -> None:
    rights = map_entitlements(
        [f"urn:{NS}:res:hpc-slurm:demo-project:act:bob:primary#login.example"], RULES)
    assert rights.resources == (Resource("hpc-slurm", "demo-project", "bob",
                                         accounttype="primary"),)
    assert rights.groups == ("res:hpc-slurm", "res:hpc-slurm:demo-project")
    assert rights.accepted and not rights.unmatched


def test_resource_names_map_system_and_partition() -> None:
    mapper = EntitlementMapper(resource_names={"JUWELS_batch": {"system": "JUWELS",
                                                                "partition": "batch"},
                                               "jusuf": "JUSUF"})
    rights = map_entitlements(["urn:x:res:juwels_batch:p1:act:acc1:primary",
                               "urn:x:res:jusuf:p2:act:acc2:primary"], mapper.rules())
    assert rights.resources == (Resource("JUSUF", "p2", "acc2", accounttype="primary"),
                                Resource("JUWELS", "p1", "acc1", "batch", "primary"))


def test_operator_patterns_and_templates() -> None:
    mapper = EntitlementMapper(
        group_patterns=[r"https://idp\.example/groups/(?P<group>[a-z]+)"],
        group_templates=["idp:{group}"],
        resource_patterns=[r"hpc:(?P<system>\w+):(?P<project>\w+):(?P<account>\w+)"],
        resource_groups=["hpc-{system}"])
    rights = map_entitlements(["https://idp.example/groups/physics", "hpc:cluster:p9:u1",
                               f"urn:{NS}:group:jupyter"], mapper.rules())
    assert rights.groups == ("hpc-cluster", "idp:physics")
    assert rights.resources == (Resource("cluster", "p9", "u1"),)
    assert rights.unmatched == 1   # the AARC value is not understood by these rules


def test_fill_knows_placeholders_only() -> None:
    assert fill("{a}-{b}-{missing}", {"a": "1", "b": "2"}) == "1-2-"
    assert fill("{a.__class__}{0}", {"a": "x"}) == "{a.__class__}"   # no attribute access


@pytest.mark.parametrize("value", [
    "",                                   # empty
    "urn:x:group:" + "a" * 2000,          # too long
    "urn:x:group:a b",                    # whitespace
    "urn:x:group:a\nurn:x:group:admin",   # a line break smuggling a second value
    "urn:x:group:<script>",               # markup
    "urn:x:group:gr\u00fcn",              # non-ASCII
    "urn:x:group:a\x00b",                 # NUL
    42, None, {"group": "admin"}, ["urn:x:group:nested"],  # not strings
])
def test_hostile_values_are_dropped_not_matched(value: Any) -> None:
    rights = map_entitlements([value, "urn:x:group:ok"], RULES)
    assert rights.groups == ("x:ok",)
    assert rights.dropped == 1


def test_regex_metacharacters_are_data() -> None:
    value = "urn:x:group:(a+)+$:.*:[admin]"
    rights = map_entitlements([value], RULES)
    assert rights.groups == ("x:(a+)+$", "x:(a+)+$:.*", "x:(a+)+$:.*:[admin]")
    # captured values are never compiled: a "pattern" in a resource name maps to nothing
    mapper = EntitlementMapper(resource_names={".*": "EVERYTHING"})
    rights = map_entitlements(["urn:x:res:hpc:p:act:a:primary"], mapper.rules())
    assert rights.resources[0].system == "hpc"


def test_count_is_bounded_and_claim_shapes() -> None:
    many = [f"urn:x:group:g{i}" for i in range(300)]
    rights = map_entitlements(many, RULES)
    assert len(rights.groups) == 256 and rights.dropped == 44
    assert groups("urn:x:group:single") == ["x:single"]   # a claim that is one string
    assert groups(None) == [] and groups([]) == []


def test_nothing_matches() -> None:
    rights = map_entitlements(["urn:x:entitlement:other", "mailto:someone@example.org"], RULES)
    assert rights.groups == () and rights.resources == () and rights.unmatched == 2


def test_bad_operator_pattern_is_refused_at_configuration() -> None:
    with pytest.raises(ValueError, match="bad pattern"):
        EntitlementMapper(group_patterns=["(unclosed"])
