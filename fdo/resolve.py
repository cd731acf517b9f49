"""``resolve(identifier) -> LaunchTarget``: parse, then run the resolver chain, then cache.

Pipeline: ``parse`` (pure) -> hops through the configured resolvers (bounded depth,
cycle detection, every hop recorded in ``chain``) -> the pinned
:class:`~fdo.target.LaunchTarget` -> :func:`check_carried_urls` (no target leaves with a
URL the download step would refuse). Results are cached in memory: immutable ones for
``cache_ttl``, ones that pinned a mutable name (branch, concept DOI, "latest") for
``mutable_cache_ttl``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from traitlets import Float, Int, List, TraitError, Unicode, validate
from traitlets.config import Config, Configurable
from traitlets.utils.importstring import import_item

from fdo.config import NetConfig
from fdo.errors import NotFound, RefusedTarget, UnsupportedIdentifier, UpstreamError
from fdo.identifiers import Identifier
from fdo.net import Git, HttpClient, HttpNotFound
from fdo.net.policy import carried_problem, redact_url
from fdo.providers import ProviderTable, hosted_ids
from fdo.resolvers import DEFAULT_RESOLVERS, ResolveContext, Resolver
from fdo.target import LaunchTarget


class ResolverConfig(Configurable):
    """Which resolvers run, in which order, and how results are cached."""

    resolvers = List(
        Unicode(),
        DEFAULT_RESOLVERS,
        help="""Import strings of the resolver plug-ins, tried in this order; the first
        whose ``accepts`` is true handles a hop. Like repo2docker's content_providers.""",
    ).tag(config=True)

    max_depth = Int(
        8,
        help="""Maximum number of hops (DOI -> record -> repository -> commit ...). Deeper
        chains, e.g. Handles pointing at Handles, are refused.""",
    ).tag(config=True)

    cache_ttl = Float(
        24 * 3600.0,
        help="Seconds an immutable resolution (commit SHA, version record) stays cached.",
    ).tag(config=True)

    mutable_cache_ttl = Float(
        60.0,
        help="""Seconds a resolution that pinned a mutable name (branch, tag, concept DOI,
        latest dataset version, Handle record) stays cached.""",
    ).tag(config=True)

    cache_max_entries = Int(4096, help="Maximum number of cached resolutions.").tag(config=True)

    extra_hosts = List(
        Unicode(),
        [],
        help=f"""Extra hosts recognised by URL shape, as ``<provider>:<host>`` with provider
        one of {", ".join(hosted_ids())}
        (e.g. ``dataverse:data.goettingen-research-online.de``).""",
    ).tag(config=True)

    @validate("extra_hosts")
    def _check_extra_hosts(self, proposal: dict[str, Any]) -> list[str]:
        items = [str(item) for item in proposal["value"]]
        for item in items:
            kind, _, host = item.partition(":")
            if kind not in hosted_ids() or not host:
                raise TraitError(
                    f"extra_hosts entry {item!r} is not <provider>:<host> with provider one of "
                    f"{', '.join(hosted_ids())}"
                )
        return items

    def provider_table(self) -> ProviderTable:
        """The provider table with :attr:`extra_hosts` added to the rows' hosts."""
        extra: dict[str, set[str]] = {}
        for item in self.extra_hosts:
            kind, _, host = str(item).partition(":")
            extra.setdefault(kind, set()).add(host)
        return ProviderTable(extra_hosts=extra)


class ResolutionCache:
    """Small LRU with per-entry expiry; lookups are a dict access (well under 2 ms)."""

    def __init__(self, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock  # injectable so expiry can be tested without wall-clock races
        self._data: OrderedDict[str, tuple[float, LaunchTarget]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> LaunchTarget | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if item[0] <= self.clock():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return item[1]

    def put(self, key: str, target: LaunchTarget, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._data[key] = (self.clock() + ttl, target)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class Resolution:
    """A configured resolver chain with its clients and cache; share one per process."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        http: HttpClient | None = None,
        git: Git | None = None,
    ) -> None:
        self.config = config if config is not None else Config()
        self.settings = ResolverConfig(config=self.config)
        net = NetConfig(config=self.config)
        self.http = http if http is not None else HttpClient(net)
        self.git = git if git is not None else Git(net)
        self.table = self.settings.provider_table()
        self.plugins: list[Resolver] = [
            import_item(name)(config=self.config) for name in self.settings.resolvers
        ]
        self.cache = ResolutionCache(self.settings.cache_max_entries)
        self._net = net

    def resolve(self, identifier: str, *, use_cache: bool = True) -> LaunchTarget:
        # operator rewrites change where an identifier leads, so they belong to the key
        rewrites = json.dumps(self._net.effective_rewrites(), sort_keys=True)
        key = f"{rewrites}\n{identifier.strip()}"
        if use_cache:
            hit = self.cache.get(key)
            if hit is not None:
                return hit if hit.identifier == identifier else hit.with_(identifier=identifier)
        ident = self.table.parse(identifier)
        ctx = ResolveContext(http=self.http, git=self.git, table=self.table)
        target = self._run(ident, ctx).with_(identifier=identifier)
        check_carried_urls(target, self._net)
        ttl = self.settings.mutable_cache_ttl if ctx.mutable or target.choices else self.settings.cache_ttl
        if use_cache:
            self.cache.put(key, target, ttl)
        return target

    def _run(self, ident: Identifier, ctx: ResolveContext) -> LaunchTarget:
        seen: set[str] = set()
        for _hop in range(self.settings.max_depth + 1):
            if ident.normalized in seen:
                raise RefusedTarget(
                    f"resolution loops back to {ident.normalized}; the records point at each other, "
                    "report this to the record's publisher"
                )
            seen.add(ident.normalized)
            plugin = next((p for p in self.plugins if p.accepts(ident)), None)
            if plugin is None:
                raise UnsupportedIdentifier(
                    f"no resolver handles {ident.kind} identifiers like {ident.normalized}; "
                    "paste a DOI, Handle PID, SWHID or Git URL"
                )
            out = self._step(plugin, ident, ctx)
            if isinstance(out, LaunchTarget):
                return self._finish(out, ctx)
            ctx.hop(ident.normalized, out.normalized, plugin.name)
            ident = out
        raise RefusedTarget(
            f"more than {self.settings.max_depth} resolution hops; "
            "the identifier's records form a chain too long to follow"
        )

    @staticmethod
    def _step(plugin: Resolver, ident: Identifier, ctx: ResolveContext) -> LaunchTarget | Identifier:
        """One hop; upstream surprises become one-line errors that say what to do."""
        try:
            return plugin.resolve(ident, ctx)
        except HttpNotFound as err:
            raise NotFound(f"{ident.normalized} was not found ({err}); check the identifier") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            raise UpstreamError(
                f"the {plugin.name} record for {ident.normalized} has an unexpected format "
                f"({type(err).__name__}: {str(err)[:80]}); try again later or report it"
            ) from None

    def _finish(self, target: LaunchTarget, ctx: ResolveContext) -> LaunchTarget:
        provenance = {**ctx.provenance, **target.provenance}
        if "checksum" in provenance and len(target.files) == 1 and target.files[0].checksum is None:
            target = target.with_(files=(replace(target.files[0], checksum=provenance["checksum"]),))
        return target.with_(
            chain=tuple(ctx.hops) + target.chain,
            warnings=tuple(ctx.warnings) + tuple(w for w in target.warnings if w not in ctx.warnings),
            provenance=provenance,
        )


def check_carried_urls(target: LaunchTarget, config: NetConfig) -> None:
    """Refuse the whole target if any URL it carries would be refused by the download step.

    One bad file is enough: a target is shown to people and handed on through the API, so
    it never leaves with part of its files missing or with a URL into an internal network.
    The policy is :func:`fdo.net.policy.carried_problem` (the one :func:`~fdo.net.policy.plan`
    applies before a download): URLs under an operator rewrite are trusted as rewritten.
    """
    names: dict[str, str | None] = {}
    for what, url in target.urls():
        git = target.kind == "git" and not what.startswith("file")
        problem = carried_problem(url, config, git=git, names=names)
        if problem is None:
            continue
        host, reason = problem
        where = f"host {host}" if host else f"a {url.split(':', 1)[0][:20]}: URL"
        record = f"{target.provider} record {redact_url(target.ref or target.source)[:200]}"
        message = (
            f"refused {redact_url(target.identifier)}: the {record} links its {what} to {where} "
            f"({reason}); the launcher downloads only from hosts its network policy allows"
        )
        raise RefusedTarget(" ".join(message.split()))  # one line, whatever the record says


_default: Resolution | None = None
_default_lock = threading.Lock()


def default_resolution() -> Resolution:
    global _default
    with _default_lock:
        if _default is None:
            _default = Resolution()
        return _default


def resolve(
    identifier: str,
    *,
    config: Config | None = None,
    http: HttpClient | None = None,
    git: Git | None = None,
    **kw: Any,
) -> LaunchTarget:
    """Resolve ``identifier`` to a pinned :class:`LaunchTarget` (ambiguous -> ``choices``).

    Raises :class:`fdo.errors.ResolveError` subclasses with a one-line message. Without
    arguments a process-wide :class:`Resolution` (and its cache) is used.
    """
    if config is None and http is None and git is None:
        return default_resolution().resolve(identifier, **kw)
    return Resolution(config, http=http, git=git).resolve(identifier, **kw)
