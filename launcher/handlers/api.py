"""JSON API under ``/api/v1/``: resolve, builds, launches, systems, OpenAPI document.

Builds and launches started here run the same :class:`~launcher.pipeline.Pipeline` as
the event stream, in the background (:mod:`launcher.jobs`); their id (random,
unguessable) is the handle to poll. Each job keeps its events in the launcher's store,
so a client can show the log after the fact, from any replica, after a restart.
"""

from __future__ import annotations

from typing import Any

from appbase.web import JSONTooDeep, loads_bounded
from launcher.handlers.base import BaseHandler, UserError
from launcher.openapi import OPENAPI


class ApiHandler(BaseHandler):
    def body_json(self) -> dict[str, Any]:
        """The request's JSON object. Its size was limited before it was read
        (``LauncherConfig.max_body_size``, :mod:`appbase.web`); its nesting is here."""
        limit = self.launcher.max_body_size
        if len(self.request.body) > limit:  # served by a plain HTTPServer (tests, embedding)
            raise UserError(413, f"Request body too large: request bodies here are limited to {limit} bytes")
        try:
            data = loads_bounded(self.request.body or b"{}", self.launcher.max_json_depth)
        except JSONTooDeep as err:
            raise UserError(400, f"request body is not accepted: {err}") from err
        except ValueError as err:
            raise UserError(400, "request body must be a JSON object") from err
        if not isinstance(data, dict):
            raise UserError(400, "request body must be a JSON object")
        return data


class ResolveHandler(ApiHandler):
    async def get(self) -> None:
        identifier = self.get_argument("id", "").strip()
        if not identifier:
            raise UserError(400, "missing ?id=<identifier>")
        request = await self.admit(self.ask("resolve", identifier=identifier))
        assert request.target is not None
        data = request.target.to_json()
        if not request.target.ambiguous:
            data["launch_url"] = self.public_base_url() + request.target.launch_path
        self.write_json(data)


class JobsHandler(ApiHandler):
    kind = "build"
    collection = "builds"

    async def post(self) -> None:
        body = self.body_json()
        identifier = str(body.get("id", "")).strip()
        if not identifier:
            raise UserError(400, 'missing "id" (a DOI, Handle, SWHID, Git URL or Binder spec)')
        request = await self.admit(self.ask(
            f"api-{self.kind}", identifier=identifier, system=str(body.get("system", "")),
            flavor=str(body.get("flavor", "")), project=str(body.get("project", "")),
            account=str(body.get("account", "")), storage_path=str(body.get("localstoragepath", "")),
            name=str(body.get("name", "")), build_only=self.kind == "build"))
        target = request.target
        assert target is not None
        if target.ambiguous:
            self.write_json({"message": f"{identifier} is ambiguous", **target.to_json()}, 409)
            return
        job = await self.state.jobs.start(self.kind, request)
        self.set_header("Location", f"{self.base_url}api/v1/{self.collection}/{job.id}")
        self.write_json(job.to_json(), 202)

    async def get(self, job_id: str | None = None) -> None:
        if not job_id:
            raise UserError(405, f"POST a JSON object to start a {self.kind}; GET {self.collection}/<id> for its status")
        job = await self.state.jobs.get(job_id)
        if job is None or job.kind != self.kind:
            raise UserError(404, f"no {self.kind} {job_id}")
        self.write_json(job.to_json())


class LaunchesHandler(JobsHandler):
    kind = "launch"
    collection = "launches"


class SystemsHandler(ApiHandler):
    async def get(self) -> None:
        systems = await self.systems_for_user()
        data: dict[str, object] = {"systems": systems, "handoff": self.state.pipeline.handoff.name}
        if not systems and self.launcher.systems:
            data["message"] = self.no_systems_message()
        self.write_json(data)


class OpenAPIHandler(ApiHandler):
    def get(self) -> None:
        doc = dict(OPENAPI, servers=[{"url": self.public_base_url().rstrip("/")}])
        self.write_json(doc)


default_handlers = [
    (r"api/v1/resolve", ResolveHandler),
    (r"api/v1/builds/?", JobsHandler),
    (r"api/v1/builds/([A-Za-z0-9_-]+)", JobsHandler),
    (r"api/v1/launches/?", LaunchesHandler),
    (r"api/v1/launches/([A-Za-z0-9_-]+)", LaunchesHandler),
    (r"api/v1/systems", SystemsHandler),
    (r"api/v1/openapi.json", OpenAPIHandler),
]

