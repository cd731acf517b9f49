"""Operator knobs for all outbound traffic of ``fdo`` (HTTP metadata, downloads, git).

One :class:`NetConfig` is shared by :class:`fdo.net.HttpClient`, :class:`fdo.net.Git`
and :func:`fdo.fetch.fetch`. Set it in ``nfdi_launcher_config.py``::

    c.NetConfig.allowed_networks = ["10.20.0.0/16"]
    c.NetConfig.url_rewrites = {"https://github.com/": "https://git-mirror.example.org/"}

URL rewrites are also read from the environment variable
``NFDI_LAUNCHER_URL_REWRITES`` (a JSON object); entries from the environment win over
the config file for the same prefix.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from traitlets import Bool, Dict, Float, Int, List, Unicode
from traitlets.config import Configurable

from fdo.errors import RefusedTarget

#: environment variable holding ``{"<prefix>": "<replacement>"}`` as JSON
REWRITES_ENV = "NFDI_LAUNCHER_URL_REWRITES"


class NetConfig(Configurable):
    """Limits and policy for every request that leaves the launcher."""

    url_rewrites = Dict(
        {},
        help="""URL prefix rewrites, ``{"<prefix>": "<replacement>"}``, for mirrors,
        air-gapped sites and tests. The longest matching prefix wins. A rewritten
        destination is trusted by the operator: it is not subject to the private-network
        check. Merged with the JSON object in $NFDI_LAUNCHER_URL_REWRITES (the
        environment wins for equal prefixes).""",
    ).tag(config=True)

    allowed_networks = List(
        Unicode(),
        [],
        help="""CIDR networks (e.g. ``10.20.0.0/16``, ``fd00:1::/64``) that user-supplied
        URLs may reach although they are private, loopback or link-local. Empty by
        default: only public addresses are reachable.""",
    ).tag(config=True)

    allow_http = Bool(
        False,
        help="""Allow plain ``http://`` for user-supplied URLs (metadata, downloads and
        git). Off by default: only ``https://``. Redirects from https to http are
        refused regardless.""",
    ).tag(config=True)

    timeout = Float(
        20.0,
        help="Seconds to wait for connecting to, and for each read from, an HTTP server.",
    ).tag(config=True)

    max_transfer_seconds = Float(
        1800.0,
        help="""Upper bound in seconds for receiving one response body, however slowly
        the server drips it (``timeout`` bounds each single read).""",
    ).tag(config=True)

    max_redirects = Int(
        5, help="Maximum number of HTTP redirects followed for one request."
    ).tag(config=True)

    max_response_bytes = Int(
        20 * 1024 * 1024,
        help="Maximum size in bytes of a metadata response read into memory.",
    ).tag(config=True)

    max_download_bytes = Int(
        2 * 1024 * 1024 * 1024,
        help="Maximum size in bytes of one downloaded file (archives, record files).",
    ).tag(config=True)

    retries = Int(
        3,
        help="""How often a request is retried after a connection error, a timeout, a
        5xx answer or 429 (Too Many Requests).""",
    ).tag(config=True)

    retry_backoff = Float(
        0.5,
        help="""Base delay in seconds between retries; doubled on each attempt. A
        ``Retry-After`` header is honoured up to ``retry_max_delay``.""",
    ).tag(config=True)

    retry_max_delay = Float(
        10.0, help="Upper bound in seconds for one wait between retries."
    ).tag(config=True)

    cache_ttl = Float(
        300.0,
        help="""Seconds a cached metadata response is reused without asking the server.
        After that it is revalidated with ``If-None-Match`` when it had an ETag.
        0 disables reuse without revalidation.""",
    ).tag(config=True)

    cache_max_entries = Int(
        1024, help="Maximum number of responses kept in the in-memory HTTP cache."
    ).tag(config=True)

    user_agent = Unicode(
        "nfdi-launcher/0.1 (+https://nfdi.software)",
        help="User-Agent header sent with every HTTP request.",
    ).tag(config=True)

    ca_bundle = Unicode(
        "",
        help="""Path of a PEM CA bundle used to verify upstream TLS certificates instead of
        the system store (e.g. for a mirror behind a private CA). Empty: system store.""",
    ).tag(config=True)

    git_allow_ssh = Bool(
        False,
        help="""Allow the ``ssh`` git transport (``git@host:owner/repo``) for
        user-supplied repositories. Off by default; hosts are still checked.""",
    ).tag(config=True)

    git_allow_submodules = Bool(
        False,
        help="""Initialise git submodules after checkout. Each submodule URL passes the
        same URL policy as the repository itself. Off by default.""",
    ).tag(config=True)

    git_timeout = Float(
        300.0, help="Seconds one git command (ls-remote, fetch, checkout) may take."
    ).tag(config=True)

    prepare_max_seconds = Float(
        600.0,
        help="""Seconds fetching waits in total for content that a provider prepares on
        demand (Software Heritage vault cooking, HydroShare bag zips) before it gives up
        with an error saying to try again later.""",
    ).tag(config=True)

    prepare_poll_interval = Float(
        5.0,
        help="Seconds between two requests asking whether on-demand content is ready.",
    ).tag(config=True)

    prepare_max_polls = Int(
        120,
        help="""Maximum number of requests asking whether on-demand content is ready
        (bounds the wait together with ``prepare_max_seconds``).""",
    ).tag(config=True)

    max_archive_files = Int(
        20000, help="Maximum number of members in one archive that is unpacked."
    ).tag(config=True)

    max_unpacked_bytes = Int(
        4 * 1024 * 1024 * 1024,
        help="Maximum total size in bytes of the files unpacked from one target.",
    ).tag(config=True)

    max_compression_ratio = Float(
        200.0,
        help="""Maximum ratio of unpacked to compressed size of an archive member (zip)
        or of a whole archive (tar) above 1 MiB; guards against decompression bombs.""",
    ).tag(config=True)

    def effective_rewrites(self) -> dict[str, str]:
        """Config rewrites merged with $NFDI_LAUNCHER_URL_REWRITES (env wins)."""
        merged: dict[str, str] = {str(k): str(v) for k, v in self.url_rewrites.items()}
        merged.update(rewrites_from_env())
        return merged


def rewrites_from_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Parse $NFDI_LAUNCHER_URL_REWRITES; a malformed value is an operator error."""
    env = os.environ if environ is None else environ
    raw = env.get(REWRITES_ENV, "").strip()
    if not raw:
        return {}
    return dict(_parse_rewrites(raw))


# Called on every HTTP hop and resolve() cache hit: the environment is still read each
# time (tests change it), only the JSON parse of an unchanged value is reused.
@lru_cache(maxsize=8)
def _parse_rewrites(raw: str) -> tuple[tuple[str, str], ...]:
    try:
        data: Any = json.loads(raw)
    except ValueError as err:
        raise RefusedTarget(f"{REWRITES_ENV} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise RefusedTarget(f'{REWRITES_ENV} must be a JSON object {{"<prefix>": "<replacement>"}}')
    return tuple(data.items())
