"""The resolver plug-in interface, like repo2docker's content providers.

A resolver takes one :class:`~fdo.identifiers.Identifier` and returns either the final
:class:`~fdo.target.LaunchTarget` or the next :class:`Identifier` to resolve (one hop of
the provenance chain). :func:`fdo.resolve.resolve` runs the chain with a depth limit
and cycle detection; resolvers never recurse themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from traitlets.config import LoggingConfigurable

from fdo.identifiers import Identifier
from fdo.target import Hop, LaunchTarget

if TYPE_CHECKING:
    from fdo.net import Git, HttpClient
    from fdo.providers import ProviderTable

Outcome = LaunchTarget | Identifier


@dataclass
class ResolveContext:
    """State of one resolution: outbound clients, the chain so far, warnings."""

    http: HttpClient
    git: Git
    #: the provider table (with the operator's extra hosts) that classifies URLs in records
    table: ProviderTable
    hops: list[Hop] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)
    #: set when a mutable name (branch, concept DOI, "latest") was pinned: short cache TTL
    mutable: bool = False

    def hop(self, from_: str, to: str, via: str) -> None:
        self.hops.append(Hop(from_=from_, to=to, via=via))

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def location(self, url: str) -> Identifier:
        """Classify a URL found inside a record (a landing page stays a ``url``)."""
        return self.table.parse(url, location=True)

    def parse(self, text: str) -> Identifier:
        """Classify an identifier found inside a record (a DOI, a SWHID, ...)."""
        return self.table.parse(text)


class Resolver(LoggingConfigurable):
    """One plug-in: ``accepts`` is pure and cheap; ``resolve`` may use ``ctx.http``/``ctx.git``."""

    #: short name recorded as ``via`` in the chain
    name: ClassVar[str] = ""

    def accepts(self, ident: Identifier) -> bool:
        raise NotImplementedError

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        raise NotImplementedError


def archive_target(
    ident: Identifier,
    *,
    provider: str,
    source: str,
    ref: str,
    launch_spec: str = "",
    files: tuple[Any, ...],
    title: str = "",
    ref_url: str = "",
    launch_path: str = "",
) -> LaunchTarget:
    """A record's files as the content (Zenodo, Figshare, Dataverse, ...).

    The launch path is ``v2/<provider>/<launch_spec>`` unless ``launch_path`` is given.
    """
    return LaunchTarget(
        identifier=ident.raw or ident.normalized,
        kind="archive",
        provider=provider,
        source=source,
        ref=ref,
        launch_path=launch_path or f"v2/{provider}/{launch_spec}",
        files=files,
        title=title,
        ref_url=ref_url,
    )


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
