"""RegistryStore against a real docker-registry: Docker v2 and OCI manifests, auth, copies."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from builders.registry import RegistryError, RegistryStore, split_reference
from tests.harness.registry import Registry, push_tiny_image, put_oci_manifest

pytestmark = [pytest.mark.registry, pytest.mark.docker]


def test_split_reference() -> None:
    assert split_reference("127.0.0.1:5000/a/b:t") == ("127.0.0.1:5000", "a/b", "t")
    assert split_reference("a/b:t") == ("", "a/b", "t")
    assert split_reference("h.org/a@sha256:1") == ("h.org", "a", "sha256:1")


def test_lookup_docker_v2_image_returns_pushed_digest(registry: Registry) -> None:
    digest = push_tiny_image(registry, "nfdi-test-builders-reg/v2", "t1")
    store = RegistryStore(registry.url)
    assert store.lookup(f"{registry.host}/nfdi-test-builders-reg/v2:t1") == digest
    assert store.lookup(f"{registry.host}/nfdi-test-builders-reg/v2:missing") is None
    assert store.lookup(f"{registry.host}/nfdi-test-builders-reg/never:t1") is None


def test_lookup_oci_manifest(registry: Registry) -> None:
    digest = put_oci_manifest(registry, "nfdi-test-builders-reg/oci", "t1")
    store = RegistryStore(registry.url)
    assert store.lookup(f"{registry.host}/nfdi-test-builders-reg/oci:t1") == digest


def test_copy_mounts_blobs_into_another_repository(registry: Registry) -> None:
    digest = push_tiny_image(registry, "nfdi-test-builders-reg/src", "t1", content="copy me")
    store = RegistryStore(registry.url)
    dst = f"{registry.host}/nfdi-test-builders-reg/dst:alias"
    assert store.copy(f"{registry.host}/nfdi-test-builders-reg/src:t1", dst) == digest
    assert store.lookup(dst) == digest


def test_basic_auth_from_config_and_docker_config_file(auth_registry: Registry, tmp_path: Path) -> None:
    ref = f"{auth_registry.host}/nfdi-test-builders-reg/auth:t1"
    with pytest.raises(RegistryError, match="authentication failed"):
        RegistryStore(auth_registry.url).lookup(ref)
    store = RegistryStore(auth_registry.url, auth_registry.username, auth_registry.password)
    assert store.lookup(ref) is None
    digest = put_oci_manifest(auth_registry, "nfdi-test-builders-reg/auth", "t1")
    assert store.lookup(ref) == digest
    cfg = tmp_path / "config.json"
    token = base64.b64encode(f"{auth_registry.username}:{auth_registry.password}".encode()).decode()
    cfg.write_text(json.dumps({"auths": {auth_registry.host: {"auth": token}}}))
    assert RegistryStore(auth_registry.url, docker_config=cfg).lookup(ref) == digest
    with pytest.raises(RegistryError, match="authentication failed"):
        RegistryStore(auth_registry.url, auth_registry.username, "wrong").lookup(ref)


def test_unreachable_registry_is_a_readable_error() -> None:
    from tests.harness.hub import free_port

    store = RegistryStore(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(RegistryError, match="unreachable"):
        store.lookup(f"{store.host}/x/y:z")


def test_bearer_token_from_www_authenticate_challenge(token_registry: tuple[Registry, object]) -> None:
    reg, tokens = token_registry
    repo = "nfdi-test-builders-reg/token"
    push = tokens.token(f"repository:{repo}:pull,push")  # type: ignore[attr-defined]
    digest = put_oci_manifest(reg, repo, "t1", headers={"Authorization": f"Bearer {push}"})
    before = tokens.issued  # type: ignore[attr-defined]
    store = RegistryStore(reg.url, "builder", "t0ken-pw")
    assert store.lookup(f"{reg.host}/{repo}:t1") == digest
    assert store.lookup(f"{reg.host}/{repo}:t2") is None
    assert tokens.issued == before + 1  # type: ignore[attr-defined]  # token reused per scope
    dst = f"{reg.host}/nfdi-test-builders-reg/token-copy:alias"
    assert store.copy(f"{reg.host}/{repo}:t1", dst) == digest
    assert store.lookup(dst) == digest
    with pytest.raises(RegistryError):
        RegistryStore(reg.url, "builder", "wrong").lookup(f"{reg.host}/{repo}:t1")
