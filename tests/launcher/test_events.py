"""Event encoding and the BinderHub grammar, checked against captured BinderHub streams."""

import json
from pathlib import Path

import pytest

from launcher import events
from tests import fixtures

STREAMS = fixtures.STREAMS
CAPTURED = sorted(STREAMS.glob("*.eventsource"))


def _phases(name: str) -> list[str | None]:
    parsed, _ = events.parse_stream((STREAMS / f"{name}.eventsource").read_text())
    return [ev.get("phase") for ev in parsed]


def test_captured_streams_cover_a_cold_build_and_a_cache_hit() -> None:
    """The grammar test below sees both paths of BinderHub's stream, not just one."""
    cold = _phases("build-and-launch")
    assert cold[0] == "waiting"
    assert {"fetching", "building", None} <= set(cold)  # repo2docker's log, with and without phase
    cached = _phases("cached-launch")
    assert cached[0] == "built"
    assert not {"fetching", "building"} & set(cached)  # a cache hit has no build log


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.name)
def test_captured_binderhub_streams_follow_the_grammar(path: Path) -> None:
    parsed, _comments = events.parse_stream(path.read_text())
    assert events.validate_stream(parsed) == []
    assert parsed[-1]["phase"] == "ready"


def test_encoding_is_one_data_line_with_escaped_html() -> None:
    spec = '<script>alert("x")</script>&'
    raw = events.encode(events.failed(f"Sorry, {spec} is not allowed", 403))
    assert raw.startswith(b"data: ")
    assert raw.endswith(b"\n\n")
    assert raw.count(b"\n") == 2
    payload = raw.split(b"data: ", 1)[1]
    assert (b"<" in payload, b">" in payload, b"&" in payload) == (False, False, False)
    data = json.loads(raw[6:])
    assert data == {"phase": "failed", "message": f"Sorry, {spec} is not allowed\n", "status_code": 403}


def test_constructors_end_messages_in_newline() -> None:
    for ev in (events.waiting(), events.built("img:1", True), events.launching("x"), events.failed("y")):
        assert ev["message"].endswith("\n")
    assert events.built("img:1", True)["message"] == "Found built image, launching...\n"
    assert events.built("img:1", False)["message"] == "Built image, launching...\n"


def _cached() -> list[dict]:
    parsed, _ = events.parse_stream((STREAMS / "cached-launch.eventsource").read_text())
    return parsed


def test_validator_rejects_out_of_order_and_missing_fields() -> None:
    good = _cached()
    assert events.validate_stream(good) == []
    swapped = [good[1], good[0], *good[2:]]
    assert any("out of order" in p for p in events.validate_stream(swapped))
    no_token = [*good[:-1], {k: v for k, v in good[-1].items() if k != "token"}]
    assert any("lacks" in p for p in events.validate_stream(no_token))
    unterminated = good[:-1]
    assert any("does not end" in p for p in events.validate_stream(unterminated))
    after_failed = [events.failed("x"), *good]
    assert any("last event" in p for p in events.validate_stream(after_failed))
    bad_msg = [dict(good[0], message="no newline"), *good[1:]]
    assert any("newline" in p for p in events.validate_stream(bad_msg))


def test_build_only_ready() -> None:
    stream = [events.waiting(), events.built("img:1", True),
              events.event("ready", "Done! Found built image", imageName="img:1")]
    assert events.validate_stream(stream, build_only=True) == []
    assert events.validate_stream(stream) != []


def test_parse_stream_counts_keepalives_and_rejects_garbage() -> None:
    parsed, comments = events.parse_stream(":keepalive\n\ndata: {\"phase\": \"failed\", \"message\": \"x\\n\"}\n\n")
    assert comments == 1
    assert parsed[0]["phase"] == "failed"
    with pytest.raises(ValueError):
        events.parse_stream("hello\n")
