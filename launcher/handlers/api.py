"""JSON API under ``/api/v1/``: resolve, builds, launches, systems, OpenAPI document.

Builds and launches started here run the same :class:`~launcher.pipeline.Pipeline` as
the event stream, in the background (:mod:`launcher.jobs`); their id (random,
unguessable) is the handle to poll. Each job keeps its events in the launcher's store,
so a client can show the log after the fact, from any replica, after a restart.
"""

from __future__ import annotations

import json
from typing import Any

from launcher.admission import AdmissionError
from launcher.handlers.base import BaseHandler, UserError
from launcher.openapi import OPENAPI
from launcher.pipeline import LaunchRequest


class ApiHandler(BaseHandler):
    def body_json(self) -> dict[str, Any]:
        if len(self.request.body) > 16384:
            raise UserError(413, "request body too large")
        try:
            data = json.loads(self.request.body or b"{}")
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
        target = await self.resolve(identifier)
        data = target.to_json()
        if not target.ambiguous:
            data["launch_url"] = self.public_base_url() + target.launch_path
        self.write_json(data)


class JobsHandler(ApiHandler):
    kind = "build"
    collection = "builds"

    async def post(self) -> None:
        body = self.body_json()
        identifier = str(body.get("id", "")).strip()
        if not identifier:
            raise UserError(400, 'missing "id" (a DOI, Handle, SWHID, Git URL or Binder spec)')
        storage = self.checked_storage_path(str(body.get("localstoragepath", "")))
        target = await self.resolve(identifier)
        if target.ambiguous:
            self.write_json({"message": f"{identifier} is ambiguous", **target.to_json()}, 409)
            return
        provider, _, spec = target.launch_path.removeprefix("v2/").partition("/")
        try:
            if not self.current_user:
                for key, value in self.state.admission.rate.check(self.client_ip).items():
                    self.set_header(key, value)
            self.state.admission.policy.check(f"{provider}/{spec}")
        except AdmissionError as err:
            raise UserError(err.status_code, str(err)) from err
        system, flavor, hpc = await self.pick_choice(
            *(str(body.get(k, "")) for k in ("system", "flavor", "project", "account")))
        request = LaunchRequest(provider=provider, spec=spec, client_ip=self.client_ip,
                                launch_host=self.public_base_url(), user=self.user_name, system=system,
                                flavor=flavor, hpc=hpc, storage_path=storage,
                                name=str(body.get("name", ""))[:100], build_only=self.kind == "build")
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

