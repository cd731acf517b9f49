"""Pure classifiers: what the services said -> :class:`~launcher.failures.PipelineError`.

Each function reads one kind of answer (a resolver exception, a builder's ``failed``
event, a JupyterHub API answer, the hub's spawn progress) and decides the reason. What
the service said goes into ``detail`` (the operator's log); the person is shown it only
where it is written for them (the Outpost's refusal ``args``, the hub's own refusals)
and :func:`~launcher.failures.clean`.

The hub relays an Outpost's refusal only as text: the OutpostSpawner (2.2.x) turns the
Outpost's 419 body into ``"Start failed: HTTP 419: <module><class>: <args> (start request
to <url> failed: <code>). Deleting related resources..."`` and drops its ``kwargs``. So
the machine-readable part that survives is the exception's class name; the Outpost
(``outpost/errors.py``) names one class per reason (:data:`OUTPOST_CLASSES`).
"""

from __future__ import annotations

import re
from typing import Any

from fdo import errors as fdo_errors
from launcher.failures import PipelineError, fail
from launcher.failures.reasons import REASONS, Kind, reason_for_status

#: the Outpost's refusal class (last dotted part) -> reason
OUTPOST_CLASSES = {
    "FlavorUserLimit": "flavor_limit",
    "FlavorFull": "flavor_full",
    "FlavorNotAllowed": "flavor_forbidden",
    "UserForbidden": "flavor_forbidden",
    "FlavorUnknown": "flavor_unknown",
    "FlavorMissing": "flavor_unknown",
    "StoragePathError": "storage_path",
    "ImageNotAllowed": "misconfigured",
    "ServiceExists": "conflict",
    "StartTimeout": "spawn_timeout",
    "NotReady": "server_failed",
}

_RESOLVE = [(fdo_errors.MalformedIdentifier, "identifier_invalid"),
            (fdo_errors.UnsupportedIdentifier, "identifier_unsupported"),
            (fdo_errors.RefusedTarget, "resolve_refused"),
            (fdo_errors.NotFound, "not_found"),
            (fdo_errors.UpstreamError, "upstream_unavailable"),
            (fdo_errors.FetchError, "fetch_failed")]


def from_resolve_error(err: fdo_errors.ResolveError) -> PipelineError:
    """A resolver's exception; its message is written for the person (shown if clean and
    the person can act on it; a provider's outage is told in general words)."""
    reason = next((r for cls, r in _RESOLVE if isinstance(err, cls)),
                  reason_for_status(err.status_code))
    said = str(err) if REASONS[reason].kind is Kind.USER else ""
    return fail(reason, said, detail=f"{type(err).__name__}: {err}")


def from_build_event(data: dict[str, Any]) -> PipelineError:
    """A builder's ``failed`` event: its ``reason`` (builders set one), else its status.
    The builder's message names images and engines: it stays in the build log."""
    reason = str(data.get("reason") or "")
    if reason not in REASONS:
        reason = reason_for_status(int(data.get("status_code", 500)))
        if reason == "bad_request":
            reason = "build_failed"
    return fail(reason, detail=str(data.get("message", "")).rstrip("\n"))


def admission_failure(err: Any) -> PipelineError:
    """A refusal of :mod:`launcher.admission` (its ``reason`` if it names one; the
    messages are BinderHub's, written for the person, echoing at most what they sent)."""
    status, message = int(err.status_code), str(err)
    reason = str(getattr(err, "reason", "") or "")
    if reason not in REASONS:
        if status == 429:
            reason = "rate_limited" if "rate limit" in message.lower() else "quota_exceeded"
        elif status == 403:
            reason = "launch_not_allowed"
        else:
            reason = reason_for_status(status)
    reset = str(getattr(err, "headers", {}).get("x-ratelimit-reset", ""))
    retry_after = _seconds_until(reset) if reason == "rate_limited" else None
    return fail(reason, message, detail=message, retry_after=retry_after, for_person=True)


def _seconds_until(epoch: str) -> float | None:
    import time

    try:
        return max(0.0, float(epoch) - time.time())
    except ValueError:
        return None


# -- JupyterHub's REST API -----------------------------------------------------------------
def hub_unreachable(error: BaseException | str, url: str) -> PipelineError:
    """No answer from the hub: timeouts may pass, a refused connection does not."""
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    timed_out = isinstance(error, TimeoutError) or "timeout" in text.lower()
    reason = "hub_busy" if timed_out else "hub_unavailable"
    return fail(reason, detail=f"JupyterHub at {url} did not answer: {text}")


def from_hub_answer(code: int, hub_message: str, what: str,
                    retry_after: float | None = None) -> PipelineError:
    """A JupyterHub API answer that is not a success."""
    detail = f"JupyterHub refused to {what}: {code} {hub_message}"
    if code == 429 or code >= 500:
        return fail("hub_busy", detail=detail, retry_after=retry_after)
    if code in (401, 403, 404):  # the service token's scopes, or a user it cannot see
        return fail("misconfigured", detail=detail)
    if code == 400 and "maximum of" in hub_message:
        return fail("server_limit", detail=detail)
    if code == 400 and "pending" in hub_message:  # stopping or starting: a moment later
        return fail("hub_busy", detail=detail, retry_after=retry_after)
    return PipelineError(code, hub_message, detail=detail)


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (an HTTP date counts as unknown)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


# -- the hub's spawn progress ----------------------------------------------------------------
_OUTPOST_FAILED = re.compile(
    r"^Start failed: HTTP 419: (?P<body>.*) \((?:start|poll|stop) request to (?P<url>\S+) "
    r"failed(?:: (?P<code>\d+))?\)\. Deleting related resources\.\.\.$", re.DOTALL)
_CLASS_AND_ARGS = re.compile(r"^(?P<cls>[A-Za-z_][\w.]*): (?P<args>.*)$", re.DOTALL)
_HTML_REASON = re.compile(r'data-nfdi-reason="([a-z_]+)"')


def from_outpost_refusal(body: str, code: int | None, url: str = "") -> PipelineError:
    """What the OutpostSpawner reported of its start request (see the module docstring)."""
    detail = f"Outpost {url} answered {code or 'nothing'}: {body}"
    if code is None:
        timed_out = "timeout" in body.lower() or "timed out" in body.lower()
        return fail("spawn_timeout" if timed_out else "outpost_unavailable", detail=detail)
    if code == 419:
        match = _CLASS_AND_ARGS.match(body)
        if match is None:
            return fail("spawn_failed", detail=detail)
        name = match.group("cls").rsplit(".", 1)[-1]
        reason = OUTPOST_CLASSES.get(name, "spawn_failed")
        # the refusal's words are the person's reason; other reasons keep their own message
        speaks = REASONS[reason].kind is Kind.USER or reason == "spawn_failed"
        return fail(reason, match.group("args") if speaks else "", detail=detail)
    if code == 429 or code >= 500:
        return fail("system_busy", detail=detail)
    return fail("misconfigured", detail=detail)  # 401 credentials, 404/422 our requests


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")


def progress_text(message: str) -> str:
    """A spawn progress message as the browser's log shows it: an Outpost's refusal as its
    words only, other addresses hidden (the hub's log has the full text)."""
    match = _OUTPOST_FAILED.match(message.strip())
    if match:
        said = _CLASS_AND_ARGS.match(match.group("body"))
        what = said.group("args") if said and match.group("code") == "419" else \
            "the computing system did not accept the request"
        return f"Start failed: {_URL.sub('[address]', what)}"
    return _URL.sub("[address]", message)


def from_spawn_failure(messages: list[str], final: dict[str, Any]) -> PipelineError:
    """A spawn that the hub reported ``failed``: *messages* are the progress messages
    before it, *final* is the failed event itself."""
    for message in messages:
        match = _OUTPOST_FAILED.match(message.strip())
        if match:
            code = match.group("code")
            return from_outpost_refusal(match.group("body"), int(code) if code else None,
                                        match.group("url"))
    said = str(final.get("message") or "").strip()
    text = said.removeprefix("Spawn failed:").strip()
    tagged = _HTML_REASON.search(str(final.get("html_message") or ""))
    if tagged and tagged.group(1) in REASONS:  # a refusal of the hub's own start check
        return fail(tagged.group(1), text, detail=said)
    lowered = text.lower()
    if "timeout" in lowered or "didn't respond" in lowered or "did not start" in lowered:
        return fail("spawn_timeout", detail=said)
    return fail("spawn_failed", detail=said)
