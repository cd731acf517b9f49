"""Errors of identifier resolution and fetching.

Exception tree (each message is one line a user can act on)::

    ResolveError
    ├── MalformedIdentifier   the string is not any identifier we know     (CLI exit 2)
    ├── UnsupportedIdentifier a known kind we cannot launch (e.g. a bare file SWHID)
    ├── RefusedTarget         policy: internal network, bad transport, option injection
    ├── NotFound              the record / ref / repository does not exist
    ├── UpstreamError         the provider failed (5xx, timeout) after retries
    └── FetchError            materialising failed (checksum, unsafe archive, size limit)

Ambiguity is not an exception: :class:`fdo.target.LaunchTarget` carries ``choices``.
"""

from __future__ import annotations


class ResolveError(Exception):
    """Base class; ``str(err)`` is the user-facing one-line message."""

    #: HTTP status the launcher reports for this error
    status_code = 400


class MalformedIdentifier(ResolveError):
    pass


class UnsupportedIdentifier(ResolveError):
    status_code = 422


class RefusedTarget(ResolveError):
    status_code = 403


class NotFound(ResolveError):
    status_code = 404


class UpstreamError(ResolveError):
    status_code = 502


class FetchError(ResolveError):
    status_code = 422
