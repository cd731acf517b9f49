"""What the journey tests do in the browser: badge links, an author's page, JupyterLab checks."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from tests.harness.stack import PUBLIC_GIT, RunningStack

REPO1 = PUBLIC_GIT + "rees-dockerfile"
REPO2 = PUBLIC_GIT + "journey-second"
#: a first build in a fresh stack, then a spawn; CI machines are slower than this one
LAUNCH_MS = 300_000
LAB_SELECTOR = ".jp-LabShell"
NOTEBOOK_HEADING = "rees-dockerfile v1.0"  # the markdown cell of REPO1's index.ipynb


def badge_url(stack: RunningStack, repo: str, ref: str = "HEAD", **query: str) -> str:
    """A Binder-style launch link, as an author puts it behind a badge."""
    url = f"{stack.launcher}v2/git/{quote(repo, safe='')}/{ref}"
    return url + ("?" + urlencode(query) if query else "")


@contextmanager
def author_page(root: Path, launch_url: str, badge_src: str) -> Iterator[str]:
    """A paper's web page on another origin with a launch badge; yields its URL."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "paper.html").write_text(
        "<!DOCTYPE html><html><head><title>A paper</title></head><body>"
        "<h1>Reproducible results</h1>"
        f'<p><a id="binder-badge" href="{launch_url}"><img alt="Launch" src="{badge_src}"></a></p>'
        "</body></html>", encoding="utf-8")
    handler = partial(_QuietHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True, name="author-page")
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/paper.html"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def record_navigations(page: Any) -> list[str]:
    """The URLs the page's main frame goes through, in order."""
    urls: list[str] = []
    page.on("framenavigated", lambda frame: urls.append(frame.url) if frame == page.main_frame
            else None)
    return urls


def wait_for_lab(page: Any, user: str, timeout_ms: int = LAUNCH_MS) -> str:
    """Wait until JupyterLab of one of *user*'s servers shows; return the server's URL."""
    page.wait_for_url(re.compile(rf".*/user/{re.escape(user)}/[^/]+/.*"), timeout=timeout_ms)
    page.wait_for_selector(LAB_SELECTOR, timeout=120_000)
    m = re.match(rf"(.*/user/{re.escape(user)}/[^/]+/)", page.url)
    assert m, page.url
    return m.group(1)


def wait_for_notebook(page: Any) -> None:
    """The rendered heading of REPO1's notebook: the labpath file is open."""
    page.get_by_role("heading", name=NOTEBOOK_HEADING).wait_for(timeout=120_000)


def launch_status(page: Any) -> str:
    node = page.query_selector("#launch-status")
    return node.text_content() if node else ""


_PUT_FILE = """async ([url, text]) => {
  const m = document.cookie.match(/(?:^|; )_xsrf=([^;]+)/);
  const r = await fetch(url, {method: 'PUT', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-XSRFToken': m ? decodeURIComponent(m[1]) : ''},
    body: JSON.stringify({type: 'file', format: 'text', content: text})});
  return r.status;
}"""


def save_file(page: Any, server: str, path: str, text: str) -> None:
    """Save a text file through the server's contents API, as JupyterLab's editor does."""
    status = page.evaluate(_PUT_FILE, [server + "api/contents/" + path, text])
    assert status in (200, 201), status
