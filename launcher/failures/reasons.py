"""The stable ``reason`` codes of failed launches: whose failure, HTTP status, next action.

One table (:data:`REASONS`) serves the code, the documentation (``docs/launcher.md``) and
the OpenAPI document; a test checks that all three name the same codes. A reason's
``message`` is what the person reads when nothing more specific and safe is known: one
sentence saying what happened and one saying what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Whose failure it is, which decides the status code and whether to try again."""

    #: the person can fix it (the identifier, a limit, a choice): 4xx, never retried
    USER = "user"
    #: a service is down or misconfigured: 503, never retried (it cannot help)
    OPERATOR = "operator"
    #: may pass by itself (timeouts, 5xx, 429 with Retry-After): retried with backoff
    TRANSIENT = "transient"
    #: a defect of the launcher: 500
    INTERNAL = "internal"


class Action(StrEnum):
    """The obvious next step the pages offer as a button."""

    MY_LAUNCHES = "my_launches"  # stop a running server
    CHOOSE_FLAVOR = "choose_flavor"  # the same target on another system or flavor
    TRY_AGAIN = "try_again"  # the same launch once more
    NEW_LAUNCH = "new_launch"  # another identifier or version
    LOG_IN = "log_in"


@dataclass(frozen=True)
class Reason:
    code: str
    kind: Kind
    status: int
    action: Action
    #: the default message for the person
    message: str
    #: where it comes from (documentation)
    when: str

    @property
    def retryable(self) -> bool:
        return self.kind is Kind.TRANSIENT


_U, _O, _T, _I = Kind.USER, Kind.OPERATOR, Kind.TRANSIENT, Kind.INTERNAL
_MINE, _FLAVOR, _AGAIN, _NEW, _LOGIN = (Action.MY_LAUNCHES, Action.CHOOSE_FLAVOR, Action.TRY_AGAIN,
                                        Action.NEW_LAUNCH, Action.LOG_IN)
_TELL = "If it keeps happening, tell the operators the request id."

_TABLE = [
    # -- the person's to fix --------------------------------------------------------------
    Reason("identifier_invalid", _U, 400, _NEW,
           "This is not an identifier the launcher understands. Check it for typos, or paste a "
           "DOI, Handle, SWHID or Git repository URL.",
           "resolve: the identifier or Binder spec is malformed"),
    Reason("identifier_unsupported", _U, 422, _NEW,
           "This kind of identifier cannot be launched. Paste the DOI or repository of the "
           "software instead.", "resolve: a known kind that cannot be launched"),
    Reason("not_found", _U, 404, _NEW,
           "Nothing was found under this identifier: the record, repository or version does "
           "not exist. Check the identifier.", "resolve, fetch: the record or ref does not exist"),
    Reason("ambiguous", _U, 409, _NEW,
           "This identifier names several versions. Pick one of the choices.",
           "resolve: several candidates (the event carries `choices`)"),
    Reason("resolve_refused", _U, 403, _NEW,
           "The launcher may not fetch from this address: it is local, private or not a safe "
           "link. Use a public repository, DOI or archive.",
           "resolve, fetch: internal network, unsafe transport, option injection"),
    Reason("fetch_failed", _U, 422, _NEW,
           "The files of this record could not be used: they are damaged, unsafe or too large. "
           "Try another version of the record.", "fetch: checksum, unsafe archive, size limit"),
    Reason("build_failed", _U, 422, _NEW,
           "The repository's environment could not be built; the build log shows why. Fix the "
           "repository, or launch another version.", "build: repo2docker failed (e.g. a RUN step)"),
    Reason("build_timeout", _U, 422, _NEW,
           "Building this repository took longer than this launcher allows. Make its "
           "environment smaller, or launch another version.", "build: the build time limit"),
    Reason("server_failed", _U, 422, _NEW,
           "Your server stopped right after it started; the image may not run a Jupyter server. "
           "Check the repository, or launch another version.",
           "spawn: the server exited before it answered"),
    Reason("flavor_limit", _U, 409, _MINE,
           "You already run as many servers of this flavor as one person may. Stop one under "
           "My launches, or pick another flavor.", "spawn: the flavor's per-user limit (Outpost)"),
    Reason("flavor_full", _U, 409, _FLAVOR,
           "All servers of this flavor are in use. Pick another flavor, or try again later.",
           "spawn: the flavor's overall limit (Outpost)"),
    Reason("flavor_forbidden", _U, 403, _FLAVOR,
           "Your account may not use this flavor on this system. Pick another flavor.",
           "admission, spawn: the user's rights (Outpost users: rules)"),
    Reason("flavor_unknown", _U, 400, _FLAVOR,
           "This system or flavor does not exist. Pick one from the list.",
           "admission, spawn: unknown system or flavor"),
    Reason("storage_path", _U, 400, _NEW,
           "The storage folder is not usable: it must be an absolute path below /home/jovyan. "
           "Fix localstoragepath in the link.", "admission, spawn: bad localstoragepath"),
    Reason("server_limit", _U, 409, _MINE,
           "You already have as many servers as the hub allows. Stop one under My launches, "
           "then launch again.", "spawn: JupyterHub's named-server limit"),
    Reason("quota_exceeded", _U, 429, _AGAIN,
           "Too many of your launches are in progress. Wait for one to finish, then try again.",
           "admission: launches in progress per user, per target or in total"),
    Reason("rate_limited", _U, 429, _AGAIN,
           "You started too many launches in a short time. Wait a little, then try again.",
           "admission: the rate limit (`Retry-After` in `retry_after`)"),
    Reason("launch_not_allowed", _U, 403, _NEW,
           "This may not be launched here. Ask the operators if you think it should be.",
           "admission: banned or not allowed spec"),
    Reason("login_required", _U, 403, _LOGIN, "Log in to launch.",
           "admission, hand-off: anonymous launches are disabled"),
    Reason("login_expired", _U, 401, _LOGIN,
           "Your login could not be confirmed just now. Log in again, then retry.",
           "spawn: the hub could not re-confirm the user's rights"),
    Reason("start_refused", _U, 403, _NEW,
           "The hub refused to start this server for your account. Check your choices, or ask "
           "the operators.", "spawn: the hub's check of the user's rights (e.g. HPC project)"),
    Reason("bad_request", _U, 400, _NEW, "The launch request is not valid. Check the link.",
           "any step: another malformed request"),
    Reason("access_denied", _U, 403, _NEW, "This launch is not allowed for you.",
           "any step: another refusal (e.g. an invalid build token)"),
    Reason("conflict", _U, 409, _AGAIN,
           "This launch conflicts with one in progress. Wait a moment, then try again.",
           "any step: another conflict"),
    # -- the operator's -----------------------------------------------------------------------
    Reason("engine_unavailable", _O, 503, _AGAIN,
           f"The build service is not available right now. Try again later. {_TELL}",
           "build: the container engine (Docker, Kubernetes) cannot be reached"),
    Reason("registry_unavailable", _O, 503, _AGAIN,
           f"The image registry is not available right now. Try again later. {_TELL}",
           "build, push: the registry cannot be reached or refuses the launcher"),
    Reason("hub_unavailable", _O, 503, _AGAIN,
           f"JupyterHub is not available right now. Try again later. {_TELL}",
           "hand-off: JupyterHub cannot be reached"),
    Reason("outpost_unavailable", _O, 503, _FLAVOR,
           f"The computing system is not available right now. Try again later, or pick another "
           f"system. {_TELL}", "spawn: the system's Outpost cannot be reached"),
    Reason("spawn_failed", _O, 503, _AGAIN,
           f"The computing system could not start your server. Try again later, or pick another "
           f"system. {_TELL}", "spawn: the Outpost's backend failed"),
    Reason("misconfigured", _O, 503, _AGAIN,
           "The launcher is not set up correctly for this launch. Please tell the operators the "
           "request id.", "any step: missing or wrong settings, credentials or scopes"),
    Reason("service_unavailable", _O, 503, _AGAIN,
           f"A service this launch needs is not available right now. Try again later. {_TELL}",
           "any step: another service outage"),
    # -- passing (retried first) ---------------------------------------------------------------
    Reason("upstream_unavailable", _T, 502, _AGAIN,
           "The service that holds this record or repository did not answer. Try again in a "
           "few minutes.", "resolve, fetch: the provider failed after retries"),
    Reason("hub_busy", _T, 503, _AGAIN,
           "JupyterHub is busy right now. Try again in a minute.",
           "hand-off: JupyterHub answered 429 or 5xx, or timed out"),
    Reason("system_busy", _T, 503, _AGAIN,
           "The computing system is busy right now. Try again in a minute.",
           "spawn: the Outpost answered 429 or 5xx"),
    Reason("spawn_timeout", _T, 504, _AGAIN,
           f"Your server did not start in time. Try again; or pick a smaller flavor. {_TELL}",
           "spawn: the start took longer than the hub or Outpost allows"),
    Reason("launcher_restarted", _T, 503, _AGAIN,
           "The launcher restarted while this was in progress. Start it again.",
           "API jobs: the launcher stopped or restarted"),
    # -- defects ------------------------------------------------------------------------------
    Reason("internal_error", _I, 500, _AGAIN,
           f"Something went wrong inside the launcher. Try again. {_TELL}",
           "any step: a defect (the log has the traceback)"),
]

REASONS: dict[str, Reason] = {r.code: r for r in _TABLE}

#: the reason of a failure that names only an HTTP status (code written before reasons)
BY_STATUS = {400: "bad_request", 401: "login_expired", 403: "access_denied", 404: "not_found",
             409: "conflict", 413: "bad_request", 414: "bad_request", 422: "bad_request",
             429: "rate_limited", 502: "upstream_unavailable", 503: "service_unavailable",
             504: "spawn_timeout"}


def reason_for_status(status: int) -> str:
    return BY_STATUS.get(status, "bad_request" if 400 <= status < 500 else "internal_error")


def markdown_table() -> str:
    """The reasons as the Markdown table of docs/launcher.md."""
    rows = ["| reason | status | whose | next action | when |", "|---|---|---|---|---|"]
    rows += [f"| `{r.code}` | {r.status} | {r.kind.value} | {r.action.value} | {r.when} |"
             for r in _TABLE]
    return "\n".join(rows)
