"""All outbound traffic of ``fdo``: one HTTP client and one hardened git wrapper.

Public API (used by the resolvers and by :mod:`fdo.fetch`)::

    from fdo.net import HttpClient, Git, NetConfig, check_url

    http = HttpClient(NetConfig())          # shares NetConfig knobs, TTL/ETag cache
    http.get(url, headers=..., max_bytes=..., follow_redirects=True,
             ok_statuses=(200,), cache=True) -> HttpResponse
    http.get_json(url, **kw) -> Any
    http.post_json(url, body, ...) -> HttpResponse
    http.download(url, dest, max_bytes=..., checksum="sha256:...") -> int
    http.peek(url) -> HttpResponse            # no redirects followed, body prefix only
    poll_until(check, PollLimits(...))        # bounded "ask again" loops (fdo.net.poll)
    http.round_trips                         # requests actually sent
    Git(config).ls_remote(url) -> RemoteRefs
    Git(config).clone_at(url, commit, dest)
    check_url(url, config) -> str            # policy check, no socket; rewritten URL

Errors are those of :mod:`fdo.errors`: ``RefusedTarget`` (policy), ``NotFound``
(``HttpNotFound`` carries the response), ``UpstreamError`` (``HttpStatusError``
carries the response), ``FetchError`` (downloads).
"""

from fdo.config import REWRITES_ENV, NetConfig
from fdo.net.git import Git, RemoteRefs, check_ref, parse_ls_remote
from fdo.net.http import HttpClient, HttpNotFound, HttpResponse, HttpStatusError
from fdo.net.policy import (
    Destination,
    address_problem,
    apply_rewrites,
    check_url,
    plan,
    redact_url,
)

__all__ = [
    "REWRITES_ENV",
    "Destination",
    "Git",
    "HttpClient",
    "HttpNotFound",
    "HttpResponse",
    "HttpStatusError",
    "NetConfig",
    "RemoteRefs",
    "address_problem",
    "apply_rewrites",
    "check_ref",
    "check_url",
    "parse_ls_remote",
    "plan",
    "redact_url",
]
