"""The pipeline's per-process memory of pinned targets and known images stays bounded."""

from __future__ import annotations

from traitlets.config import Config

from fdo.target import LaunchTarget
from launcher.config import LauncherConfig
from launcher.handoff.starturl import StartUrlHandOff
from launcher.pipeline import ImageMemo, LaunchContext, LaunchRequest, Pipeline

SHA = "a" * 40


def pinned(n: int) -> LaunchTarget:
    return LaunchTarget(identifier=f"gh/o/r{n}/{SHA}", kind="git", provider="gh",
                        source=f"https://github.com/o/r{n}", ref=SHA,
                        launch_path=f"v2/gh/o/r{n}/{SHA}")


async def test_pinned_targets_are_remembered_up_to_the_limit() -> None:
    calls: list[str] = []

    def resolver(identifier: str) -> LaunchTarget:
        calls.append(identifier)
        return pinned(int(identifier.split("/")[2][1:]))

    cfg = Config()
    cfg.Pipeline.memo_max_entries = 2
    launcher = LauncherConfig(config=cfg)
    pipeline = Pipeline(launcher, resolver, None, StartUrlHandOff(launcher))

    async def resolve(n: int) -> None:
        ctx = LaunchContext(LaunchRequest("gh", f"o/r{n}/{SHA}"))
        async for _ev in pipeline.resolve(ctx):
            pass
        assert ctx.target == pinned(n)

    for n in (1, 2, 1):
        await resolve(n)
    assert len(calls) == 2  # the repeated, pinned identifier came from memory
    await resolve(3)  # a third one pushes out the least recently used (r2)
    await resolve(2)
    assert calls[-2:] == [f"gh/o/r3/{SHA}", f"gh/o/r2/{SHA}"]


def test_image_memo_drops_the_least_recently_used() -> None:
    memo = ImageMemo(max_entries=2)
    memo.confirm("a", "img-a")
    memo.confirm("b", "img-b")
    assert memo.get("a") is not None  # a is now the most recent
    memo.confirm("c", "img-c")
    assert len(memo) == 2
    assert memo.get("b") is None
    assert memo.get("a") is not None
    memo.forget("a")
    assert memo.get("a") is None
