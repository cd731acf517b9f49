"""Launch links and badge snippets, in the exact shapes BinderHub's form produces.

Pure functions: a base URL, a ``launch_path`` (``v2/<provider>/<spec>``, as the resolver
returns it) and the launch options in, strings out. The home page shows them and its copy
buttons copy them verbatim, so authors paste the same text the tests check.

Shapes (BinderHub ``LinkGenerator.jsx``; HTML is the common hand-written form):

- Markdown: ``[![Binder](<base>badge_logo.svg)](<launch_url>)``
- reStructuredText: ``.. image:: <base>badge_logo.svg`` newline `` :target: <launch_url>``
- HTML: ``<a href="<launch_url>"><img src="<base>badge_logo.svg" alt="Binder"></a>``

Every URL is percent-encoded so that no character can end the surrounding markup early
(no space, quote, angle bracket, parenthesis or backtick survives), and the HTML form is
additionally HTML-escaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import quote

#: query parameters a launch link may carry, in the order they are written
LAUNCH_PARAMS = ("urlpath", "labpath", "filepath", "system", "flavor")

#: characters kept as they are in a URL path (RFC 3986 pchar minus the ones that end markup:
#: ``'`` ``(`` ``)`` would close Markdown/HTML constructs)
_PATH_SAFE = "/-._~!$&*+,;=:@"
#: a percent sign is kept only when it already starts an escape (``git/https%3A%2F%2F...``)
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME_HOST = re.compile(
    r"^(https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?)(/.*)?$", re.IGNORECASE
)

MAX_PATH_LENGTH = 2048


class SnippetError(ValueError):
    """The launch path or base URL cannot be turned into a link."""


@dataclass(frozen=True)
class LaunchOptions:
    """Where to land and what to run on; every field optional ("" = not given)."""

    urlpath: str = ""
    labpath: str = ""
    filepath: str = ""
    system: str = ""
    flavor: str = ""

    def query(self) -> str:
        """The query string (without ``?``); values encoded like JS ``encodeURIComponent``."""
        parts = []
        for name in LAUNCH_PARAMS:
            value = getattr(self, name)
            if value:
                parts.append(f"{name}={quote(value, safe='')}")
        return "&".join(parts)


@dataclass(frozen=True)
class Snippets:
    """Everything the "share" panel shows."""

    url: str
    badge_url: str
    markdown: str
    rst: str
    html: str

    def to_json(self) -> dict[str, str]:
        return {
            "url": self.url,
            "badge_url": self.badge_url,
            "markdown": self.markdown,
            "rst": self.rst,
            "html": self.html,
        }


def _encode_path(path: str) -> str:
    return quote(_LONE_PERCENT.sub("%25", path), safe=_PATH_SAFE + "%")


def normalize_base(base_url: str) -> str:
    """``https://host/prefix`` -> ``https://host/prefix/``; only http(s) URLs are accepted."""
    match = _SCHEME_HOST.match(base_url.strip())
    if not match:
        raise SnippetError(f"base URL must be an absolute http(s) URL, got {base_url!r}")
    host, path = match.group(1), match.group(2) or "/"
    if "?" in path or "#" in path:
        raise SnippetError("base URL must not contain a query or fragment")
    if not path.endswith("/"):
        path += "/"
    return host + _encode_path(path)


def launch_url(base_url: str, launch_path: str, options: LaunchOptions | None = None) -> str:
    """``<base>v2/<provider>/<spec>[?urlpath=...&system=...]``."""
    path = launch_path.lstrip("/")
    if not path.startswith("v2/") or len(path.split("/", 2)) < 3 or not path.split("/", 2)[2]:
        raise SnippetError(f"launch path must look like v2/<provider>/<spec>, got {launch_path!r}")
    if len(path) > MAX_PATH_LENGTH:
        raise SnippetError("launch path is too long")
    if "?" in path or "#" in path:
        raise SnippetError("launch path must not contain a query or fragment")
    url = normalize_base(base_url) + _encode_path(path)
    query = (options or LaunchOptions()).query()
    return f"{url}?{query}" if query else url


def badge_url(badge_base_url: str) -> str:
    return normalize_base(badge_base_url) + "badge_logo.svg"


def markdown(badge: str, url: str) -> str:
    return f"[![Binder]({badge})]({url})"


def rst(badge: str, url: str) -> str:
    return f".. image:: {badge}\n :target: {url}"


def html_snippet(badge: str, url: str) -> str:
    return (
        f'<a href="{html.escape(url, quote=True)}">'
        f'<img src="{html.escape(badge, quote=True)}" alt="Binder"></a>'
    )


def snippets(
    base_url: str,
    launch_path: str,
    options: LaunchOptions | None = None,
    badge_base_url: str = "",
) -> Snippets:
    """All share strings for one target; badges come from ``badge_base_url`` or ``base_url``."""
    url = launch_url(base_url, launch_path, options)
    badge = badge_url(badge_base_url or base_url)
    return Snippets(
        url=url,
        badge_url=badge,
        markdown=markdown(badge, url),
        rst=rst(badge, url),
        html=html_snippet(badge, url),
    )
