"""Where outbound requests may go: URL rewrites, scheme allow-list and the address check.

Every URL the launcher contacts comes, directly or through a record or a redirect,
from a user. :func:`plan` turns such a URL into a :class:`Destination` *before any
socket is opened*: operator rewrites are applied first (a rewritten destination is
trusted), otherwise the scheme must be allowed, the URL must carry no credentials,
and the host is resolved here and EVERY address is checked. The HTTP client then
connects to one of exactly those addresses (no second DNS lookup, so DNS rebinding
cannot swap in an internal address).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from fdo.errors import RefusedTarget, UpstreamError

if TYPE_CHECKING:
    from fdo.config import NetConfig

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22}

#: names that always mean "this machine" or an internal zone (never sent to DNS)
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")
_INTERNAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}

_SECRET_KEYS = re.compile(r"(token|key|secret|password|passwd|auth|signature|sig|code)", re.I)
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]")

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_HOST_RE = re.compile(r"[a-z0-9._-]+|[0-9a-f:.]+")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_V4_COMPAT = ipaddress.IPv6Network("::/96")


@dataclass(frozen=True)
class Destination:
    """A checked URL, ready to be contacted.

    ``logical`` is the URL as asked for (what users and records see); ``url`` is what is
    contacted after operator rewrites. ``addresses`` are the checked IPs to connect to
    (empty when not resolved, e.g. for git, which resolves itself).
    """

    logical: str
    url: str
    trusted: bool
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...] = ()


def redact_url(url: str) -> str:
    """The URL without userinfo and with secret-looking query values replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = "&".join(
        (f"{k}=[secret]" if _SECRET_KEYS.search(k) else f"{k}={v}") if sep else k
        for k, sep, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def apply_rewrites(url: str, rewrites: Mapping[str, str]) -> tuple[str, bool]:
    """Apply the longest matching prefix rewrite; returns (url, rewritten?)."""
    best = ""
    for prefix in rewrites:
        if prefix and url.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    if not best:
        return url, False
    return rewrites[best] + url[len(best):], True


def unrewrite(actual: str, rewrites: Mapping[str, str]) -> str:
    """Map a URL on a rewrite *destination* back to its logical form (longest match)."""
    best, logical = "", actual
    for prefix, replacement in rewrites.items():
        if replacement and actual.startswith(replacement) and len(replacement) > len(best):
            best, logical = replacement, prefix + actual[len(replacement):]
    return logical


def address_problem(ip: IPAddress, allowed: Iterable[str] = ()) -> str | None:
    """Why ``ip`` must not be contacted, or None if it is a public address (or allowed)."""
    for net in allowed:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return None
        except ValueError:
            continue
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_v4(ip)
        if embedded is not None:
            inner = address_problem(embedded, allowed)
            return f"embeds {embedded}, {inner}" if inner else None
    for attr, label in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local / cloud metadata"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private network"),
    ):
        if getattr(ip, attr):
            return label
    if not ip.is_global:
        return "not a public address"
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or (ip in _V4_COMPAT and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def parse_host(url: str) -> tuple[SplitResult, str, int]:
    """Split ``url`` and return (parts, ascii host, port); RefusedTarget if malformed."""
    shown = redact_url(url)
    if _BAD_CHARS.search(url):
        raise RefusedTarget(f"refused {shown!r}: URLs must not contain spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise RefusedTarget(f"refused {shown!r}: malformed URL ({err})") from None
    ssh_user = parts.scheme.lower() == "ssh" and parts.password is None and \
        re.fullmatch(r"[A-Za-z0-9._-]+@[^@]+", parts.netloc) is not None
    if not ssh_user and (parts.username is not None or parts.password is not None
                         or "@" in parts.netloc):
        raise RefusedTarget(
            f"refused {shown!r}: credentials in URLs are not accepted; configure a token instead"
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise RefusedTarget(f"refused {shown!r}: the URL has no host")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise RefusedTarget(f"refused {shown!r}: invalid host name") from None
    if host.startswith("-") or not _HOST_RE.fullmatch(host):
        raise RefusedTarget(f"refused {shown!r}: invalid host name {host[:60]!r}")
    return parts, host, port or DEFAULT_PORTS.get(parts.scheme.lower(), 443)


def resolve_host(host: str, port: int, allowed: Iterable[str], shown: str) -> tuple[str, ...]:
    """Resolve ``host`` and check every address; returns the (all allowed) addresses."""
    allowed = list(allowed)
    if host in _INTERNAL_NAMES or host.endswith(_INTERNAL_SUFFIXES):
        if not _literal_allowed(host, allowed):
            raise RefusedTarget(
                f"refused {shown!r}: {host} names this machine or an internal zone; use a public "
                "host (operators: NetConfig.url_rewrites or allowed_networks)"
            )
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise UpstreamError(f"cannot resolve host {host!r} of {shown!r}: {err}") from None
    addresses: list[str] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]
        ip = ipaddress.ip_address(raw)
        problem = address_problem(ip, allowed)
        if problem:
            raise RefusedTarget(
                f"refused {shown!r}: {host} resolves to {ip} ({problem}); only public addresses "
                "may be contacted (operators: NetConfig.allowed_networks)"
            )
        if raw not in addresses:
            addresses.append(raw)
    if not addresses:
        raise UpstreamError(f"cannot resolve host {host!r} of {shown!r}: no address")
    return tuple(addresses)


def _literal_allowed(host: str, allowed: list[str]) -> bool:
    # "localhost" is only acceptable when the operator explicitly allows loopback
    return any(ipaddress.ip_address("127.0.0.1") in ipaddress.ip_network(n, strict=False)
               for n in allowed if _is_network(n))


def _is_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def allowed_schemes(config: NetConfig, *, git: bool = False) -> frozenset[str]:
    schemes = {"https"}
    if config.allow_http:
        schemes.add("http")
    if git and config.git_allow_ssh:
        schemes.add("ssh")
    return frozenset(schemes)


def plan(
    url: str,
    config: NetConfig,
    *,
    schemes: Iterable[str] | None = None,
    resolve: bool = True,
) -> Destination:
    """Check ``url`` against the policy and return where to connect (no socket opened)."""
    if not isinstance(url, str) or not url:
        raise RefusedTarget("refused: empty URL")
    actual, trusted = apply_rewrites(url, config.effective_rewrites())
    shown = redact_url(url)
    ok = frozenset(schemes) if schemes is not None else allowed_schemes(config)
    if not trusted:
        found = _SCHEME_RE.match(url)
        scheme = found.group(1).lower() if found else ""
        if scheme not in ok:
            wanted = " or ".join(sorted(ok))
            raise RefusedTarget(
                f"refused {shown!r}: scheme {scheme[:20] or '(none)'!r} is not allowed; use {wanted}"
            )
    parts, host, port = parse_host(actual if trusted else url)
    scheme = parts.scheme.lower()
    if trusted:
        segments = unquote(parts.path).split("/")
        if "." in segments or ".." in segments:
            # a rewrite maps a prefix; dot segments could climb out of it on the mirror
            raise RefusedTarget(f"refused {shown!r}: '.' and '..' path segments are not allowed")
        if scheme not in ("http", "https"):
            raise RefusedTarget(f"refused {shown!r}: rewrite leads to unsupported scheme {scheme!r}")
        addresses = _resolve_trusted(host, port, shown) if resolve else ()
        return Destination(url, actual, True, scheme, host, port, addresses)
    addresses = resolve_host(host, port, config.allowed_networks, shown) if resolve else ()
    if not resolve:
        _check_literal(host, config.allowed_networks, shown)
    return Destination(url, url, False, scheme, host, port, addresses)


def _check_literal(host: str, allowed: list[str], shown: str) -> None:
    """Without resolving: refuse internal names and non-public IP literals."""
    if host in _INTERNAL_NAMES or host.endswith(_INTERNAL_SUFFIXES):
        if not _literal_allowed(host, allowed):
            raise RefusedTarget(f"refused {shown!r}: {host} names this machine or an internal zone")
    ip = literal_ip(host)
    problem = address_problem(ip, allowed) if ip is not None else None
    if problem:
        raise RefusedTarget(f"refused {shown!r}: {ip} is {problem}; only public addresses may be contacted")


def literal_ip(host: str) -> IPAddress | None:
    """The address a host literal spells, in any form ``inet_aton`` accepts
    (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None


def _resolve_trusted(host: str, port: int, shown: str) -> tuple[str, ...]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise UpstreamError(f"cannot resolve rewritten host {host!r} for {shown!r}: {err}") from None
    return tuple(dict.fromkeys(str(i[4][0]).split("%", 1)[0] for i in infos))


def check_url(url: str, config: NetConfig | None = None, *, git: bool = False) -> str:
    """Policy check before any socket: returns the URL to contact (rewrites applied).

    Raises :class:`~fdo.errors.RefusedTarget` with a one-line, actionable message when
    the scheme is not allowed, the URL carries credentials, or the host (a name or a
    literal in any encoding) resolves to a loopback, private, link-local (incl. cloud
    metadata 169.254.169.254), multicast, ULA, unspecified or reserved address, or an
    IPv6 address embedding one. Networks in ``config.allowed_networks`` pass.
    """
    from fdo.config import NetConfig

    cfg = config if config is not None else NetConfig()
    return plan(url, cfg, schemes=allowed_schemes(cfg, git=git)).url


def carried_problem(
    url: str, config: NetConfig, *, git: bool = False, names: dict[str, str | None] | None = None
) -> tuple[str, str] | None:
    """Why a URL that a resolved target carries would be refused, as (host, reason), or None.

    The same policy as :func:`plan` for downloads, applied to the URL as the record gives
    it: a URL an operator rewrite maps is trusted (only the rewritten form is checked, as
    when it is downloaded); any other must have an allowed scheme, no credentials, and a
    host that is not internal -- literals in every spelling are checked without DNS, names
    are resolved and every address is checked. A name that does not resolve now is not
    refused here: nothing can be sent to it, and the download checks it again before
    connecting. ``names`` caches the verdict per host and port (e.g. for one target).
    """
    shown = redact_url(url)
    try:
        dest = plan(url, config, schemes=allowed_schemes(config, git=git), resolve=False)
    except RefusedTarget as err:
        return _host_of(url), _reason(err, shown)
    if dest.trusted or literal_ip(dest.host) is not None:
        return None
    cache = names if names is not None else {}
    key = f"{dest.host}:{dest.port}"
    if key not in cache:
        try:
            resolve_host(dest.host, dest.port, config.allowed_networks, shown)
            cache[key] = None
        except RefusedTarget as err:
            cache[key] = _reason(err, shown)
        except UpstreamError:
            cache[key] = None
    problem = cache[key]
    return (dest.host, problem) if problem else None


def _reason(err: RefusedTarget, shown: str) -> str:
    return str(err).removeprefix(f"refused {shown!r}: ").removeprefix("refused: ")


def _host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
