"""Banned specs stay banned whatever the spelling: Unicode tricks and double encoding, on
every entry, refused before any lookup (the canary sees nothing)."""

from __future__ import annotations

import pytest
import requests

from tests.harness.canary import Canary
from tests.security.conftest import LauncherProc

DOI_SPELLINGS = [
    "doi/10.5281%252Fzenodo.666",  # double encoding
    "doi/10.5281%25252Fzenodo.666",  # triple
    "doi/10.5281%EF%BC%8Fzenodo.666",  # U+FF0F full-width solidus
    "doi/10.5281/zen%E2%80%8Bodo.666",  # U+200B zero-width space
    "doi/10.5281/%EF%BD%9A%EF%BD%85%EF%BD%8E%EF%BD%8F%EF%BD%84%EF%BD%8F.666",  # full-width letters
    "doi/10.5281/ZENODO.666",  # case
    "zenodo/10.5281%2Fzenodo.666",  # another provider prefix, same DOI
]
REPO_SPELLINGS = [
    "git/https%253A%252F%252Fgithub.com%252Fevil-org%252Fx/HEAD",
    "git/https%3A%2F%2Fwww.github.com%2Fevil-org%2Fx.git/HEAD",
    "gh/%EF%BD%85vil-org/x/HEAD",  # full-width e
    "gh/evil%E2%81%A0-org/x/HEAD",  # U+2060 word joiner
    "gh/EVIL-ORG/x/HEAD",
]


@pytest.mark.parametrize("spec", DOI_SPELLINGS + REPO_SPELLINGS)
def test_a_banned_target_in_any_spelling_is_refused_on_build(guarded: LauncherProc, module_canary: Canary,
                                                             spec: str) -> None:
    before = len(module_canary.requests)
    events = guarded.stream("build/" + spec)
    assert events[-1]["phase"] == "failed"
    assert events[-1]["status_code"] == 403, events[-1]
    assert module_canary.requests[before:] == []


@pytest.mark.parametrize("identifier", [
    "https://doi.org/10.5281/zenodo.666",
    "doi:10.5281%2Fzenodo.666",
    "10.5281\uff0fzenodo.666",
    "https://github.com/evil-org/x/tree/main",
    "git@github.com:evil-org/x.git",
    "https://github.com/evil\u200b-org/x",
])
def test_a_banned_target_in_any_spelling_is_refused_by_the_api_and_launch(
        guarded: LauncherProc, module_canary: Canary, identifier: str) -> None:
    before = len(module_canary.requests)
    r = requests.post(guarded.url + "api/v1/launches", json={"id": identifier}, timeout=30)
    assert r.status_code == 403, r.text
    r = guarded.get("launch", params={"id": identifier})
    assert r.status_code == 403, r.text
    assert module_canary.requests[before:] == []
