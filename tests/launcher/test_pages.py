"""The launcher's pages and badges over real HTTP: rendering, escaping, CSP, SVG badges."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from tornado.testing import AsyncHTTPTestCase

from launcher import buildtoken, snippets
from launcher.app import make_app
from launcher.config import LauncherConfig

SYSTEMS = [
    {"name": "JSC-Cloud", "display_name": "JSC Cloud", "flavors": [{"name": "m1"}, {"name": "gpu"}]},
    {"name": "deNBI-Cloud", "flavors": [{"name": "small"}]},
]
XSS = '"><img src=x onerror=alert(1)><script>alert(2)</script>'


class _Page(HTMLParser):
    """Collects tags and attributes of one page."""

    def __init__(self, body: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.inline_scripts = 0
        self._in_script = False
        self.feed(body)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def find(self, tag: str, **attrs: str) -> dict[str, str]:
        for name, a in self.tags:
            if name == tag and all(a.get(k) == v for k, v in attrs.items()):
                return a
        raise AssertionError(f"no <{tag} {attrs}> in page")

    def config(self) -> dict:
        return json.loads(self.find("main", id="app")["data-config"])


class PagesTest(AsyncHTTPTestCase):
    base_url = "/"

    def get_app(self):  # type: ignore[no-untyped-def]
        self.config = LauncherConfig(
            base_url=self.base_url, systems=SYSTEMS, build_token_secret="ab" * 16
        )
        return make_app(self.config)

    def get(self, path: str, **kw):  # type: ignore[no-untyped-def]
        return self.fetch(self.base_url.rstrip("/") + path, **kw)

    def page(self, path: str, status: int = 200) -> tuple[_Page, object]:
        response = self.get(path)
        assert response.code == status, (response.code, response.body[:300])
        assert response.headers["Content-Type"].startswith("text/html")
        return _Page(response.body.decode()), response

    # -- security headers and markup hygiene ----------------------------------------------
    def test_csp_and_no_inline_script_on_every_page(self) -> None:
        for path in ["/", "/about", "/v2/gh/o/r/HEAD", "/r2d/gh/o/r/HEAD"]:
            page, response = self.page(path)
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self';" in csp
            assert "unsafe-inline" not in csp
            assert "default-src 'none'" in csp
            assert "frame-ancestors 'none'" in csp
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert page.inline_scripts == 0
            srcs = [a["src"] for t, a in page.tags if t == "script"]
            assert srcs
            assert all(s.startswith(self.base_url + "static/") for s in srcs)
            for src in srcs + [a["href"] for t, a in page.tags if t == "link" and a.get("rel") == "stylesheet"]:
                static = self.fetch(src)
                assert static.code == 200, src

    # -- home -------------------------------------------------------------------------------
    def test_home_renders_form_and_allowed_systems(self) -> None:
        page, _ = self.page("/")
        page.find("input", id="identifier")
        page.find("button", id="resolve-btn")
        page.find("button", id="launch-btn")
        for key in ("share-url", "snippet-markdown", "snippet-rst", "snippet-html"):
            page.find("button", **{"data-copy": key})
        config = page.config()
        assert config["base_url"] == self.base_url
        assert [s["name"] for s in config["systems"]] == ["JSC-Cloud", "deNBI-Cloud"]
        assert (config["default_system"], config["default_flavor"]) == ("JSC-Cloud", "m1")

    def test_home_prefill_is_escaped(self) -> None:
        response = self.get("/?id=" + _q(XSS))
        body = response.body.decode()
        assert "<script>alert(2)" not in body
        assert "<img src=x" not in body
        assert _Page(body).find("input", id="identifier")["value"] == XSS

    # -- /v2 loading page ---------------------------------------------------------------------
    def test_v2_page_builds_stream_url_with_token_and_params(self) -> None:
        page, _ = self.page("/v2/gh/o/r/HEAD?urlpath=/lab/tree/a.ipynb&system=JSC-Cloud&flavor=gpu&dataDir=/data&name=x")
        config = page.config()
        assert (config["provider"], config["spec"]) == ("gh", "o/r/HEAD")
        assert config["urlpath"] == "lab/tree/a.ipynb"
        url = urlsplit(config["build_url"])
        assert url.path == self.base_url + "build/gh/o/r/HEAD"
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        assert query.pop("build_token")
        assert query == {"system": "JSC-Cloud", "flavor": "gpu", "name": "x", "localstoragepath": "/data"}
        token = parse_qs(url.query)["build_token"][0]
        claims = buildtoken.decode(token, self.config.build_token_secret, "gh/o/r/HEAD")
        assert claims["origin"] == f"127.0.0.1:{self.get_http_port()}"

    def test_v2_labpath_and_filepath_precedence(self) -> None:
        cfg = self.page("/v2/gh/o/r/HEAD?labpath=nb/a%20b.ipynb&urlpath=/tree")[0].config()
        assert cfg["urlpath"] == "doc/tree/nb/a%20b.ipynb"
        cfg = self.page("/v2/gh/o/r/HEAD?filepath=x.ipynb&urlpath=/tree")[0].config()
        assert cfg["urlpath"] == "tree/x.ipynb"

    def test_v2_git_spec_stays_raw_and_trailing_slash_is_dropped(self) -> None:
        cfg = self.page("/v2/git/https%3A%2F%2Fgit.example.org%2Fa.git/abc123/")[0].config()
        assert cfg["spec"] == "https%3A%2F%2Fgit.example.org%2Fa.git/abc123"
        assert urlsplit(cfg["build_url"]).path.endswith("/build/git/https%3A%2F%2Fgit.example.org%2Fa.git/abc123")

    def test_v2_hostile_urlpath_is_a_400_without_stream(self) -> None:
        for bad in ["javascript:alert(1)", "//evil.example/", "https://evil.example/", "/..%2f..%2fhub"]:
            page, _ = self.page("/v2/gh/o/r/HEAD?urlpath=" + _q(bad), status=400)
            config = page.config()
            assert "build_url" not in config
            assert config["error"].startswith("400: Bad Request")

    def test_v2_spec_with_markup_is_text(self) -> None:
        response = self.get("/v2/gh/" + _q(XSS) + "/r/HEAD")
        body = response.body.decode()
        assert response.code == 200
        assert "<script>alert(2)" not in body
        assert "<img src=x" not in body
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in body

    # -- badges and snippets --------------------------------------------------------------------
    def test_badges_are_svg_images(self) -> None:
        for path in ["/badge_logo.svg", "/badge.svg", "/assets/images/badge.svg"]:
            response = self.get(path)
            assert response.code == 200
            assert response.headers["Content-Type"] == "image/svg+xml"
            assert "script-src" not in response.headers["Content-Security-Policy"]
            root = ET.fromstring(response.body)
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert int(root.get("height", "0")) == 20
            assert int(root.get("width", "0")) > 60
            texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
            assert texts == ["launch", "binder"]
            assert not list(root.iter("{http://www.w3.org/2000/svg}script"))
        head = self.get("/badge_logo.svg", method="HEAD")
        assert head.code == 200
        assert int(head.headers["Content-Length"]) > 200

    def test_snippets_api_is_launcher_snippets(self) -> None:
        path = "v2/gh/o/r/0123456789abcdef0123456789abcdef01234567"
        response = self.get(f"/api/v1/snippets?path={_q(path)}&labpath=a.ipynb&system=JSC-Cloud&flavor=gpu")
        assert response.code == 200
        base = f"http://127.0.0.1:{self.get_http_port()}{self.base_url}"
        expected = snippets.snippets(
            base, path, snippets.LaunchOptions(labpath="a.ipynb", system="JSC-Cloud", flavor="gpu")
        )
        assert json.loads(response.body) == expected.to_json()

    def test_snippets_api_refuses_bad_paths(self) -> None:
        for path in ["", "gh/o/r/1", "javascript:alert(1)"]:
            response = self.get("/api/v1/snippets?path=" + _q(path))
            assert response.code == 400
            assert "launch path" in json.loads(response.body)["message"]


class PrefixedPagesTest(PagesTest):
    """The same pages as a JupyterHub service under /services/launcher/."""

    base_url = "/services/launcher/"

    def test_root_is_not_served_outside_the_prefix(self) -> None:
        assert self.fetch("/badge_logo.svg").code == 404
        assert self.fetch("/v2/gh/o/r/HEAD").code == 404


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


class PublicHostTest(AsyncHTTPTestCase):
    """``badge_base_url`` (BinderHub's knob): snippets and the CSP use the public host."""

    def get_app(self):  # type: ignore[no-untyped-def]
        config = LauncherConfig(base_url="/", badge_base_url="https://launch.example.org/x")
        return make_app(config)

    def test_snippets_and_csp_use_badge_base_url(self) -> None:
        path = "v2/gh/o/r/0123456789abcdef0123456789abcdef01234567"
        body = json.loads(self.fetch(f"/api/v1/snippets?path={_q(path)}").body)
        assert body["url"] == "https://launch.example.org/x/" + path
        assert body["badge_url"] == "https://launch.example.org/x/badge_logo.svg"
        csp = self.fetch("/").headers["Content-Security-Policy"]
        assert "img-src 'self' data: https://launch.example.org;" in csp
