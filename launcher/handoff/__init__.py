"""Hand-off strategies: how a built image reaches a running server on the hub.

- ``hub-api`` (:mod:`launcher.handoff.hubapi`): JupyterHub REST API, named servers,
  Jupyter-JSC user_options, relays the hub's spawn progress.
- ``start-url`` (:mod:`launcher.handoff.starturl`): a Jupyter-JSC ``/hub/api/start?...``
  URL the browser is sent to.
"""

from __future__ import annotations

from launcher.config import LauncherConfig
from launcher.handoff.base import HandOff


def make_handoff(config: LauncherConfig) -> HandOff:
    """The strategy of ``LauncherConfig.handoff_class``, configured from *config*'s tree."""
    strategy: HandOff = config.handoff_class(config)
    return strategy


__all__ = ["HandOff", "make_handoff"]
