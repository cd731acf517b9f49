"""``GET /ping`` (no auth): liveness."""

from __future__ import annotations

from outpost.handlers.base import BaseHandler


class PingHandler(BaseHandler):
    auth_required = False

    def get(self) -> None:
        self.write_json({"ping": "pong!"})
