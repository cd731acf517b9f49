"""GitHub/GitLab commit APIs: expand refs and abbreviated SHAs when a token is configured."""

from __future__ import annotations

from urllib.parse import quote

from traitlets import Unicode

from fdo.errors import NotFound
from fdo.identifiers import HEX_SHA, Identifier
from fdo.net import HttpNotFound, HttpStatusError
from fdo.resolvers.base import Outcome, ResolveContext, Resolver, as_dict
from fdo.resolvers.git import git_target


class _ForgeApi(Resolver):
    provider = ""
    token = Unicode("", help="API token; the resolver is used only when it is set. Never logged.").tag(config=True)

    def accepts(self, ident: Identifier) -> bool:
        ref, kind = ident.get("ref"), ident.get("ref_kind")
        return (
            bool(self.token)
            and ident.kind == "git"
            and ident.get("provider") == self.provider
            and not HEX_SHA.match(ref)
            and not (kind.startswith("tree") and "/" in ref)
        )

    def _url(self, ident: Identifier, ref: str) -> str:
        raise NotImplementedError

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def resolve(self, ident: Identifier, ctx: ResolveContext) -> Outcome:
        ref = ident.get("ref") or "HEAD"
        try:
            data = as_dict(ctx.http.get_json(self._url(ident, ref), headers=self._headers()))
        except (HttpNotFound, HttpStatusError) as err:
            if isinstance(err, HttpStatusError) and err.response.status != 422:
                raise
            raise NotFound(f"no branch, tag or commit '{ref}' in {ident.get('source')}; check the name") from err
        sha = str(data.get("sha") or data.get("id") or "")
        if not HEX_SHA.match(sha):
            raise NotFound(f"the {self.name} API returned no commit for '{ref}'")
        ctx.mutable = True
        ctx.hop(ident.normalized, f"{ident.get('source')}@{sha}", f"{self.name} commits/{ref}")
        return git_target(ident, sha, ref)


class GitHubApiResolver(_ForgeApi):
    """``GET api.github.com/repos/<o>/<r>/commits/<ref>`` (ETag-cached by the HTTP client)."""

    name = "github-api"
    provider = "gh"
    api_url = Unicode("https://api.github.com", help="GitHub REST API base URL.").tag(config=True)

    def _url(self, ident: Identifier, ref: str) -> str:
        return f"{self.api_url}/repos/{ident.get('owner')}/{ident.get('repo')}/commits/{quote(ref, safe='')}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json"}


class GitLabApiResolver(_ForgeApi):
    """``GET gitlab.com/api/v4/projects/<path>/repository/commits/<ref>``."""

    name = "gitlab-api"
    provider = "gl"
    api_url = Unicode("https://gitlab.com/api/v4", help="GitLab REST API base URL.").tag(config=True)

    def _url(self, ident: Identifier, ref: str) -> str:
        project = quote(ident.get("project"), safe="")
        return f"{self.api_url}/projects/{project}/repository/commits/{quote(ref, safe='')}"

    def _headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self.token, "Accept": "application/json"}
