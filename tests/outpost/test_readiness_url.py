"""Where and how the Outpost checks that a server is ready (pure parts)."""

from __future__ import annotations

import pytest

from outpost.readiness import health_url, is_jupyter_api, service_prefix


@pytest.mark.parametrize("service, prefix, url", [
    ("127.0.0.1:8888", "/user/alice/srv/", "http://127.0.0.1:8888/user/alice/srv/api"),
    ("127.0.0.1:8888", "user/alice/srv", "http://127.0.0.1:8888/user/alice/srv/api"),
    ("127.0.0.1:8888", "/", "http://127.0.0.1:8888/api"),
    # a URL answer (upstream allows it): its origin, the hub's base URL
    ("https://node7:9000/ignored/", "/user/a/s/", "https://node7:9000/user/a/s/api"),
    # escaped names stay as the hub sent them; nothing can leave the path
    ("127.0.0.1:1", "/user/alice%40x/s/", "http://127.0.0.1:1/user/alice%40x/s/api"),
    ("127.0.0.1:1", "@evil.example/", "http://127.0.0.1:1/@evil.example/api"),
    ("127.0.0.1:1", "/u/a b\r\nX: y/", "http://127.0.0.1:1/u/a%20b%0D%0AX:%20y/api"),
])
def test_health_url_is_the_hubs_check_url(service: str, prefix: str, url: str) -> None:
    assert health_url(service, prefix) == url


def test_service_prefix_from_the_hubs_environment() -> None:
    assert service_prefix({"JUPYTERHUB_SERVICE_PREFIX": "/user/a/s/"}) == "/user/a/s/"
    assert service_prefix({"JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:1/user/b/"}) == "/user/b/"
    assert service_prefix({}) == "/"


@pytest.mark.parametrize("code, body, ok", [
    (200, b'{"version": "2.17.0"}', True),
    (404, b'{"version": "2.17.0"}', False),  # wrong base URL: the hub would take it, we do not
    (302, b"", False),
    (200, b"<html>not a jupyter server</html>", False),
    (200, b'["version"]', False),
    (200, b"\xff\xfe", False),
])
def test_only_a_jupyter_api_answer_is_ready(code: int, body: bytes, ok: bool) -> None:
    assert is_jupyter_api(code, body) is ok
