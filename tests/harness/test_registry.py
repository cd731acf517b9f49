"""Self-test of the registry harness: a real docker push, then the manifest API."""

from __future__ import annotations

import pytest

from tests.harness.registry import Registry, push_tiny_image, put_oci_manifest

pytestmark = [pytest.mark.registry, pytest.mark.docker]

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI = "application/vnd.oci.image.manifest.v1+json"


def test_docker_push_then_head_with_accept_returns_pushed_digest(registry: Registry) -> None:
    digest = push_tiny_image(registry, "nfdi-test-builders-harness/tiny", "v1")
    r = registry.session().head(
        f"{registry.url}/v2/nfdi-test-builders-harness/tiny/manifests/v1",
        headers={"Accept": f"{OCI}, {DOCKER_V2}"}, timeout=10,
    )
    assert r.status_code == 200
    assert r.headers["Docker-Content-Digest"] == digest


def test_oci_manifest_needs_oci_accept(registry: Registry) -> None:
    digest = put_oci_manifest(registry, "nfdi-test-builders-harness/oci", "v1")
    url = f"{registry.url}/v2/nfdi-test-builders-harness/oci/manifests/v1"
    s = registry.session()
    assert s.head(url, headers={"Accept": DOCKER_V2}, timeout=10).status_code == 404
    r = s.head(url, headers={"Accept": OCI}, timeout=10)
    assert r.status_code == 200
    assert r.headers["Docker-Content-Digest"] == digest


def test_stop_start_keeps_port_and_content(registry: Registry) -> None:
    put_oci_manifest(registry, "nfdi-test-builders-harness/keep", "v1")
    registry.stop()
    try:
        import requests

        with pytest.raises(requests.ConnectionError):
            requests.get(f"{registry.url}/v2/", timeout=2)
    finally:
        registry.start()
    r = registry.session().head(
        f"{registry.url}/v2/nfdi-test-builders-harness/keep/manifests/v1",
        headers={"Accept": OCI}, timeout=10,
    )
    assert r.status_code == 200


def test_auth_registry_requires_basic_auth(auth_registry: Registry) -> None:
    import requests

    anon = requests.get(f"{auth_registry.url}/v2/", timeout=5)
    assert anon.status_code == 401
    assert "basic" in anon.headers["WWW-Authenticate"].lower()
    assert auth_registry.session().get(f"{auth_registry.url}/v2/", timeout=5).status_code == 200


def test_token_registry_accepts_issued_bearer_token(token_registry: tuple[Registry, object]) -> None:
    import requests

    from tests.harness.registry import TokenServer

    reg, tokens = token_registry
    assert isinstance(tokens, TokenServer)
    anon = requests.get(f"{reg.url}/v2/", timeout=5)
    assert anon.status_code == 401
    assert anon.headers["WWW-Authenticate"].startswith("Bearer realm=")
    token = tokens.token("")
    ok = requests.get(f"{reg.url}/v2/", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert ok.status_code == 200, ok.text


def test_tls_endpoint_serves_the_same_content_over_https(registry: Registry,
                                                         tls_registry: Registry) -> None:
    import requests

    digest = put_oci_manifest(registry, "nfdi-test-builders-harness/tls", "v1")
    r = tls_registry.session().head(
        f"{tls_registry.url}/v2/nfdi-test-builders-harness/tls/manifests/v1",
        headers={"Accept": OCI}, timeout=10)
    assert tls_registry.url.startswith("https://")
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest
    with pytest.raises(requests.exceptions.SSLError):  # not a public CA
        requests.get(f"{tls_registry.url}/v2/", timeout=5)
    plain = requests.get(f"http://{tls_registry.host}/v2/", timeout=5)  # https only
    assert plain.status_code == 400 and "HTTPS" in plain.text
