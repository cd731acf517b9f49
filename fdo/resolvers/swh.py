"""Software Heritage: peel rel -> rev -> dir via the API, then cook the directory in the vault."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from traitlets import Float, Int, Unicode

from fdo.errors import FetchError, NotFound, UpstreamError
from fdo.identifiers import Identifier
from fdo.net.http import HttpClient
from fdo.net.poll import PollLimits, poll_until
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, as_dict
from fdo.target import Choice, FileEntry, LaunchTarget

log = logging.getLogger("fdo.fetch")

SWH = "https://archive.softwareheritage.org"
#: vault states in which the bundle is still being cooked
VAULT_PENDING = ("new", "pending")
#: provenance key of the vault status URL, present while the bundle is not ready yet
VAULT_STATUS_KEY = "vault_status_url"


def vault_wait(
    http: HttpClient, url: str, limits: PollLimits, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Request cooking of ``url`` (a ``/vault/flat/<swhid>/`` status URL) and poll it.

    The POST answers the current status (and starts cooking an unknown or expired
    bundle); GETs follow until the status is neither ``new`` nor ``pending`` or
    ``limits`` run out. Returns the last status seen.
    """
    last: dict[str, Any] = {}

    def check() -> dict[str, Any] | None:
        nonlocal last
        if not last:
            last = as_dict(http.post_json(url, headers=headers).json())
        else:
            last = as_dict(http.get_json(url, headers=headers, cache=False))
        return None if last.get("status") in VAULT_PENDING else last

    return poll_until(check, limits) or last


def vault_failure(core: str, status: Mapping[str, Any]) -> str:
    """One-line message for a ``failed`` vault status, with the vault's own reason."""
    return (f"the Software Heritage vault could not prepare {core}: "
            f"{status.get('progress_message') or 'failed'}; try again later")


def prepare_vault(target: LaunchTarget, http: HttpClient, limits: PollLimits) -> LaunchTarget:
    """At fetch time: wait for a bundle that was not cooked at resolution, then take its URL."""
    url = target.provenance.get(VAULT_STATUS_KEY)
    if not url:
        return target
    status = vault_wait(http, url, limits)
    state = status.get("status")
    if state == "failed":
        raise FetchError(vault_failure(target.ref, status))
    if state != "done":
        raise FetchError(
            f"the Software Heritage vault is still preparing {target.ref} "
            f"(status {str(state)[:20]!r} after {limits.describe()}); try again later"
        )
    fetch_url = status.get("fetch_url")
    if not isinstance(fetch_url, str) or not fetch_url:
        raise FetchError(f"the Software Heritage vault says {target.ref} is done but gives no fetch_url")
    log.info("vault bundle of %s is ready", target.ref)
    files = tuple(replace(f, url=fetch_url) for f in target.files[:1])
    return target.with_(files=files)


class SwhResolver(Resolver):
    name = "swh"

    token = Unicode(
        "",
        help="Bearer token for the Software Heritage API (raises rate limits). Never logged.",
    ).tag(config=True)

    vault_max_wait = Float(
        60.0,
        help="""Seconds to wait for the vault to cook a directory during resolution. If it
        is not done by then the target still carries the vault fetch URL and a warning.""",
    ).tag(config=True)

    vault_poll_interval = Float(
        2.0, help="Seconds between two vault status requests while cooking."
    ).tag(config=True)

    vault_max_polls = Int(
        30,
        help="""Maximum number of vault status requests during resolution (the first
        requests cooking). Fetching polls again, bounded by the NetConfig.prepare_* knobs.""",
    ).tag(config=True)

    def accepts(self, ident: Identifier) -> bool:
        return ident.kind == "swhid"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _api(self, ctx: ResolveContext, path: str) -> dict[str, Any]:
        return as_dict(ctx.http.get_json(f"{SWH}/api/1/{path}", headers=self._headers()))

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        kind, sha = ident.get("type"), ident.get("hash")
        if kind == "rel":
            rel = self._api(ctx, f"release/{sha}/")
            if rel.get("target_type") != "revision":
                raise NotFound(f"release {sha} does not point at a revision; use a dir/rev SWHID")
            return ctx.parse(f"swh:1:rev:{rel['target']}")
        if kind == "rev":
            rev = self._api(ctx, f"revision/{sha}/")
            return ctx.parse(f"swh:1:dir:{rev['directory']}")
        if kind == "snp":
            return self._snapshot(ident, sha, ctx)
        return self._directory(ident, sha, ctx)

    def _snapshot(self, ident: Identifier, sha: str, ctx: ResolveContext) -> Outcome:
        anchor = ident.get("anchor")
        if anchor:
            return ctx.parse(anchor)
        snp = self._api(ctx, f"snapshot/{sha}/")
        branches = as_dict(snp.get("branches"))
        head = as_dict(branches.get("HEAD"))
        if head.get("target_type") == "alias":
            head = as_dict(branches.get(str(head.get("target"))))
        if head.get("target_type") in ("revision", "release"):
            short = "rev" if head["target_type"] == "revision" else "rel"
            return ctx.parse(f"swh:1:{short}:{head['target']}")
        choices = tuple(
            Choice(identifier=f"swh:1:rev:{b['target']}", label=name, reason="snapshot branch")
            for name, b in ((n, as_dict(v)) for n, v in sorted(branches.items()))
            if b.get("target_type") == "revision"
        )
        if not choices:
            raise NotFound(f"snapshot {sha} has no branches with revisions")
        return LaunchTarget(
            identifier=ident.raw, kind="swh", provider="swhid", source=f"{SWH}/{ident.get('core')}",
            ref="", launch_path="", choices=choices,
        )

    def _directory(self, ident: Identifier, sha: str, ctx: ResolveContext) -> LaunchTarget:
        core = f"swh:1:dir:{sha}"
        status = self._cook(core, ctx)
        fetch_url = str(status.get("fetch_url") or f"{SWH}/api/1/vault/flat/{core}/raw/")
        prov = {"swhid": core}
        for key in ("origin", "visit", "anchor", "path"):
            if ident.get(key):
                prov[key] = ident.get(key)
        if status.get("status") != "done":
            prov[VAULT_STATUS_KEY] = self._vault_url(core)
            ctx.warn(f"the Software Heritage vault is still preparing {core}; fetching waits for it")
        return LaunchTarget(
            identifier=ident.raw,
            kind="swh",
            provider="swhid",
            source=f"{SWH}/{core}",
            ref=core,
            launch_path=f"v2/swhid/{core}",
            files=(FileEntry(name=f"{sha}.tar.gz", url=fetch_url),),
            title=ident.get("origin") or core,
            ref_url=f"{SWH}/{core}",
            provenance=prov,
        )

    @staticmethod
    def _vault_url(core: str) -> str:
        return f"{SWH}/api/1/vault/flat/{core}/"

    def _cook(self, core: str, ctx: ResolveContext) -> dict[str, Any]:
        limits = PollLimits(self.vault_poll_interval, self.vault_max_wait, self.vault_max_polls)
        status = vault_wait(ctx.http, self._vault_url(core), limits, self._headers())
        if status.get("status") == "failed":
            raise UpstreamError(vault_failure(core, status))
        return status
