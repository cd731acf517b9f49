"""What a failed launch tells the person, the program and the operator.

Every step of a launch (resolve, fetch, build, push, hand-off, spawn) ends a failure in one
:class:`PipelineError` with a stable :attr:`~PipelineError.reason` (:mod:`.reasons`: whose
failure it is, its HTTP status, the next action to offer). :func:`failed_event` turns it
into the final ``failed`` event:

- ``message``: one sentence for the person (what happened, what to do) and the request id;
  never a URL, port, class name or library text — those go to the log (:func:`log_failure`)
  under the same request id;
- ``status_code`` (4xx: the person's to fix, 503: the operator's), ``reason``,
  ``request_id``, ``next_action``, ``attempts`` (and ``retry_after`` when known).

Only failures of kind ``transient`` are retried (:mod:`launcher.pipeline`, launch step).
The pure classifiers of the services' answers are in :mod:`.classify`.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from launcher import events
from launcher.events import Event
from launcher.failures.reasons import REASONS, Action, Kind, Reason, reason_for_status

__all__ = ["REASONS", "Action", "Kind", "PipelineError", "Reason", "clean", "fail",
           "failed_event", "log_failure", "new_request_id", "person_message", "retry_wait"]

log = logging.getLogger("nfdi_launcher.failures")


class PipelineError(Exception):
    """A step failed.

    ``str()`` is the message for the person, shown if *for_person* (the launcher wrote it
    for the person, echoing at most what they sent) or if it is :func:`clean` (a service's
    words); else the reason's own message is shown. *detail* is for the operator's log
    only. Without a *reason*, one is derived from *status_code* (code written before
    reasons existed)."""

    def __init__(self, status_code: int, message: str, *, reason: str = "", detail: str = "",
                 retry_after: float | None = None, for_person: bool = False,
                 **fields: Any) -> None:
        super().__init__(message)
        self.for_person = for_person
        self.reason = reason if reason in REASONS else reason_for_status(status_code)
        # a known reason fixes the status, so it is the documented one
        self.status_code = REASONS[self.reason].status if reason in REASONS else status_code
        self.detail = detail
        self.retry_after = retry_after
        self.fields = fields
        #: tries of the failing step (the launch step retries transient failures)
        self.attempts = 1

    @property
    def info(self) -> Reason:
        return REASONS[self.reason]

    @property
    def retryable(self) -> bool:
        return self.info.retryable


def fail(reason: str, message: str = "", *, detail: str = "", retry_after: float | None = None,
         for_person: bool = False, **fields: Any) -> PipelineError:
    """A :class:`PipelineError` of a known *reason* (its status from the table); the
    reason's own message unless a better one for the person is given."""
    info = REASONS[reason]
    return PipelineError(info.status, message or info.message, reason=reason, detail=detail,
                         retry_after=retry_after, for_person=for_person and bool(message),
                         **fields)


# What a person must not be shown: addresses, ports, code names, library error text.
_INTERNALS = re.compile(
    r"[a-z][a-z0-9+.-]*://[^\s)]"                 # URLs (not a scheme named in a hint)
    r"|\b(?:\d{1,3}\.){3}\d{1,3}\b"                # IPv4 addresses
    r"|[\w\]]:\d{2,5}\b|\bport \d+"               # host:port, "port N"
    r"|\blocalhost\b|\.sock\b"
    r"|\b[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+\.[A-Z]\w*"   # module.path.Class
    r"|\b[A-Z][A-Za-z0-9]*(?:Error|Exception|Refused|Timeout)\b"  # exception class names
    r"|\bErrno\b|\bTraceback\b|\bHTTP \d{3}\b|\bstatus \d{3}\b|\n",
)
MAX_MESSAGE = 400


def clean(text: str) -> bool:
    """True if *text* may be shown to a person as it is."""
    return bool(text.strip()) and len(text) <= MAX_MESSAGE and not _INTERNALS.search(text)


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def person_message(err: PipelineError) -> str:
    """What the person reads about *err* (without the request id)."""
    said = str(err)
    if err.for_person and said.strip():
        return _sentence(said[:MAX_MESSAGE])
    return _sentence(said) if clean(said) else err.info.message


def new_request_id() -> str:
    return secrets.token_hex(6)


def failed_event(err: PipelineError, request_id: str) -> Event:
    """The final ``failed`` event for *err* (see the module docstring)."""
    info = err.info
    fields: dict[str, Any] = {"reason": info.code, "request_id": request_id,
                              "next_action": info.action.value, "attempts": err.attempts}
    if err.retry_after is not None:
        fields["retry_after"] = int(err.retry_after + 0.999)
    fields.update(err.fields)
    message = f"{person_message(err)} Request id: {request_id}."
    return events.failed(message, err.status_code, **fields)


def retry_wait(err: PipelineError, attempt: int, retries: int, delay: float,
               max_retry_after: float) -> float | None:
    """Seconds to wait before try *attempt* + 1, or None: not transient, out of *retries*,
    or the service asks for a longer pause than *max_retry_after*. Backoff: *delay*,
    doubling; a service's ``Retry-After`` instead, when it sent one."""
    if not err.retryable or attempt > retries:
        return None
    if err.retry_after is not None:
        return err.retry_after if err.retry_after <= max_retry_after else None
    return float(delay * 2 ** (attempt - 1))


def log_failure(err: PipelineError, request_id: str, what: str, step: str = "") -> None:
    """One log line with everything the person is not shown."""
    level = logging.ERROR if err.info.kind in (Kind.OPERATOR, Kind.INTERNAL) else logging.WARNING
    log.log(level, "request %s: %s failed%s: reason=%s status=%d attempts=%d: %s", request_id,
            what, f" in step {step}" if step else "", err.reason, err.status_code, err.attempts,
            err.detail or str(err))
