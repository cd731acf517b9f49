"""``/versions``: BinderHub's shape (federation redirectors compare it); CORS ``*``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from launcher import __version__
from launcher.handlers.base import BaseHandler


def _r2d_version() -> str:
    try:
        return version("jupyter-repo2docker")
    except PackageNotFoundError:
        return "unknown"


class VersionHandler(BaseHandler):
    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Access-Control-Allow-Origin", "*")

    async def prepare(self) -> None:  # no user lookup: monitoring must not depend on the hub
        if len(self.request.query) > self.launcher.max_query_length:
            await super().prepare()

    def get(self) -> None:
        self.write_json({
            "builder_info": {"repo2docker-version": _r2d_version()},
            "binderhub": f"nfdi-launcher-{__version__}",
            "nfdi-launcher": __version__,
        })


default_handlers = [(r"versions", VersionHandler)]
