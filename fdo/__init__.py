"""fdo: identifiers (Git URLs, DOIs, Handle/FDO PIDs, SWHIDs, RSD pages) to launch targets.

Bottom of the flow ``fdo -> builders -> launcher -> outpost``: imports none of the
other packages. Public surface: :class:`~fdo.target.LaunchTarget` and the errors in
:mod:`fdo.errors`; ``resolve``/``fetch`` are added by the resolver modules.
"""

from fdo.errors import (
    FetchError,
    MalformedIdentifier,
    NotFound,
    RefusedTarget,
    ResolveError,
    UnsupportedIdentifier,
    UpstreamError,
)
from fdo.fetch import fetch
from fdo.identifiers import Identifier
from fdo.providers import parse
from fdo.resolve import Resolution, ResolverConfig, resolve
from fdo.target import Choice, FileEntry, Hop, LaunchTarget

__all__ = [
    "Choice",
    "FetchError",
    "FileEntry",
    "Hop",
    "Identifier",
    "LaunchTarget",
    "MalformedIdentifier",
    "NotFound",
    "RefusedTarget",
    "Resolution",
    "ResolveError",
    "ResolverConfig",
    "UnsupportedIdentifier",
    "UpstreamError",
    "fetch",
    "parse",
    "resolve",
]
