"""Fetch-time preparation: wait, bounded, for downloads that providers build on demand.

- Software Heritage: a ``swh`` target whose vault bundle was not ready at resolution
  carries the vault status URL (provenance ``vault_status_url``). The vault is polled until
  ``done`` and the bundle is then downloaded from the status' ``fetch_url``; ``failed``
  is a :class:`~fdo.errors.FetchError` with the vault's message.
- HydroShare: the BagIt zip of a resource is zipped on request. Its URL is polled
  (without downloading) until it redirects to the bag or answers 200 with the zip;
  ``202`` or a 200 HTML/JSON "being prepared" page means "ask again".

Bounds are ``NetConfig.prepare_max_seconds``, ``prepare_poll_interval`` and
``prepare_max_polls``.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from fdo.config import NetConfig
from fdo.errors import FetchError
from fdo.net.http import REDIRECT_STATUSES, HttpClient, HttpResponse
from fdo.net.policy import redact_url
from fdo.net.poll import PollLimits, poll_until
from fdo.resolvers.swh import VAULT_STATUS_KEY, vault_failure, vault_wait
from fdo.target import LaunchTarget

log = logging.getLogger("fdo.fetch")

#: content types of "not ready yet" pages served with HTTP 200
_WAIT_PAGE_TYPES = ("text/html", "application/json", "text/plain")


def limits_from(config: NetConfig) -> PollLimits:
    return PollLimits(config.prepare_poll_interval, config.prepare_max_seconds,
                      config.prepare_max_polls)


def prepare(target: LaunchTarget, http: HttpClient) -> LaunchTarget:
    """Return ``target`` with files that can be downloaded now (waiting if needed)."""
    limits = limits_from(http.config)
    if target.kind == "swh" and target.provenance.get(VAULT_STATUS_KEY):
        return _swh_vault(target, http, limits)
    if target.provider == "hydroshare":
        for entry in target.files:
            _hydroshare_bag(entry.url, http, limits)
    return target


def _swh_vault(target: LaunchTarget, http: HttpClient, limits: PollLimits) -> LaunchTarget:
    url = target.provenance[VAULT_STATUS_KEY]
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


def _hydroshare_bag(url: str, http: HttpClient, limits: PollLimits) -> None:
    shown = redact_url(url)

    def ready() -> HttpResponse | None:
        resp = http.peek(url)
        ctype = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if resp.status in REDIRECT_STATUSES or (resp.status == 200 and ctype not in _WAIT_PAGE_TYPES):
            return resp
        if resp.status in (200, 202):
            log.info("HydroShare is preparing %s", shown)
            return None
        raise FetchError(f"HydroShare answered HTTP {resp.status} for {shown}; try again later")

    if poll_until(ready, limits) is None:
        raise FetchError(
            f"HydroShare is still preparing {shown} after {limits.describe()}; try again later"
        )
