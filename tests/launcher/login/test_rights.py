"""The hub-side start checks (pure) and the Outposts' per-user answers (a real Outpost)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from launcher.login.rights import StartRefused, check_start, outpost_flavors
from launcher.systems import System
from tests.harness.hub import free_port
from tests.outpost.conftest import outpost_factory
from tests.outpost.outpost_proc import OutpostProc

__all__ = ["outpost_factory"]  # the Outpost tests' fixture, used here too

HPC = System("hpc", "http://127.0.0.1:9/services", "h", "p", needs_project=True)
CLOUD = System("cloud", "http://127.0.0.1:9/services", "h", "p")
STATE: dict[str, Any] = {
    "name": "bob", "groups": ["g"], "confirmed_at": 0.0,
    "outpost_flavors": {"cloud": {"small": {}, "large": {}}, "hpc": {"batch": {}},
                        "gpu": False},
    "resources": [{"system": "hpc", "project": "p1", "account": "bob"},
                  {"system": "other", "project": "p2", "account": "bob"}],
}


def ok(state: dict[str, Any] | None, options: dict[str, Any], system: System = CLOUD) -> None:
    check_start(state, options, system, max_age=60, now=1000.0, access_help="Ask us.")


def test_allowed_starts() -> None:
    state = {**STATE, "confirmed_at": 990.0}
    ok(state, {"flavor": "small"})
    ok(state, {"flavor": "batch", "hpc": {"project": "p1", "account": "bob"}}, HPC)
    ok(None, {"flavor": "anything"})                      # no per-user rights: the Outpost
    ok({"name": "x"}, {"flavor": "anything"})             # decides alone (dummy login)


@pytest.mark.parametrize("options, message", [
    ({"flavor": "batch"}, "Choose one of your projects on 'hpc': p1 (account bob)"),
    ({"flavor": "batch", "hpc": {"project": "p2", "account": "bob"}}, "Choose one of"),
    ({"flavor": "batch", "hpc": {"project": "p1", "account": "alice"}}, "Choose one of"),
    ({"flavor": "batch", "hpc": "p1"}, "Choose one of"),
])
def test_hpc_starts_name_a_project_held(options: dict[str, Any], message: str) -> None:
    with pytest.raises(StartRefused) as err:
        ok({**STATE, "confirmed_at": 990.0}, options, HPC)
    assert message in str(err.value)


def test_flavors_are_the_outposts_to_decide() -> None:
    ok({**STATE, "confirmed_at": 990.0}, {"flavor": "not-mine"})


def test_no_project_held() -> None:
    state = {**STATE, "confirmed_at": 990.0, "resources": []}
    with pytest.raises(StartRefused, match="holds no project on 'hpc'. Ask us."):
        ok(state, {"flavor": "batch"}, HPC)


def test_rights_not_confirmed_recently_mean_no_start() -> None:
    with pytest.raises(StartRefused, match="could not be confirmed"):
        ok({**STATE, "confirmed_at": 900.0}, {"flavor": "small"})
    with pytest.raises(StartRefused, match="could not be confirmed"):
        ok({**STATE, "confirmed_at": 0}, {"flavor": "small"})


FLAVORS = {
    "flavors": {"small": {"weight": 1}, "large": {"weight": 5}},
    "users": {
        "big": {"authentication": {"groups": ["big"]}, "flavors": ["large", "small"]},
        "others": {"authentication": {"groups": ["big"]}, "negate_authentication": True,
                   "flavors": ["small"]},
        "banned": {"authentication": {"name": "mallory"}, "forbidden": True, "weight": 9},
    },
}


async def test_outpost_answers_per_user(outpost_factory: Callable[..., OutpostProc]) -> None:
    outpost = outpost_factory(flavors=FLAVORS, hubs=("hub-a",))
    systems = {"one": System("one", outpost.url + "/services", "hub-a",
                             outpost.credentials["hub-a"]),
               "wrong-password": System("wrong-password", outpost.url + "/services", "hub-a",
                                        "nope"),
               "down": System("down", f"http://127.0.0.1:{free_port()}/services", "x", "y")}
    started = time.monotonic()
    big = await outpost_flavors(systems, "bob", ["big"], timeout=3)
    assert sorted(big["one"]) == ["large", "small"]
    assert big["wrong-password"] is False and big["down"] is False
    assert time.monotonic() - started < 10
    small = await outpost_flavors(systems, "alice", ["x"], timeout=3)
    assert sorted(small["one"]) == ["small"]
    assert (await outpost_flavors(systems, "mallory", ["big"], timeout=3))["one"] is False
