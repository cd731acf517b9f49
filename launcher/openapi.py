"""The OpenAPI 3 document served at ``/api/v1/openapi.json`` (data only)."""

from __future__ import annotations

from typing import Any

from launcher.failures.reasons import REASONS, Action
from launcher.receipts.openapi import RECEIPT_PATHS, RECEIPT_SCHEMAS

_MESSAGE = ("one sentence for the person (what happened, what to do) ending in "
            "'Request id: <request_id>.'; never an internal URL, port or class name")
_REASONS_DOC = "Why a request failed (stable; status code and whose to fix): " + "; ".join(
    f"{r.code} ({r.status}, {r.kind.value}): {r.when}" for r in REASONS.values())
_ERROR = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_JOB_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["id"],
        "properties": {
            "id": {"type": "string", "description": "Any identifier: DOI, Handle, SWHID, Git URL, Binder spec"},
            "system": {"type": "string"}, "flavor": {"type": "string"},
            "project": {"type": "string", "description": "HPC systems: one of the caller's "
                        "projects (GET /api/v1/systems); default: the first"},
            "account": {"type": "string", "description": "HPC systems: the account used "
                        "with that project"},
            "name": {"type": "string"}, "localstoragepath": {"type": "string"},
        },
    }}},
}


def _job_paths(kind: str) -> dict[str, Any]:
    plural = {"build": "builds", "launch": "launches"}[kind]
    return {
        f"/api/v1/{plural}": {"post": {
            "summary": f"Start a {kind} in the background (resolve -> image{' -> launch' if kind == 'launch' else ''})",
            "requestBody": _JOB_BODY,
            "responses": {"202": {"description": "Started; poll the Location",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                          "400": _ERROR, "403": _ERROR, "409": _ERROR,
                          "413": {"description": "Body larger than max_body_size (16 KB)"},
                          "429": _ERROR},
        }},
        f"/api/v1/{plural}/{{id}}": {"get": {
            "summary": f"Status and events of a {kind}",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The job",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                          "404": _ERROR},
        }},
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "nfdi-launcher API", "version": "1",
             "description": "Resolve research identifiers, build images and launch them on JupyterHub."},
    "paths": {
        "/api/v1/resolve": {"get": {
            "summary": "Resolve an identifier to an immutable launch target with its provenance chain",
            "parameters": [{"name": "id", "in": "query", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The target (choices non-empty when ambiguous)",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LaunchTarget"}}}},
                          "400": _ERROR, "403": _ERROR, "404": _ERROR, "429": _ERROR, "502": _ERROR},
        }},
        **_job_paths("build"),
        **_job_paths("launch"),
        **RECEIPT_PATHS,
        "/api/v1/systems": {"get": {
            "summary": "Systems and flavors the caller may choose (after an OIDC login: "
                       "what their entitlements allow; HPC systems with their projects)",
            "responses": {"200": {"description": '{"systems": [{"name", "display_name", '
                                  '"flavors": [...], "projects"?: [{"project", "account", '
                                  '"partition"}]}], "message"?: why there is none'}}}},
        "/api/v1/servers": {"get": {
            "summary": "The caller's launches: named servers the launcher started for this hub "
                       "user (target, pinned ref, system, flavor, state, age, URLs, "
                       "receipt_url: the server's newest receipt)",
            "responses": {"200": {"description": '{"user", "launches": [...]}'},
                          "403": _ERROR}}},
        "/api/v1/servers/{name}": {"delete": {
            "summary": "Stop one of the caller's launches and forget it (~/work stays)",
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"202": {"description": "Stopping"}, "403": _ERROR, "404": _ERROR}}},
        "/build/{provider}/{spec}": {"get": {
            "summary": "BinderHub-compatible event stream (text/event-stream) of build and launch",
            "parameters": [
                {"name": "provider", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "spec", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "build_only", "in": "query", "schema": {"type": "boolean"}},
                {"name": "build_token", "in": "query", "schema": {"type": "string"}},
                {"name": "system", "in": "query", "schema": {"type": "string"}},
                {"name": "flavor", "in": "query", "schema": {"type": "string"}},
                {"name": "project", "in": "query", "schema": {"type": "string"}},
                {"name": "account", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {"200": {"description": "Events `data: {json}`; a failure is one last `failed` event "
                                                 "with status_code, reason, request_id, next_action and attempts",
                                  "content": {"text/event-stream": {}}}},
        }},
        "/launch": {"get": {"summary": "Resolve any identifier and redirect to its pinned /v2/ page "
                                       "(or, with receipt=<id>, to the receipt's relaunch page)",
                            "parameters": [{"name": "id", "in": "query", "schema": {"type": "string"}},
                                           {"name": "receipt", "in": "query", "schema": {"type": "string"}}],
                            "responses": {"302": {"description": "Redirect"}, "300": {"description": "Choices"},
                                          "400": _ERROR, "403": _ERROR, "429": _ERROR}}},
        "/api/v1/snippets": {"get": {
            "summary": "Launch link and badge snippets (Markdown, reStructuredText, HTML) for a v2/ path",
            "parameters": [{"name": n, "in": "query", "required": n == "path", "schema": {"type": "string"}}
                           for n in ("path", "urlpath", "labpath", "filepath", "system", "flavor")],
            "responses": {"200": {"description": "{url, badge_url, markdown, rst, html}"}, "400": _ERROR},
        }},
        "/api/repoproviders": {"get": {"summary": "BinderHub repo provider display configs",
                                       "responses": {"200": {"description": "list"}}}},
        "/health": {"get": {"summary": "Health checks", "responses": {"200": {"description": "ok"},
                                                                      "503": {"description": "unhealthy"}}}},
        "/versions": {"get": {"summary": "Versions", "responses": {"200": {"description": "versions"}}}},
    },
    "components": {"schemas": {
        "Error": {"type": "object", "required": ["status", "message", "reason", "request_id"],
                  "properties": {
                      "status": {"type": "integer"},
                      "message": {"type": "string", "description": _MESSAGE},
                      "reason": {"$ref": "#/components/schemas/FailureReason"},
                      "request_id": {"type": "string", "description": "names the failure in the launcher's log"},
                      "next_action": {"$ref": "#/components/schemas/NextAction"},
                      "retry_after": {"type": "integer", "description": "seconds to wait first (rate limits)"},
                  }},
        "FailureReason": {"type": "string", "enum": list(REASONS), "description": _REASONS_DOC},
        "NextAction": {"type": "string", "enum": [a.value for a in Action],
                       "description": "the button the launcher's pages offer after this failure"},
        "Hop": {"type": "object", "properties": {"from": {"type": "string"}, "to": {"type": "string"},
                                                 "via": {"type": "string"}}},
        "LaunchTarget": {"type": "object", "properties": {
            "identifier": {"type": "string"}, "kind": {"type": "string", "enum": ["git", "archive", "swh"]},
            "provider": {"type": "string"}, "source": {"type": "string"}, "ref": {"type": "string"},
            "files": {"type": "array", "items": {"type": "object"}},
            "chain": {"type": "array", "items": {"$ref": "#/components/schemas/Hop"}},
            "launch_path": {"type": "string"}, "title": {"type": "string"},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "choices": {"type": "array", "items": {"type": "object"}},
            "launch_url": {"type": "string"},
        }},
        **RECEIPT_SCHEMAS,
        "Job": {"type": "object", "properties": {
            "id": {"type": "string"}, "kind": {"type": "string"},
            "status": {"type": "string", "enum": ["running", "ready", "failed"]},
            "phase": {"type": "string", "nullable": True},
            "events": {"type": "array", "items": {"type": "object"}},
            "result": {"type": "object", "description": "the ready event (url, token, image, ...)"},
            "message": {"type": "string", "description": "when failed: " + _MESSAGE},
            "status_code": {"type": "integer"},
            "reason": {"$ref": "#/components/schemas/FailureReason"},
            "request_id": {"type": "string"}, "next_action": {"$ref": "#/components/schemas/NextAction"},
            "attempts": {"type": "integer", "description": "tries of the failing step (only transient "
                                                           "failures are tried again)"},
        }},
    }},
}
