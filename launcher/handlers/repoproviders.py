"""``/api/repoproviders``: each listed provider's display_config (BinderHub's schema),
made from the rows of :data:`fdo.providers.PROVIDERS` that have a form."""

from __future__ import annotations

from typing import Any

from fdo.providers import PROVIDERS, Form, Provider
from launcher.handlers.base import BaseHandler


def display_config(row: Provider, form: Form) -> dict[str, Any]:
    config: dict[str, Any] = {
        "displayName": form.title,
        "id": row.id,
        "spec": {"validateRegex": form.pattern},
        "repo": {"label": form.label, "placeholder": f"example: {row.example}",
                 "urlEncode": form.url_encode},
        "ref": {"enabled": form.ref, **({"default": "HEAD"} if form.ref else {})},
    }
    if form.detect:
        config["detect"] = {"regex": form.detect}
    return config


REPO_PROVIDERS: list[dict[str, Any]] = [display_config(row, row.form) for row in PROVIDERS if row.form]


class RepoProvidersHandler(BaseHandler):
    def get(self) -> None:
        self.write_json(REPO_PROVIDERS)


default_handlers = [(r"api/repoproviders", RepoProvidersHandler)]
