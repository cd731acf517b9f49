"""Logging for every nfdi-launcher process: token scrubbing and optional JSON lines.

Secrets reach log records through URLs (``?token=...``, ``#access_token=...``,
``https://user:pw@host``), headers (``Authorization: token ...``) and pasted forge tokens
(``ghp_...``, ``glpat-...``), often percent-encoded (the home form sends a pasted URL as
``?id=https%3A%2F%2Fuser%3Aghp_...%40github.com``). :func:`scrub` matches the text as it is
and every percent-encoded word decoded (up to three times, so double encoding does not
hide anything). :class:`ScrubFilter` rewrites the *formatted* message of every record, so
a secret is removed whichever logger or argument carried it. The filter is installed on handlers (not loggers) so records from third-party
libraries (tornado, jupyterhub, urllib3) pass through it as well.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import unquote

#: query parameters whose values are secrets (JupyterHub's list plus ours)
SCRUB_PARAM_KEYS = ("token", "auth", "key", "code", "state", "xsrf", "_xsrf", "password",
                    "secret", "access_token", "build_token", "api_token", "client_secret")

_KEYS = "|".join(re.escape(k) for k in SCRUB_PARAM_KEYS)
_PARAM_RE = re.compile(rf"(?P<key>[?&;#](?:{_KEYS})=)(?P<value>[^&#\s\"']+)", re.IGNORECASE)
_USERINFO_RE = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s:]+(?::[^/@\s]*)?)@",
                          re.IGNORECASE)
_HEADER_RE = re.compile(
    r"(?P<key>\b(?:authorization|proxy-authorization|x-api-key|cookie|set-cookie)\b['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<value>(?:(?:token|bearer|basic)\s+)?[^\s,'\"}]+)",
    re.IGNORECASE,
)
_ENV_SECRET_RE = re.compile(
    r"(?P<key>\b[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|CRYPT_KEY)[A-Z0-9_]*['\"]?\s*[:=]\s*['\"]?)"
    r"(?P<value>[^\s,'\"}]+)"
)

#: token formats of the forges (GitHub classic and fine-grained, GitLab), wherever they are
_FORGE_TOKEN_RE = re.compile(
    r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,})")
#: a word with at least one percent escape
_ENCODED_WORD_RE = re.compile(r"[^\s\"'<>]*%[0-9A-Fa-f]{2}[^\s\"'<>]*")

REDACTED = "[secret]"


def _scrub_plain(text: str) -> str:
    text = _PARAM_RE.sub(lambda m: m.group("key") + REDACTED, text)
    text = _USERINFO_RE.sub(lambda m: m.group("scheme") + REDACTED + "@", text)
    text = _HEADER_RE.sub(lambda m: m.group("key") + REDACTED, text)
    text = _FORGE_TOKEN_RE.sub(REDACTED, text)
    return _ENV_SECRET_RE.sub(lambda m: m.group("key") + REDACTED, text)


def _scrub_encoded(match: re.Match[str]) -> str:
    """A percent-encoded word: unchanged if its decoded form holds no secret, else that
    form scrubbed (control characters escaped, so decoding cannot forge log lines)."""
    word = decoded = match.group(0)
    for _ in range(3):
        once = unquote(decoded, errors="replace")
        if once == decoded:
            break
        decoded = once
    cleaned = _scrub_plain(decoded)
    if cleaned == decoded:
        return word
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in cleaned)


def scrub(text: str) -> str:
    """Return *text* with secrets in URLs, headers and env-style assignments redacted.

    >>> scrub("GET /user/a/?token=abc123&x=1")
    'GET /user/a/?token=[secret]&x=1'
    >>> scrub("GET /launch?id=https%3A%2F%2Fme%3Apw%40git.example.org%2Fr (127.0.0.1)")
    'GET /launch?id=https://[secret]@git.example.org/r (127.0.0.1)'
    """
    text = _scrub_plain(text)
    if "%" in text:
        text = _ENCODED_WORD_RE.sub(_scrub_encoded, text)
    return text


class ScrubFilter(logging.Filter):
    """Redact secrets from the final message (and exception text) of each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        for key in ("phase", "image", "identifier", "duration"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        return json.dumps(entry, ensure_ascii=False)


#: third-party loggers that chatter at INFO about their own start-up
NOISY_LOGGERS = ("alembic", "alembic.runtime.plugins")

TEXT_FORMAT = "[%(levelname)1.1s %(asctime)s.%(msecs).03d %(name)s] %(message)s"


def configure(level: int | str = logging.INFO, json_format: bool = False) -> logging.Handler:
    """Install one stderr handler with scrubbing on the root logger; return it."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_nfdi_launcher", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._nfdi_launcher = True  # type: ignore[attr-defined]
    handler.addFilter(ScrubFilter())
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter(TEXT_FORMAT, "%H:%M:%S"))
    root.addHandler(handler)
    root.setLevel(level)
    # Importing jupyterhub (for the spawners) makes alembic announce its plug-ins at INFO.
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    return handler
