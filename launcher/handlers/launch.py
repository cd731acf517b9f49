"""Entry points that redirect to a pinned ``/v2/...`` loading page.

- ``/launch?id=<anything>``: resolve any identifier, redirect to ``<base>/<launch_path>``
  keeping the other query parameters (or JSON with the target / choices);
  ``/launch?receipt=<id>``: relaunch a receipt (``<base>/v2/receipt/<id>``), resolving nothing;
- ``/r2d/<provider>/<spec>``: Jupyter4NFDI's link form (``dataDir`` -> ``localstoragepath``);
- ``/repo/<user>/<repo>[/path]``: BinderHub's legacy GitHub links.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from launcher.handlers.base import BaseHandler, UserError


class LaunchHandler(BaseHandler):
    def wants_json(self) -> bool:
        return self.get_argument("format", "") == "json" or "application/json" in self.request.headers.get("Accept", "")

    def carried_query(self) -> str:
        query = self.launch_query()
        self.checked_urlpath(query)  # refuse hostile paths before sending anyone anywhere
        return ("?" + urlencode(query)) if query else ""

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
        target = await self.resolve(identifier)
        if target.ambiguous:
            choices = [dict(c.to_json(), launch=f"{self.base_url}launch?" + urlencode({"id": c.identifier}))
                       for c in target.choices]
            self.write_json({"identifier": identifier, "choices": choices,
                             "message": f"{identifier} is ambiguous; pick one of the choices"}, 300)
            return
        location = self.base_url + target.launch_path + suffix
        if self.wants_json():
            self.write_json({"target": target.to_json(), "launch_url": self.public_base_url()
                             + target.launch_path + suffix})
            return
        self.redirect(location)


class R2DHandler(BaseHandler):
    """Jupyter4NFDI ``/r2d/<provider>/<spec>?system=&flavor=&localstoragepath=|dataDir=&name=``."""

    def get(self, *_args: str) -> None:
        provider, spec = self.get_spec_from_request("r2d")
        query = self.launch_query()
        if "dataDir" in query:
            query.setdefault("localstoragepath", query["dataDir"])
            del query["dataDir"]
        if "localstoragepath" in query and not query["localstoragepath"]:
            query["localstoragepath"] = self.launcher.storage_path
        self.checked_urlpath(query)
        suffix = ("?" + urlencode(query)) if query else ""
        self.redirect(f"{self.base_url}v2/{quote(provider)}/{spec}{suffix}")


class LegacyRedirectHandler(BaseHandler):
    """``/repo/<user>/<repo>[/<path>]`` -> ``/v2/gh/<user>/<repo>/master[?urlpath=<path>]``."""

    def get(self, user: str, repo: str, urlpath: str | None = None) -> None:
        url = f"{self.base_url}v2/gh/{quote(user)}/{quote(repo)}/master"
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
