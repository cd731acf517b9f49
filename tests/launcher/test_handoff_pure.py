"""Pure parts of the hand-off: names, user_options, start URL, ready fields."""

from urllib.parse import parse_qs, urlparse

import pytest
from jupyterhub.slugs import is_valid_safe_slug

from fdo.target import Hop, LaunchTarget
from launcher.handoff.base import (
    ready_fields,
    server_name,
    temp_user_name,
    user_options,
)
from launcher.handoff.starturl import start_url
from launcher.pipeline import LaunchContext, LaunchRequest

SHA = "f4cb7c45ec58db92d644e5e32b4b06698bfd62ae"
TARGET = LaunchTarget(
    identifier="https://example.org/demo.git", kind="git", provider="git",
    source="http://127.0.0.1:18090/demo.git", ref=SHA,
    launch_path=f"v2/git/http%3A%2F%2F127.0.0.1%3A18090%2Fdemo.git/{SHA}",
    chain=(Hop("https://example.org/demo.git", SHA, "git ls-remote"),),
)


def test_server_name_is_deterministic_and_distinguishes_resources() -> None:
    a = server_name(TARGET, "local", "default")
    assert a == server_name(TARGET, "local", "default")
    assert a != server_name(TARGET, "local", "large")
    assert a != server_name(TARGET, "other", "default")
    assert a != server_name(TARGET.with_(ref="0" * 40), "local", "default")
    assert a.startswith("demo-")
    assert is_valid_safe_slug(a)


@pytest.mark.parametrize("source", [
    "http://x/<script>/../..%2F/" + "A" * 300, "https://zenodo.org/records/990001",
    "https://example.org/--weird--name--.git", "https://example.org/", "https://x/ÄÖÜ-ß", "https://x/9-a-",
])
def test_server_name_is_a_jupyterhub_safe_slug(source: str) -> None:
    name = server_name(TARGET.with_(source=source), "s", "f")
    assert is_valid_safe_slug(name), name


def test_temp_user_name() -> None:
    assert temp_user_name(TARGET, "abcd1234") == "demo-abcd1234"
    assert temp_user_name(TARGET) != temp_user_name(TARGET)


def test_user_options_jupyter_jsc_structure() -> None:
    image = "127.0.0.1:5000/nfdi-launcher/x:tag@sha256:" + "a" * 64
    opts = user_options(TARGET, image, "JSC-Cloud", "m1")
    assert opts["service"] == "jupyterlab"
    assert opts["option"] == "custom"
    assert opts["profile"] == "custom"
    assert opts["system"] == "JSC-Cloud"
    assert opts["flavor"] == "m1"
    pullable = image.split("@")[0]
    assert opts["custom"] == {"customimage": pullable}
    assert opts["image"] == pullable
    assert opts["repo2docker"]["image"] == image  # the digest-pinned reference is kept
    assert opts["storage"] == {"localstoragepath": "/home/jovyan/work"}
    r2d = opts["repo2docker"]
    assert r2d["repourl"] == TARGET.source
    assert r2d["reporef"] == SHA
    assert r2d["repotype"] == "git"
    assert r2d["chain"] == [{"from": "https://example.org/demo.git", "to": SHA, "via": "git ls-remote"}]
    assert opts["name"].startswith("demo")


def test_start_url() -> None:
    url = start_url("https://hub.nfdi-jupyter.de", "reg/img:1", "JSC-Cloud", "m1", "demo@f4cb", "/home/jovyan/work")
    parsed = urlparse(url)
    assert parsed.path == "/hub/api/start"
    q = parse_qs(parsed.query)
    assert q == {"service": ["jupyterlab"], "option": ["custom"], "custom.customimage": ["reg/img:1"],
                 "system": ["JSC-Cloud"], "flavor": ["m1"], "name": ["demo@f4cb"],
                 "storage.localstoragepath": ["/home/jovyan/work"]}


def test_ready_fields_have_binderhub_keys() -> None:
    req = LaunchRequest("git", TARGET.launch_path.split("/", 2)[2], client_ip="127.0.0.1",
                        launch_host="http://127.0.0.1:8585/", system="local", flavor="default")
    ctx = LaunchContext(req, target=TARGET, image="img:1")
    ready = ready_fields(ctx, "http://hub/user/u/s/", "tok")
    assert ready["binder_request"] == TARGET.launch_path
    assert ready["binder_persistent_request"] == TARGET.launch_path
    assert ready["message"] == "server running at http://hub/user/u/s/\n"
    assert ready["target"]["ref"] == SHA
    assert ready["system"] == "local"
    for key in ("url", "token", "image", "repo_url", "binder_ref_url", "binder_launch_host",
                "binder_request", "binder_persistent_request", "binder_client_ip"):
        assert key in ready


def test_launch_event_v6_only_for_successful_launches() -> None:
    from launcher.eventlog import launch_event

    req = LaunchRequest("gh", "o/r/HEAD", build_token=True, origin="launch.example.org",
                        request_origin="https://journal.example.org")
    ctx = LaunchContext(req, target=TARGET, image="img:1")
    assert launch_event(ctx) is None  # not ready
    ctx.timings["ready"] = 1.0
    event = launch_event(ctx)
    assert event is not None
    assert {k: event[k] for k in ("schema", "version", "provider", "spec", "ref", "status", "build_token",
                                  "origin", "request_origin")} == {
        "schema": "binderhub.jupyter.org/launch", "version": 6, "provider": "GitHub", "spec": "o/r/HEAD",
        "ref": SHA, "status": "success", "build_token": True, "origin": "launch.example.org",
        "request_origin": "https://journal.example.org"}
    ctx.request.build_only = True
    assert launch_event(ctx) is None


def test_spawners_get_a_pullable_reference_and_provenance_keeps_the_digest() -> None:
    from launcher.handoff.base import spawn_reference

    pinned = "127.0.0.1:5000/nfdi/content:3f2a9c@sha256:" + "a" * 64
    assert spawn_reference(pinned) == "127.0.0.1:5000/nfdi/content:3f2a9c"
    # no tag to fall back on, or nothing pinned: unchanged
    assert spawn_reference("127.0.0.1:5000/x@sha256:" + "b" * 64).endswith("b" * 64)
    assert spawn_reference("local/jupyter-base:6.1.1") == "local/jupyter-base:6.1.1"
