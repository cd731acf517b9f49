"""The failure reasons: one table for code, docs and OpenAPI; the pure classifiers on the
texts the real services send (captured from JupyterHub 5 + OutpostSpawner 2.2.13 + our
Outpost); the retry policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builders.failures import FAILED_STATUS
from fdo import errors as fdo_errors
from launcher.config import LauncherConfig
from launcher.failures import REASONS, Kind, PipelineError, clean, fail, failed_event
from launcher.failures.classify import (
    from_hub_answer,
    from_resolve_error,
    from_spawn_failure,
    hub_unreachable,
    progress_text,
)
from launcher.failures.reasons import markdown_table
from launcher.openapi import OPENAPI
from launcher.pipeline import Pipeline
from tests.launcher.failures.checks import assert_person_message

DOCS = Path(__file__).resolve().parents[3] / "docs" / "launcher.md"
OUTPOST = "http://127.0.0.1:59063/services"


def outpost_said(body: str, code: str = ": 419") -> str:
    """The OutpostSpawner's progress message when its start request failed."""
    return (f"Start failed: HTTP 419: {body} (start request to {OUTPOST} failed{code}). "
            "Deleting related resources...")


FINAL = {"progress": 100, "failed": True,
         "message": f"Spawn failed: HTTP 419: error (start request to {OUTPOST} failed: 419)"}


def test_docs_and_openapi_name_every_reason_with_its_status() -> None:
    assert markdown_table() in DOCS.read_text(encoding="utf-8")
    schemas = OPENAPI["components"]["schemas"]
    assert schemas["FailureReason"]["enum"] == list(REASONS)
    assert {"reason", "request_id", "next_action"} <= set(schemas["Error"]["properties"])
    for reason in REASONS.values():
        expected = {Kind.USER: range(400, 500), Kind.OPERATOR: [503],
                    Kind.TRANSIENT: [502, 503, 504], Kind.INTERNAL: [500]}[reason.kind]
        assert reason.status in expected, reason
        assert_person_message(reason.message)


def test_the_builders_copy_of_the_statuses_agrees_with_the_reasons() -> None:
    """builders/ may not import the launcher, so it keeps the status of each reason it
    reports; the codes and statuses must be the launcher's."""
    assert {code: REASONS[code].status for code in FAILED_STATUS} == FAILED_STATUS


@pytest.mark.parametrize("body, reason, shown", [
    ("outpost.flavors.FlavorUserLimit: You already run 1 server on 'Large' (the limit). Stop "
     "one, or pick another flavor.", "flavor_limit", "You already run 1 server on 'Large'"),
    ("outpost.flavors.FlavorFull: All 1 server on 'Large' are in use. Try again later, or pick "
     "another flavor.", "flavor_full", "All 1 server on 'Large' are in use"),
    ("outpost.flavors.FlavorNotAllowed: Your account may not use the flavor 'medium' on this "
     "system. You may use: Small (small).", "flavor_forbidden", "may not use the flavor"),
    ("outpost.flavors.UserForbidden: Your account may not start servers on this system.",
     "flavor_forbidden", "may not start servers"),
    ("outpost.flavors.FlavorUnknown: The flavor 'huge' does not exist on this system. "
     "Available: Small (small).", "flavor_unknown", "does not exist"),
    ("outpost.mapping.StoragePathError: The storage folder must be below /home/jovyan/ (got "
     "'/etc').", "storage_path", "must be below /home/jovyan/"),
    # not the person's to fix: the reason's own words, the Outpost's in the log
    ("outpost.mapping.ImageNotAllowed: Image 'quay.io/x:1' is not from an allowed registry "
     "(allowed: local/)", "misconfigured", "not set up correctly"),
    ("outpost.readiness.NotReady: the server exited with status 1 before it answered; its last "
     "log lines:\nTraceback ...", "server_failed", "stopped right after it started"),
    # an Outpost we do not know: its words if they are fit to show
    ("builtins.Exception: Closed for maintenance until noon, please come back later.",
     "spawn_failed", "Closed for maintenance until noon"),
    ("docker.errors.ImageNotFound: 404 Client Error for http+docker://localhost/v1.45/images",
     "spawn_failed", "could not start your server"),
])
def test_outpost_refusals_through_the_hub(body: str, reason: str, shown: str) -> None:
    err = from_spawn_failure(["Server requested", outpost_said(body)], FINAL)
    assert (err.reason, err.status_code) == (reason, REASONS[reason].status)
    event = failed_event(err, "r1")
    assert shown in event["message"]
    assert_person_message(event["message"])
    assert OUTPOST in err.detail  # the operator learns where
    assert "outpost" not in progress_text(outpost_said(body)).lower() or reason == "spawn_failed"
    assert OUTPOST not in progress_text(outpost_said(body))


def test_outpost_down_or_slow_and_the_hubs_own_failures() -> None:
    down = from_spawn_failure([outpost_said("[Errno 111] Connection refused", "")], FINAL)
    assert down.reason == "outpost_unavailable" and not down.retryable
    slow = from_spawn_failure([outpost_said("HTTP 599: Timeout during request", "")], FINAL)
    assert slow.reason == "spawn_timeout" and slow.retryable
    timeout = from_spawn_failure([], {"failed": True, "message": "Spawn failed: Timeout"})
    assert timeout.reason == "spawn_timeout"
    refused = from_spawn_failure([], {
        "failed": True, "message": "Spawn failed: Choose one of your projects on 'hpc'.",
        "html_message": '<p data-nfdi-reason="start_refused">Choose one ...</p>'})
    assert refused.reason == "start_refused"
    assert failed_event(refused, "x")["message"].startswith("Choose one of your projects on 'hpc'.")
    other = from_spawn_failure([], {"failed": True, "message": "Spawn failed: KeyError('x')"})
    assert other.reason == "spawn_failed"
    assert_person_message(failed_event(other, "x")["message"])


@pytest.mark.parametrize("code, said, headers, reason", [
    (429, "Too many users trying to log in right now. Try again in 10 seconds.", "7", "hub_busy"),
    (502, "Bad Gateway", None, "hub_busy"),
    (403, "Action is not authorized with current scopes; requires any of [admin:servers]", None,
     "misconfigured"),
    (400, "User alice already has the maximum of 2 named servers.  One must be deleted before "
     "a new server can be created", None, "server_limit"),
    (400, "alice/srv is pending stop", None, "hub_busy"),
])
def test_hub_answers(code: int, said: str, headers: str | None, reason: str) -> None:
    from launcher.failures.classify import retry_after_seconds

    err = from_hub_answer(code, said, "start server alice/srv", retry_after_seconds(headers))
    assert err.reason == reason
    assert err.retry_after == (7.0 if headers else None)
    assert_person_message(failed_event(err, "x")["message"])


def test_hub_down_is_not_retried_a_timeout_is() -> None:
    assert hub_unreachable(ConnectionRefusedError(111, "Connection refused"), "u").reason == \
        "hub_unavailable"
    assert hub_unreachable("Timeout while connecting", "u").retryable


@pytest.mark.parametrize("exc, reason", [
    (fdo_errors.MalformedIdentifier("spec is too short; write gh/<owner>/<repo>/<ref>"),
     "identifier_invalid"),
    (fdo_errors.RefusedTarget("refused 'https://127.0.0.1:1/x': 127.0.0.1 is loopback"),
     "resolve_refused"),
    (fdo_errors.NotFound("commit abc not found in https://example.org/r"), "not_found"),
    (fdo_errors.UpstreamError("api.zenodo.org answered 503"), "upstream_unavailable"),
])
def test_resolve_errors(exc: fdo_errors.ResolveError, reason: str) -> None:
    err = from_resolve_error(exc)
    assert err.reason == reason
    message = failed_event(err, "x")["message"]
    assert_person_message(message)
    # the resolver's own words when they name no address and the person can act on them
    assert (str(exc) in message) == (clean(str(exc)) and REASONS[reason].kind is Kind.USER)


def test_person_messages_hide_internals() -> None:
    for text in ("JupyterHub at http://127.0.0.1:8081/hub/api failed",
                 "Error while fetching server API version: ('Connection aborted.', "
                 "FileNotFoundError(2, 'No such file or directory'))",
                 "outpost.flavors.FlavorError: x", "connect to localhost:5000", "[Errno 111] x"):
        assert not clean(text), text
        err = PipelineError(503, text, reason="engine_unavailable")
        assert text not in failed_event(err, "x")["message"]
    assert clean("URL-encode an https:// repository URL after git/")


def _pipeline(**traits: Any) -> Pipeline:
    from launcher.handoff.starturl import StartUrlHandOff

    config = LauncherConfig()
    pipeline = Pipeline(config, None, None, StartUrlHandOff(config))
    for key, value in traits.items():
        setattr(pipeline, key, value)
    return pipeline


def test_only_transient_failures_are_tried_again_with_backoff() -> None:
    pipeline = _pipeline(launch_retries=2, retry_delay=1.0, max_retry_after=30.0)
    for reason in ("flavor_limit", "hub_unavailable", "outpost_unavailable", "build_failed"):
        assert pipeline.retry_wait(fail(reason), 1) is None, reason
    assert pipeline.retry_wait(fail("hub_busy"), 1) == 1.0
    assert pipeline.retry_wait(fail("spawn_timeout"), 2) == 2.0
    assert pipeline.retry_wait(fail("spawn_timeout"), 3) is None  # out of attempts
    assert pipeline.retry_wait(fail("hub_busy", retry_after=7), 1) == 7
    assert pipeline.retry_wait(fail("hub_busy", retry_after=60), 1) is None  # too long to wait
