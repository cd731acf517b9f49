"""Ref selection against ls-remote output (pure; the output is what git prints)."""

from __future__ import annotations

import pytest

from fdo.errors import NotFound
from fdo.net import parse_ls_remote
from fdo.resolvers.git import RefPick, pick_ref

A, B, C, T = "a" * 40, "b" * 40, "c" * 40, "d" * 40
LS_REMOTE = f"""ref: refs/heads/main\tHEAD
{A}\tHEAD
{A}\trefs/heads/main
{B}\trefs/heads/foo/main
{C}\trefs/heads/v2
{T}\trefs/tags/v2
{B}\trefs/tags/v2^{{}}
{A}\trefs/tags/same
{A}\trefs/heads/same
{C}\trefs/heads/feature/x
"""
REMOTE = parse_ls_remote(LS_REMOTE)


@pytest.mark.parametrize(("ref", "kind", "expected"), [
    ("", "", RefPick(A, "refs/heads/main")),
    ("HEAD", "spec", RefPick(A, "refs/heads/main")),
    ("main", "spec", RefPick(A, "refs/heads/main")),  # not the tail match refs/heads/foo/main
    ("foo/main", "spec", RefPick(B, "refs/heads/foo/main")),
    ("refs/tags/v2", "spec", RefPick(B, "refs/tags/v2", tag_object=T)),
    ("v2", "tree-tag", RefPick(B, "refs/tags/v2", tag_object=T)),
    ("v2", "tree-branch", RefPick(C, "refs/heads/v2")),
    ("same", "spec", RefPick(A, "refs/tags/same")),  # same commit: no real ambiguity
    ("feature/x/docs/a", "tree", RefPick(C, "refs/heads/feature/x", path="docs/a")),
    (C, "commit", RefPick(C, "")),
    ("e" * 40, "commit", RefPick("e" * 40, "", advertised=False)),
])
def test_pick(ref: str, kind: str, expected: RefPick) -> None:
    assert pick_ref(REMOTE, ref, kind) == expected


def test_branch_and_tag_on_different_commits_are_ambiguous() -> None:
    picks = pick_ref(REMOTE, "v2", "spec")
    assert isinstance(picks, list)
    assert [p.name for p in picks] == ["refs/heads/v2", "refs/tags/v2"]


def test_tree_refs_do_not_split_for_specs() -> None:
    with pytest.raises(NotFound):
        pick_ref(REMOTE, "feature/x/docs", "spec")


def test_abbreviated_commit_from_a_commit_url_is_expanded_only_if_unique_and_advertised() -> None:
    assert pick_ref(REMOTE, "cccccccc", "commit") == RefPick(C, "")
    with pytest.raises(NotFound, match="full 40-character"):
        pick_ref(REMOTE, "deadbeef", "spec")


def test_empty_repository_has_no_head() -> None:
    with pytest.raises(NotFound, match="no default branch"):
        pick_ref(parse_ls_remote(""), "", "")
