"""``GET /flavors/`` and ``POST /userflavors``: what the calling hub (and user) may use."""

from __future__ import annotations

from outpost.body import BodyError, parse_authentication
from outpost.handlers.base import BaseHandler


class FlavorsHandler(BaseHandler):
    def get(self) -> None:
        self.write_json(self.outpost.flavors(self.hub))


class UserFlavorsHandler(BaseHandler):
    def post(self) -> None:
        auth = parse_authentication(self.json_body())
        if auth is None:
            raise BodyError("body", "must be the user's authentication object")
        self.write_json(self.outpost.flavors(self.hub, auth))
