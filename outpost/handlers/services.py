"""``/services``: start, list, poll and stop single-user servers of the calling hub."""

from __future__ import annotations

from outpost.body import check_name, parse_start_body
from outpost.handlers.base import BaseHandler


class ServicesHandler(BaseHandler):
    def get(self) -> None:
        self.write_json([r.summary() for r in self.outpost.store.records(self.hub)])

    async def post(self) -> None:
        body = parse_start_body(self.json_body())
        record, request = self.outpost.reserve(self.hub, body)
        if self.request.headers.get("execution-type", "").lower() == "async":
            self.outpost.start_background(request)
            self.write_json({"service": ""}, 202)
            return
        service = await self.outpost.run_start(request)
        self.write_json({"service": service})


class ServiceHandler(BaseHandler):
    def _collect_logs(self) -> bool:
        return self.get_query_argument("collect_logs", "false").lower() == "true"

    async def get(self, name: str, start_id: str | None = None) -> None:
        check_name(name)
        self.write_json(await self.outpost.poll(self.hub, name, start_id, self._collect_logs()))

    async def delete(self, name: str, start_id: str | None = None) -> None:
        check_name(name)
        if self.request.headers.get("execution-type", "").lower() == "async":
            self.outpost.stop_background(self.hub, name, start_id)
            self.write_json({}, 202)
            return
        logs = await self.outpost.stop(self.hub, name, start_id, self._collect_logs())
        self.write_json({"logs": logs})
