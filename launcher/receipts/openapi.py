"""The receipt routes and schemas of the OpenAPI document (data only; merged by
:mod:`launcher.openapi`)."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_ID = {"name": "id", "in": "path", "required": True,
       "schema": {"type": "string", "pattern": "^[a-z2-7]{26}$"}}
_STR = {"type": "string"}
_OPT = {"type": "string", "nullable": True}

RECEIPT_PATHS: dict[str, Any] = {
    "/api/v1/receipts": {"get": {
        "summary": "The logged-in user's receipts, newest first",
        "responses": {"200": {"description": "{receipts: [{id, kind, identifier, created, system, "
                                             "flavor, image, server (the hub server whose newest "
                                             "receipt it is, else null), links}]}"}, "403": _ERROR},
    }},
    "/api/v1/receipts/{id}": {"get": {
        "summary": "A signed reproducibility receipt (verify with the keys at /.well-known/jwks.json)",
        "parameters": [_ID],
        "responses": {"200": {"description": "The receipt document",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReceiptDocument"}}}},
                      "400": _ERROR, "404": _ERROR},
    }},
    "/api/v1/receipts/{id}/ro-crate.zip": {"get": {
        "summary": "The receipt as an RO-Crate (Process Run Crate 0.5), zipped; holds receipt.json and jwks.json",
        "parameters": [_ID],
        "responses": {"200": {"description": "zip", "content": {"application/zip": {}}},
                      "400": _ERROR, "404": _ERROR},
    }},
    "/.well-known/jwks.json": {"get": {
        "summary": "Public Ed25519 keys (JWKS) of this launcher's receipts, old keys included",
        "responses": {"200": {"description": "JWKS", "content": {"application/jwk-set+json": {}}}},
    }},
    "/v2/receipt/{id}": {"get": {
        "summary": "Relaunch exactly the image of a receipt (by digest; rebuilt from the pinned ref if gone)",
        "parameters": [_ID, {"name": "system", "in": "query", "schema": _STR},
                       {"name": "flavor", "in": "query", "schema": _STR}],
        "responses": {"200": {"description": "Loading page"}, "400": _ERROR, "404": _ERROR},
    }},
    "/build/receipt/{id}": {"get": {
        "summary": "Event stream of a relaunch by receipt (BinderHub event grammar)",
        "parameters": [_ID],
        "responses": {"200": {"description": "Events; refusals are failed events with status_code",
                              "content": {"text/event-stream": {}}}},
    }},
    "/receipt/{id}": {"get": {
        "summary": "Human page of a receipt: chain, digests, citation, relaunch button",
        "parameters": [_ID], "responses": {"200": {"description": "HTML"}, "404": {"description": "HTML"}},
    }},
}

RECEIPT_SCHEMAS: dict[str, Any] = {
    "Receipt": {"type": "object", "description": "The signed body (canonical JSON: sorted keys, no spaces, UTF-8)",
                "required": ["type", "version", "id", "kind", "identifier", "chain", "target", "image",
                             "build", "launcher", "created"],
                "properties": {
        "type": {"type": "string", "enum": ["nfdi-launcher-receipt"]},
        "version": {"type": "integer"}, "id": _STR,
        "kind": {"type": "string", "enum": ["launch", "build"]},
        "identifier": {"type": "string", "description": "as given"},
        "chain": {"type": "array", "items": {"$ref": "#/components/schemas/Hop"}},
        "chain_digest": _STR,
        "target": {"type": "object", "properties": {
            "kind": _STR, "provider": _STR, "source": _STR, "ref": _STR, "ref_url": _OPT,
            "launch_path": _STR, "title": _OPT, "files": {"type": "array", "items": {"type": "object"}},
            "provenance": {"type": "object"}, "warnings": {"type": "array", "items": _STR}}},
        "image": {"type": "object", "properties": {"name": _STR, "digest": _OPT, "cached": {"type": "boolean"}}},
        "build": {"type": "object", "properties": {
            "content_digest": _OPT, "repo2docker_version": _OPT, "base_image": _OPT,
            "base_image_digest": _OPT, "built_at": _OPT}},
        "launcher": {"type": "object", "properties": {"version": _STR, "url": _STR}},
        "system": _OPT, "flavor": _OPT, "created": {"type": "string", "format": "date-time"},
        "relaunch": {"type": "object", "properties": {
            "of": _STR, "rebuilt": {"type": "boolean"}, "digest_matches": {"type": "boolean"},
            "new_digest": _OPT}},
    }},
    "ReceiptDocument": {"type": "object", "properties": {
        "receipt": {"$ref": "#/components/schemas/Receipt"},
        "signature": {"type": "object", "properties": {
            "jws": {"type": "string", "description": "detached compact JWS: <header>..<signature>"},
            "alg": {"type": "string", "enum": ["Ed25519"]}, "kid": _STR, "jwks_url": _OPT}},
        "links": {"type": "object", "description": "not signed",
                  "properties": {k: _STR for k in ("page", "json", "ro_crate", "relaunch", "jwks")}},
    }},
}
