"""Shared settings for end-to-end launches on the lead's real hub (``tests/harness/hub.py``).

Use::

    from tests.launcher.e2e import HUB_EXTRA_CONFIG, IMAGE_PREFIX, launcher_config, make_pipeline
    hub = hub_factory(config=HUB_EXTRA_CONFIG)
    config = launcher_config(hub)
    app = make_app(config, pipeline=make_pipeline(config, tmp_path))

The harness' DockerSpawner takes the image from ``user_options["image"]`` (the launcher
sends it next to Jupyter-JSC's ``custom.customimage``) when it starts with ``local/`` or
``127.0.0.1:``; images here are built into the local engine under :data:`IMAGE_PREFIX`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from traitlets.config import Config

from builders import BuildManager
from fdo.resolve import Resolution
from launcher.config import LauncherConfig
from launcher.handoff.hubapi import HubApiHandOff
from launcher.pipeline import Pipeline

#: anonymous launches hand the browser ``<server>?token=...``; JupyterHub >= 5 ignores URL
#: tokens unless the single-user server allows them (BinderHub's spawner mixin does the same)
HUB_EXTRA_CONFIG = "c.Spawner.environment = {'JUPYTERHUB_ALLOW_TOKEN_IN_URL': '1'}"
IMAGE_PREFIX = "local/nfdi-launcher-test/"


def no_rate_limit() -> Config:
    """A config tree for test launchers: no rate limit, no background user creation."""
    cfg = Config()
    cfg.Admission.rate_limit = 0
    cfg.HubApiHandOff.anonymous_user_pool = 0
    return cfg


def launcher_config(hub: Any, handoff: dict[str, Any] | None = None, **kw: Any) -> LauncherConfig:
    """LauncherConfig for *hub* (service token), no rate limit; *handoff*
    settings go to ``c.HubApiHandOff``."""
    cfg = no_rate_limit()
    cfg.HubClient.api_url = hub.api_url
    cfg.HubClient.api_token = hub.token
    cfg.HubApiHandOff.launch_timeout = 120
    cfg.HubApiHandOff.update(handoff or {})
    base: dict[str, Any] = dict(hub_url=hub.url, keepalive_interval=5)
    base.update(kw)
    return LauncherConfig(config=cfg, **base)


def make_pipeline(config: LauncherConfig, state_dir: Path | None = None,
                  builder: BuildManager | None = None) -> Pipeline:
    """Real resolver (reads NFDI_LAUNCHER_URL_REWRITES now), real builder, hub-api hand-off."""
    if builder is None:
        kwargs = {"state_dir": str(state_dir)} if state_dir else {}
        builder = BuildManager(image_prefix=IMAGE_PREFIX, **kwargs)
    return Pipeline(config, Resolution().resolve, builder, HubApiHandOff(config))
