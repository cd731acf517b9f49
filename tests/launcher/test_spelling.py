"""Spellings of a target for bans and allows: one set of candidates whatever the spelling."""

from __future__ import annotations

import pytest

from fdo.providers import parse
from fdo.target import Hop, LaunchTarget
from launcher.spelling import candidates, plain, spec_forms, target_texts


def canonical(text: str) -> str:
    return parse(text).normalized


SPELLINGS_OF_A_DOI = [
    "doi/10.5281/zenodo.666",
    "doi/10.5281%2Fzenodo.666",  # issue 10, finding 1
    "doi/10.5281%252Fzenodo.666",  # double encoding
    "doi/10.5281%25252Fzenodo.666",  # triple
    "doi/10.5281\uff0fzenodo.666",  # full-width solidus
    "doi/10.5281/zen\u200bodo.666",  # zero-width space
    "doi/10.5281/\uff5a\uff45\uff4e\uff4f\uff44\uff4f.666",  # full-width letters
    "zenodo/10.5281/zenodo.666",
    "10.5281/zenodo.666",
    "https://doi.org/10.5281/zenodo.666",
]


@pytest.mark.parametrize("spelling", SPELLINGS_OF_A_DOI)
def test_every_spelling_of_a_doi_has_its_doi_spec(spelling: str) -> None:
    assert "doi/10.5281/zenodo.666" in candidates([spelling], canonical)


SPELLINGS_OF_A_REPO = [
    "gh/evil-org/x/HEAD",
    "git/https%3A%2F%2Fgithub.com%2Fevil-org%2Fx/HEAD",  # issue 10, finding 1
    "git/https%253A%252F%252Fgithub.com%252Fevil-org%252Fx/HEAD",
    "https://github.com/evil-org/x",
    "https://github.com/evil-org/x.git",
    "https://www.github.com/evil-org/x/tree/main",
    "git@github.com:evil-org/x.git",
    "gh/\uff45vil-org/x/HEAD",
    "gh/evil\u2060-org/x/HEAD",  # word joiner
]


@pytest.mark.parametrize("spelling", SPELLINGS_OF_A_REPO)
def test_every_spelling_of_a_github_repository_has_its_gh_spec(spelling: str) -> None:
    forms = candidates([spelling], canonical)
    assert "gh/evil-org/x" in forms
    assert "git/https%3A%2F%2Fgithub.com%2Fevil-org%2Fx" in forms  # BinderHub's encoded form


def test_a_resolved_target_is_named_by_its_source_chain_and_pinned_path() -> None:
    sha = "a" * 40
    target = LaunchTarget(
        identifier="10.9999/some.doi", kind="git", provider="gh",
        source="https://github.com/evil-org/x", ref=sha,
        chain=(Hop("doi:10.9999/some.doi", "https://github.com/evil-org/x", "datacite"),
               Hop("https://github.com/evil-org/x", f"https://github.com/evil-org/x@{sha}", "ls-remote")),
        launch_path=f"v2/gh/evil-org/x/{sha}")
    forms = candidates(target_texts(target), canonical)
    assert {"doi/10.9999/some.doi", f"gh/evil-org/x/{sha}", "gh/evil-org/x",
            "https://github.com/evil-org/x"} <= forms


def test_plain_removes_encoding_and_invisible_characters_only() -> None:
    assert plain("a%2520b\u200bc") == "a bc"
    assert plain("  gh/o/r ") == "gh/o/r"


def test_spec_forms_of_pids_and_records() -> None:
    assert spec_forms("hdl:21.11152/abc") == ["hdl:21.11152/abc", "hdl/21.11152/abc"]
    swhid = "swh:1:dir:" + "b" * 40
    assert f"swhid/{swhid}" in spec_forms(swhid)
    assert "ckan/https%3A%2F%2Fdemo.ckan.org%2Fdataset%2Fx" in spec_forms("ckan:https://demo.ckan.org/dataset/x")
