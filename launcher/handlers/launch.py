"""Entry points that redirect to a pinned ``/v2/...`` loading page.

- ``/launch?id=<anything>``: resolve any identifier, redirect to ``<base>/<launch_path>``
  keeping the other query parameters (or JSON with the target / choices);
  ``/launch?receipt=<id>``: relaunch a receipt (``<base>/v2/receipt/<id>``), resolving nothing;
- ``/r2d/<provider>/<spec>``: Jupyter4NFDI's link form (``dataDir`` -> ``localstoragepath``);
- ``/repo/<user>/<repo>[/path]``: BinderHub's legacy GitHub links.

Each asks admission first (:mod:`launcher.admission`); a redirect's path is built only
from the parts it checked, so it never leaves ``base_url``.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from launcher.admission import AdmissionError, checked_spec
from launcher.handlers.base import BaseHandler, UserError, user_required


class LaunchHandler(BaseHandler):
    def wants_json(self) -> bool:
        return self.get_argument("format", "") == "json" or "application/json" in self.request.headers.get("Accept", "")

    def carried_query(self) -> str:
        query = self.launch_query()
        self.checked_urlpath(query)  # refuse hostile paths before sending anyone anywhere
        return ("?" + urlencode(query)) if query else ""

    def get_login_url(self) -> str:
        if self.wants_json():  # an API client: never redirected to a login page
            raise UserError(403, "Authentication required: send a hub API token")
        return super().get_login_url()

    @user_required
    async def get(self) -> None:
        receipt = self.get_argument("receipt", "").strip()
        if receipt:  # relaunch exactly what a receipt records (launcher/receipts)
            from launcher.receipts.model import valid_id

            if not valid_id(receipt):
                raise UserError(400, "malformed receipt id: a receipt id is 26 characters a-z and 2-7")
            self.redirect(f"{self.base_url}v2/receipt/{receipt}{self.carried_query()}")
            return
        identifier = self.get_argument("id", "").strip()
        if not identifier:
            raise UserError(400, "missing ?id=<identifier> (a DOI, Handle, SWHID, Git URL or Binder spec)")
        suffix = self.carried_query()
        request = await self.admit(self.ask("launch", identifier=identifier))
        target = request.target
        assert target is not None
        if target.ambiguous:
            choices = [dict(c.to_json(), launch=f"{self.base_url}launch?" + urlencode({"id": c.identifier}))
                       for c in target.choices]
            self.write_json({"identifier": identifier, "choices": choices,
                             "message": f"{identifier} is ambiguous; pick one of the choices"}, 300)
            return
        path = v2_path(target.launch_path)
        if self.wants_json():
            self.write_json({"target": target.to_json(), "launch_url": self.public_base_url() + path + suffix})
            return
        self.redirect(self.base_url + path + suffix)


def v2_path(launch_path: str) -> str:
    """``v2/<provider>/<spec>`` rebuilt from checked parts (a 400 if it could leave base_url)."""
    provider, _, spec = launch_path.removeprefix("v2/").partition("/")
    try:
        provider, spec = checked_spec(provider, spec)
    except AdmissionError as err:
        raise UserError(err.status_code, str(err)) from err
    return f"v2/{provider}/{spec}"


class R2DHandler(BaseHandler):
    """Jupyter4NFDI ``/r2d/<provider>/<spec>?system=&flavor=&localstoragepath=|dataDir=&name=``."""

    @user_required
    async def get(self, *_args: str) -> None:
        provider, spec = self.get_spec_from_request("r2d")
        request = await self.admit(self.ask("r2d", provider=provider, spec=spec))
        query = self.launch_query()
        if "dataDir" in query:
            query.setdefault("localstoragepath", query["dataDir"])
            del query["dataDir"]
        if "localstoragepath" in query and not query["localstoragepath"]:
            query["localstoragepath"] = self.launcher.storage_path
        self.checked_urlpath(query)
        suffix = ("?" + urlencode(query)) if query else ""
        self.redirect(f"{self.base_url}v2/{request.provider}/{request.spec}{suffix}")


class LegacyRedirectHandler(BaseHandler):
    """``/repo/<user>/<repo>[/<path>]`` -> ``/v2/gh/<user>/<repo>/master[?urlpath=<path>]``."""

    @user_required
    async def get(self, user: str, repo: str, urlpath: str | None = None) -> None:
        # the router decoded user and repo: encode them again, so "/" and ".." stay inside
        spec = f"{quote(user, safe='')}/{quote(repo, safe='')}/master"
        request = await self.admit(self.ask("repo", provider="gh", spec=spec))
        url = f"{self.base_url}v2/gh/{request.spec}"
        # check_relative refuses //host and strips the route's leading "/"
        rest = self.checked_urlpath({"urlpath": urlpath or ""})
        if rest:
            url += "?" + urlencode({"urlpath": rest})
        self.redirect(url)


default_handlers = [
    (r"launch", LaunchHandler),
    (r"r2d/([^/]+)/(.+)", R2DHandler),
    (r"repo/([^/]+)/([^/]+)(/.*)?", LegacyRedirectHandler),
]
