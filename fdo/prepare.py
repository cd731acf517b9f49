"""Fetch-time preparation: wait, bounded, for downloads that providers build on demand.

A provider whose downloads may not exist yet has a ``prepare`` hook in its row of
:mod:`fdo.providers` (the hooks live in the resolver modules):

- Software Heritage (``swhid``): a target whose vault bundle was not ready at resolution
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

from fdo.config import NetConfig
from fdo.net.http import HttpClient
from fdo.net.poll import PollLimits
from fdo.providers import BY_ID
from fdo.target import LaunchTarget


def limits_from(config: NetConfig) -> PollLimits:
    return PollLimits(config.prepare_poll_interval, config.prepare_max_seconds,
                      config.prepare_max_polls)


def prepare(target: LaunchTarget, http: HttpClient) -> LaunchTarget:
    """Return ``target`` with files that can be downloaded now (waiting if needed)."""
    row = BY_ID.get(target.provider)
    if row is None or row.prepare is None:
        return target
    return row.prepare(target, http, limits_from(http.config))
