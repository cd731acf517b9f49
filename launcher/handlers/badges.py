"""Launch badges and the snippets that embed them.

- ``/badge_logo.svg``, ``/badge.svg``, ``/assets/images/badge.svg``: the badge images at
  BinderHub's paths (our own drawings), so existing READMEs pointed at this host work.
- ``/api/v1/snippets?path=v2/...&urlpath=&labpath=&filepath=&system=&flavor=``: the launch
  link and the Markdown / reStructuredText / HTML snippets from :mod:`launcher.snippets`,
  for the home page's share panel (one implementation, server side).
"""

from __future__ import annotations

import os
import re

from launcher import snippets
from launcher.handlers.base import BaseHandler, UserError
from launcher.handlers.pages import STATIC_DIR

BADGES = {"badge_logo.svg": "badge_logo.svg", "badge.svg": "badge.svg", "assets/images/badge.svg": "badge.svg"}


class BadgeHandler(BaseHandler):
    """One badge SVG, cacheable, served as an image that cannot run script."""

    _cache: dict[str, bytes] = {}

    def initialize(self, filename: str) -> None:
        self.filename = filename

    def _body(self) -> bytes:
        if self.filename not in self._cache:
            with open(os.path.join(STATIC_DIR, self.filename), "rb") as f:
                self._cache[self.filename] = f.read()
        return self._cache[self.filename]

    def _badge_headers(self) -> None:
        self.set_header("Content-Type", "image/svg+xml")
        self.set_header("Cache-Control", "public, max-age=86400")
        # opened directly, an SVG is a document: no script, no external loads
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.set_header("Access-Control-Allow-Origin", "*")

    def get(self) -> None:
        self._badge_headers()
        self.finish(self._body())

    def head(self) -> None:
        self._badge_headers()
        self.set_header("Content-Length", str(len(self._body())))
        self.finish()


class SnippetsHandler(BaseHandler):
    """JSON with the launch link and badge snippets for one ``launch_path``."""

    def get(self) -> None:
        path = self.get_argument("path", "")
        options = snippets.LaunchOptions(
            **{k: self.get_argument(k, "")[:1024] for k in snippets.LAUNCH_PARAMS}
        )
        try:
            result = snippets.snippets(self.public_base_url(), path, options)
        except snippets.SnippetError as err:
            raise UserError(400, str(err)) from err
        self.write_json(result.to_json())


default_handlers = [
    *[(re.escape(path), BadgeHandler, {"filename": name}) for path, name in BADGES.items()],
    (r"api/v1/snippets", SnippetsHandler),
]
