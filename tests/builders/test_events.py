"""repo2docker --json-logs lines -> BinderHub events."""

from __future__ import annotations

from builders.events import BuildEvent, Phase, parse_repo2docker_line


def test_json_line_keeps_phase_and_fields() -> None:
    ev = parse_repo2docker_line('{"phase": "building", "message": "Step 1/3"}\n')
    assert ev.phase is Phase.BUILDING
    assert ev.message == "Step 1/3\n"
    assert ev.to_json() == {"phase": "building", "message": "Step 1/3\n"}


def test_line_without_phase_passes_through_without_phase() -> None:
    ev = parse_repo2docker_line('{"message": "Picked Local content provider.\\n"}')
    assert ev.phase is Phase.NONE
    assert "phase" not in ev.to_json()


def test_non_json_line_is_unknown() -> None:
    ev = parse_repo2docker_line("#5 [2/3] COPY . /home/jovyan\n")
    assert ev.to_json() == {"phase": "unknown", "message": "#5 [2/3] COPY . /home/jovyan\n"}


def test_repo2docker_failure_line_is_not_terminal() -> None:
    ev = parse_repo2docker_line('{"phase": "failure", "message": "boom"}')
    assert not ev.terminal
    assert ev.extra["r2d_failed"] is True


def test_built_event_roundtrip_has_image_name() -> None:
    ev = BuildEvent(Phase.BUILT, "Built image, launching...", image="r/x:t@sha256:1", cached=True)
    data = ev.to_json()
    assert data["imageName"] == "r/x:t@sha256:1"
    assert data["phase"] == "built"
    assert BuildEvent.from_json(data) == ev


def test_buildx_push_lines_become_pushing() -> None:
    ev = parse_repo2docker_line('{"phase": "building", "message": "#8 pushing layer 2b1a 18.0s done\\n"}')
    assert ev.phase is Phase.PUSHING
