"""``/api/repoproviders``: each provider's display_config (BinderHub's schema)."""

from __future__ import annotations

from typing import Any

from launcher.handlers.base import BaseHandler


def _provider(pid: str, name: str, validate: str, label: str, placeholder: str,
              url_encode: bool, ref: bool, detect: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "displayName": name,
        "id": pid,
        "spec": {"validateRegex": validate},
        "repo": {"label": label, "placeholder": placeholder, "urlEncode": url_encode},
        "ref": {"enabled": ref, **({"default": "HEAD"} if ref else {})},
    }
    if detect:
        config["detect"] = {"regex": detect}
    return config


REPO_PROVIDERS: list[dict[str, Any]] = [
    _provider("gh", "GitHub", "[^/]+/[^/]+/.+", "GitHub repository name or URL",
              "example: binder-examples/requirements or https://github.com/binder-examples/requirements",
              False, True, "^(https?://github.com/)?(?<repo>.*[^/])/?"),
    _provider("gist", "Gist", "[^/]+/[^/]+(/[^/]+)?", "Gist ID (username/gistId) or URL",
              "example: jakevdp/7d3c5e7b3b8c1b9c4c1b", False, True,
              "^(https?://gist.github.com/)?(?<repo>.*[^/])/?"),
    _provider("git", "Git repository", "[^/]+/.+", "Arbitrary git repository URL",
              "example: https://git.example.org/group/repo.git", True, True),
    _provider("gl", "GitLab.com", "[^/]+/.+", "GitLab.com repository or URL",
              "example: gitlab-org/gitlab-docs", True, True,
              "^(https?://gitlab.com/)?(?<repo>.*[^/])/?"),
    _provider("zenodo", "Zenodo DOI", "10\\.\\d+/(.)+", "Zenodo DOI", "example: 10.5281/zenodo.3242074",
              False, False),
    _provider("figshare", "Figshare DOI", "10\\.\\d+/(.)+", "Figshare DOI",
              "example: 10.6084/m9.figshare.9782777.v1", False, False),
    _provider("hydroshare", "Hydroshare resource", "[^/]+", "Hydroshare resource id or URL",
              "example: 8f7c2f0341ef4180b0bd4ba2fc5d1a6b", True, False),
    _provider("dataverse", "Dataverse DOI", "10\\.\\d+/(.)+", "Dataverse DOI",
              "example: 10.7910/DVN/TJCLKP", False, False),
    _provider("ckan", "CKAN dataset", "[^/]+(/.+)?", "CKAN dataset URL",
              "example: https://demo.ckan.org/dataset/sample-dataset-1", True, False),
    _provider("doi", "DOI (any registry)", "10\\.\\d+/(.)+", "DOI",
              "example: 10.5281/zenodo.3242074", False, False, "^(https?://(dx\\.)?doi.org/|doi:)?(?<repo>10\\..+)$"),
    _provider("hdl", "Handle / FDO PID", "[^/]+/.+", "Handle PID",
              "example: 21.11152/a1b2c3", False, False, "^(https?://hdl.handle.net/|hdl:)?(?<repo>.+)$"),
    _provider("swhid", "Software Heritage ID", "swh:1:(dir|rev|rel|snp):[0-9a-f]{40}.*", "SWHID",
              "example: swh:1:dir:...", False, False),
]


class RepoProvidersHandler(BaseHandler):
    def get(self) -> None:
        self.write_json(REPO_PROVIDERS)


default_handlers = [(r"api/repoproviders", RepoProvidersHandler)]
