"""launcher.snippets: BinderHub's badge/link shapes, and nothing in a URL can break the markup."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from launcher import snippets
from launcher.snippets import LaunchOptions, SnippetError

BASE = "https://launch.example.org/"
PIN = "v2/gh/binder-examples/requirements/4f6b7c9d1e2a3b4c5d6e7f8091a2b3c4d5e6f708"


def test_shapes_are_binderhubs() -> None:
    s = snippets.snippets(BASE, PIN)
    url = BASE + PIN
    assert s.url == url
    assert s.badge_url == "https://launch.example.org/badge_logo.svg"
    assert s.markdown == f"[![Binder](https://launch.example.org/badge_logo.svg)]({url})"
    assert s.rst == f".. image:: https://launch.example.org/badge_logo.svg\n :target: {url}"
    assert s.html == f'<a href="{url}"><img src="https://launch.example.org/badge_logo.svg" alt="Binder"></a>'


def test_base_url_gets_slash_and_prefix_is_kept() -> None:
    s = snippets.snippets("http://127.0.0.1:8000/services/launcher", "/" + PIN)
    assert s.url == "http://127.0.0.1:8000/services/launcher/" + PIN
    assert s.badge_url == "http://127.0.0.1:8000/services/launcher/badge_logo.svg"


def test_badge_base_url_is_used_for_the_image_only() -> None:
    s = snippets.snippets(BASE, PIN, badge_base_url="https://static.example.org/b")
    assert s.badge_url == "https://static.example.org/b/badge_logo.svg"
    assert s.url.startswith(BASE)


def test_query_order_and_encoding_match_encodeuricomponent() -> None:
    opts = LaunchOptions(urlpath="/lab/tree/a b (1).ipynb", system="JSC-Cloud", flavor="m 1")
    url = snippets.launch_url(BASE, PIN, opts)
    assert url == (
        BASE + PIN + "?urlpath=%2Flab%2Ftree%2Fa%20b%20%281%29.ipynb&system=JSC-Cloud&flavor=m%201"
    )
    url = snippets.launch_url(BASE, PIN, LaunchOptions(labpath="nb/x.ipynb", filepath="y"))
    assert url.endswith("?labpath=nb%2Fx.ipynb&filepath=y")


def test_git_spec_keeps_its_percent_escapes() -> None:
    path = "v2/git/https%3A%2F%2Fgit.example.org%2Fa%2Fb.git/0123abcd"
    assert snippets.launch_url(BASE, path) == BASE + path


@pytest.mark.parametrize(
    "hostile",
    [
        'v2/gh/o/r"><script>alert(1)</script>/HEAD',
        "v2/gh/o/r)](javascript:alert(1)/HEAD",
        "v2/gh/o/r` onmouseover=x/1",
        "v2/gh/o/r'\n:target: javascript:x/1",
        "v2/gh/o/r%zz/1",
    ],
)
def test_hostile_spec_cannot_leave_the_url(hostile: str) -> None:
    s = snippets.snippets(BASE, hostile, LaunchOptions(urlpath='")<img onerror=alert(1)>'))
    for ch in " \"'<>()`\n":
        assert ch not in s.url, ch
    assert s.markdown.count("](") == 2
    assert s.markdown.endswith(s.url + ")")
    assert s.rst.count("\n") == 1
    parser = _Tags()
    parser.feed(s.html)
    assert parser.tags == [("a", {"href": s.url}), ("img", {"src": s.badge_url, "alt": "Binder"})]


def test_html_escapes_ampersands() -> None:
    s = snippets.snippets(BASE, PIN, LaunchOptions(system="a", flavor="b"))
    assert "&amp;flavor=b" in s.html
    assert "&flavor=b" in s.url


@pytest.mark.parametrize(
    ("base", "path"),
    [
        ("javascript:alert(1)//", PIN),
        ("//evil.example/", PIN),
        ("https://user@evil.example/", PIN),
        ("https://a.example/?q=1", PIN),
        (BASE, "gh/o/r/HEAD"),
        (BASE, "v2/gh"),
        (BASE, "v2/gh/"),
        (BASE, "v2/gh/o/r/HEAD?urlpath=x"),
        (BASE, "v2/gh/" + "x" * 3000),
    ],
)
def test_refuses_what_is_not_a_launch_link(base: str, path: str) -> None:
    with pytest.raises(SnippetError):
        snippets.snippets(base, path)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
