"""Fixtures of the failure tests: scenario repositories behind public-looking URLs and
in-process launchers on real builders, registries, hubs and Outposts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from traitlets.config import Config

from launcher.config import LauncherConfig
from tests.launcher.e2e import no_rate_limit

#: where the failure tests' scenarios seem to live (an operator URL rewrite)
PUBLIC = "https://git.example.org/fail/"
SCENARIOS = ("rees-dockerfile", "build-fails", "slow-build")


@pytest.fixture(scope="module")
def fail_rewrites(git_server: Any) -> Iterator[None]:
    """``NFDI_LAUNCHER_URL_REWRITES`` for :data:`SCENARIOS` under :data:`PUBLIC`."""
    old = os.environ.get("NFDI_LAUNCHER_URL_REWRITES")
    mapping = {PUBLIC + name: git_server.url_for(name) for name in SCENARIOS}
    os.environ["NFDI_LAUNCHER_URL_REWRITES"] = json.dumps(mapping)
    yield
    if old is None:
        os.environ.pop("NFDI_LAUNCHER_URL_REWRITES", None)
    else:
        os.environ["NFDI_LAUNCHER_URL_REWRITES"] = old


def spec(git_server: Any, name: str) -> str:
    """The ``git/`` spec of scenario *name* pinned to its head commit."""
    return f"{quote(PUBLIC + name, safe='')}/{git_server.sha(name, 'HEAD')}"


def anonymous_config(cfg: Config | None = None, **kw: Any) -> LauncherConfig:
    """A launcher for anonymous launches; its hub is never reached by these failures."""
    base = no_rate_limit()
    base.merge(cfg or Config())
    settings: dict[str, Any] = dict(anonymous=True, hub_url="http://127.0.0.1:9/",
                                    keepalive_interval=5)
    settings.update(kw)
    return LauncherConfig(config=base, **settings)
