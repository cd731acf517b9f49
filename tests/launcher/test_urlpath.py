"""urlpath/labpath/filepath: precedence, encoding, and open-redirect safety."""

import pytest

from launcher.urlpath import UnsafePath, check_relative, final_url, resolve_urlpath


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ""),
        ({"urlpath": "lab/tree/index.ipynb"}, "lab/tree/index.ipynb"),
        ({"urlpath": "/lab"}, "lab"),
        ({"labpath": "notebooks/a b.ipynb"}, "doc/tree/notebooks/a%20b.ipynb"),
        ({"filepath": "index.ipynb"}, "tree/index.ipynb"),
        ({"labpath": "x.ipynb", "filepath": "y.ipynb", "urlpath": "z"}, "doc/tree/x.ipynb"),
        ({"filepath": "y.ipynb", "urlpath": "z"}, "tree/y.ipynb"),
        ({"labpath": "dir/"}, "doc/tree/dir"),
        ({"urlpath": "git-pull?repo=https%3A%2F%2Fgithub.com%2Fa%2Fb"}, "git-pull?repo=https%3A%2F%2Fgithub.com%2Fa%2Fb"),
    ],
)
def test_precedence_and_mapping(query: dict[str, str], expected: str) -> None:
    assert resolve_urlpath(query) == expected


@pytest.mark.parametrize(
    "hostile",
    [
        "//evil.example/x",
        "https://evil.example/",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "/\\evil.example",
        "\\\\evil.example",
        "lab\r\nSet-Cookie: x=1",
        "lab\x00",
        "../../hub/admin",
        "lab/../../../hub/token",
        "%2F%2Fevil.example",
        "%2e%2e/%2e%2e/hub",
        "data:text/html,<script>alert(1)</script>",
        "a" * 5000,
    ],
)
def test_hostile_paths_are_refused(hostile: str) -> None:
    with pytest.raises(UnsafePath):
        resolve_urlpath({"urlpath": hostile})


def test_hostile_labpath_is_refused() -> None:
    with pytest.raises(UnsafePath):
        resolve_urlpath({"labpath": "../../hub/admin"})


def test_final_url_stays_on_server_and_appends_token() -> None:
    server = "http://127.0.0.1:8000/user/u/s/"
    assert final_url(server, "lab/tree/a.ipynb", "T") == server + "lab/tree/a.ipynb?token=T"
    assert final_url(server, "git-pull?repo=x", "T") == server + "git-pull?repo=x&token=T"
    assert final_url(server, "", "") == server
    for url in (final_url(server, check_relative(p), "T") for p in ("lab", "/tree/x")):
        assert url.startswith(server)
