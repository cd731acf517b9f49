"""Plain web pages found inside records: not launchable, say so clearly."""

from __future__ import annotations

from fdo.errors import UnsupportedIdentifier
from fdo.identifiers import Identifier
from fdo.resolvers.base import Outcome, ResolveContext, Resolver


class LandingPageResolver(Resolver):
    name = "landing-page"

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "url"

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        raise UnsupportedIdentifier(
            f"{ident.get('url')} is a landing page, not code or data; "
            "paste the repository URL, a DOI or a SWHID instead"
        )
