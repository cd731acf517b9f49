"""Receipt routes (relative to ``base_url``):

- ``.well-known/jwks.json`` — the public keys receipts are signed with (CORS ``*``);
- ``api/v1/receipts`` — the logged-in user's receipts (newest first);
- ``api/v1/receipts/<id>`` — the receipt document (JSON), ``.../ro-crate.zip`` its RO-Crate;
- ``receipt/<id>`` — the human page (chain, digests, citation, *Relaunch exactly this*);
- ``v2/receipt/<id>`` — the loading page of a relaunch, streaming ``build/receipt/<id>``.

This module comes before :mod:`launcher.handlers.build` and the pages in the routing
order, so ``v2/receipt/...`` and ``build/receipt/...`` are never taken for a provider.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

from launcher.admission import Ask, run_with_quotas
from launcher.handlers.base import BaseHandler, UserError, user_required
from launcher.handlers.build import BuildHandler
from launcher.handlers.pages import PageHandler
from launcher.pipeline import LaunchRequest
from launcher.receipts.book import JWKS_PATH, ReceiptError, Receipts
from launcher.receipts.crate import crate_zip
from launcher.receipts.model import citation, image_reference
from launcher.receipts.relaunch import relaunch, target_of

_ID = r"([^/]{1,100})"


class ReceiptMixin(BaseHandler):
    @property
    def receipts(self) -> Receipts:
        receipts = self.state.receipts
        if receipts is None:
            raise UserError(503, "receipts are not kept on this launcher")
        return receipts

    async def load(self, receipt_id: str) -> dict[str, Any]:
        try:
            return await self.receipts.get(receipt_id)
        except ReceiptError as err:
            raise UserError(err.status_code, str(err)) from err

    def links(self, receipt_id: str) -> dict[str, str]:
        base = self.public_base_url()
        return {"page": f"{base}receipt/{receipt_id}",
                "json": f"{base}api/v1/receipts/{receipt_id}",
                "ro_crate": f"{base}api/v1/receipts/{receipt_id}/ro-crate.zip",
                "relaunch": f"{base}v2/receipt/{receipt_id}",
                "jwks": f"{base}{JWKS_PATH}"}


class JwksHandler(ReceiptMixin):
    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Access-Control-Allow-Origin", "*")

    async def prepare(self) -> None:  # public keys: no user lookup, nothing to protect
        pass

    async def get(self) -> None:
        keys = await self.receipts.key_set()
        self.set_header("Cache-Control", "public, max-age=300")
        self.set_header("Content-Type", "application/jwk-set+json")
        self.finish(json.dumps(keys))


class ReceiptApiHandler(ReceiptMixin):
    async def get(self, receipt_id: str) -> None:
        doc = await self.load(receipt_id)
        self.write_json({**doc, "links": self.links(receipt_id)})


class MyReceiptsHandler(ReceiptMixin):
    async def get(self) -> None:
        if not self.user_name:
            raise UserError(403, "Log in to the hub to list your receipts")
        bodies = await self.receipts.for_user(self.user_name)
        # the hub server each launch ran in; the newest receipt of each server is "current"
        current = {rid: server for server, rid in (await self.receipts.by_server(self.user_name)).items()}
        self.write_json({"receipts": [
            {"id": b["id"], "kind": b["kind"], "identifier": b["identifier"],
             "created": b["created"], "system": b.get("system"), "flavor": b.get("flavor"),
             "image": image_reference(b), "server": current.get(str(b["id"])),
             "links": self.links(str(b["id"]))} for b in bodies]})


class ReceiptCrateHandler(ReceiptMixin):
    async def get(self, receipt_id: str) -> None:
        doc = await self.load(receipt_id)
        keys = await self.receipts.key_set()
        data = await asyncio.to_thread(crate_zip, doc, self.links(receipt_id), keys)
        self.set_header("Content-Type", "application/zip")
        self.set_header("Content-Disposition", f'attachment; filename="receipt-{receipt_id}-ro-crate.zip"')
        self.finish(data)


class ReceiptPageHandler(PageHandler, ReceiptMixin):
    async def get(self, receipt_id: str) -> None:
        try:
            doc = await self.receipts.get(receipt_id)
        except ReceiptError as err:
            self.set_status(err.status_code)
            self.render_page("receipt.html", {"error": str(err)}, doc=None, error=str(err))
            return
        body = doc["receipt"]
        links = self.links(receipt_id)
        self.render_page("receipt.html", {"citation": citation(body, links["page"])}, doc=doc,
                         body=body, links=links, citation=citation(body, links["page"]),
                         image_ref=image_reference(body), error="")


class RelaunchPageHandler(PageHandler, ReceiptMixin):
    """``/v2/receipt/<id>``: the loading page, streaming the relaunch (the hub's login first,
    as for every /v2 page, when launches need one)."""

    @user_required
    async def get(self, receipt_id: str) -> None:
        doc = await self.load(receipt_id)
        body = doc["receipt"]
        provider, spec = spec_of(body)
        query = {"system": body.get("system") or "", "flavor": body.get("flavor") or "",
                 **self.launch_query()}
        config: dict[str, Any] = {"provider": provider, "spec": spec, "receipt": receipt_id}
        urlpath = self.checked_urlpath(query)
        config["urlpath"] = urlpath
        ask = self.ask("v2", provider=provider, spec=spec)
        await self.admit(ask)  # a page like /v2: counted, and its build token bound to this client
        # the XSRF token too: a logged-in EventSource is refused without it
        config["build_url"] = self.stream_url("receipt", quote(receipt_id), query,
                                              self.state.admission.issue_token(ask))
        self.render_page("loading.html", config, provider="receipt", spec_display=receipt_id,
                         system=query.get("system", ""), flavor=query.get("flavor", ""))


def spec_of(body: dict[str, Any]) -> tuple[str, str]:
    """(provider, spec) of the receipt's pinned launch path (``v2/<provider>/<spec>``)."""
    path = str((body.get("target") or {}).get("launch_path") or "")
    provider, _, spec = path.removeprefix("v2/").partition("/")
    return provider, spec


class RelaunchStreamHandler(BuildHandler, ReceiptMixin):
    """``/build/receipt/<id>``: the event stream of a relaunch, admitted like any launch of
    the receipt's pinned target (login, build token, rate limit, bans, resource)."""

    _body: dict[str, Any]
    _refused: ReceiptError | None = None

    async def prepare(self) -> None:
        await super().prepare()
        try:
            self._body = await self.receipts.for_relaunch(self.path_args[0])
        except ReceiptError as err:  # reported on the stream, as BuildHandler reports refusals
            self._refused = err

    def build_ask(self) -> Ask:
        if self._refused is not None:
            raise UserError(self._refused.status_code, str(self._refused))
        ask = super().build_ask()
        ask.target = target_of(self._body)  # checked by admission, nothing resolved
        return ask

    def get_spec_from_request(self, prefix: str) -> tuple[str, str]:
        return spec_of(self._body)

    async def stream(self, request: LaunchRequest) -> None:
        source = relaunch(self.state.pipeline, request, self._body)
        async for ev in run_with_quotas(self.state.admission, self.state.pipeline, request, source):
            await self.emit(ev)


default_handlers = [
    (r"\.well-known/jwks\.json", JwksHandler),
    (r"api/v1/receipts/?", MyReceiptsHandler),
    (rf"api/v1/receipts/{_ID}/ro-crate\.zip", ReceiptCrateHandler),
    (rf"api/v1/receipts/{_ID}", ReceiptApiHandler),
    (rf"receipt/{_ID}", ReceiptPageHandler),
    (rf"v2/receipt/{_ID}", RelaunchPageHandler),
    (rf"build/receipt/{_ID}", RelaunchStreamHandler),
]
