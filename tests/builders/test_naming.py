"""Image names and content identity (pure functions)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from builders import naming
from builders.manager import BuildManager
from fdo.target import LaunchTarget


def test_safe_build_slug_matches_binderhub_scheme() -> None:
    # BinderHub: escapism with [A-Za-z0-9] safe and "-" as escape char, + "-" + sha256[:6]
    slug = naming.safe_build_slug("binder-examples-octave")
    assert slug == "binder-2dexamples-2doctave-" + __import__("hashlib").sha256(
        b"binder-examples-octave").hexdigest()[:6]
    assert slug == slug.lower()


def test_repository_name_is_length_limited_and_lowercase() -> None:
    repo = naming.repository_name("Pre_fix/", "gh-" + "A" * 400, limit=128)
    assert len(repo) <= 128
    assert repo == repo.lower()
    assert "_" not in repo
    assert repo.startswith("pre-fix/")


def test_source_slug_strips_scheme_and_dot_git() -> None:
    assert naming.source_slug("git", "https://example.org/a/b.git") == "git-example.org/a/b"


def test_tag_depends_only_on_content_and_salt() -> None:
    t1 = naming.image_tag("sha256:aa", "salt1")
    assert t1 == naming.image_tag("sha256:aa", "salt1")
    assert t1 != naming.image_tag("sha256:ab", "salt1")
    assert t1 != naming.image_tag("sha256:aa", "salt2")
    assert len(t1) == 40


def _tree(root: Path) -> Path:
    (root / "binder").mkdir(parents=True)
    (root / "binder" / "Dockerfile").write_text("FROM local/jupyter-base:6.1.1\n")
    (root / "index.ipynb").write_text("{}")
    return root


def test_same_tree_same_digest_and_git_metadata_ignored(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a")
    b = _tree(tmp_path / "b")
    assert naming.content_digest(a) == naming.content_digest(b)
    subprocess.run(["git", "init", "-q", str(b)], check=True)
    (b / "empty-dir").mkdir()
    assert naming.content_digest(a) == naming.content_digest(b)


def test_content_or_mode_or_path_change_changes_digest(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a")
    base = naming.content_digest(a)
    (a / "index.ipynb").write_text("{ }")
    changed = naming.content_digest(a)
    assert changed != base
    os.chmod(a / "index.ipynb", 0o755)
    assert naming.content_digest(a) != changed
    os.chmod(a / "index.ipynb", 0o644)
    assert naming.content_digest(a) == changed
    (a / "index.ipynb").rename(a / "other.ipynb")
    assert naming.content_digest(a) != changed


def test_two_identifiers_with_same_tree_share_the_tag() -> None:
    m = BuildManager(registry_url="http://127.0.0.1:1")
    git = LaunchTarget(identifier="gh/o/r/v1.0", kind="git", provider="gh",
                       source="https://github.com/o/r", ref="a" * 40, launch_path="v2/gh/o/r/" + "a" * 40)
    doi = LaunchTarget(identifier="10.5281/zenodo.1", kind="archive", provider="zenodo",
                       source="https://zenodo.org/records/1", ref="1@v1", launch_path="v2/zenodo/10.5281/zenodo.1")
    img_git, img_doi = m.image_name(git, "sha256:x"), m.image_name(doi, "sha256:x")
    assert img_git.startswith("127.0.0.1:1/nfdi-launcher/gh-2dgithub-2ecom-2fo-2fr-")
    assert img_git.rpartition(":")[2] == img_doi.rpartition(":")[2]
    assert m.alias_name(img_git) == m.alias_name(img_doi)
