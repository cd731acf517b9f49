"""What a receipt says, as pure functions: facts -> the signed body, its canonical bytes.

A receipt's **body** is a JSON object of strings, integers, booleans, nulls, lists and
objects (never floats), so that its canonical form — keys sorted, no insignificant
whitespace, UTF-8 (:func:`canonical`, the JSON Canonicalization Scheme of RFC 8785 for
these value types) — is the same in every language. The signature is a detached JWS over
exactly those bytes (:mod:`launcher.receipts.signing`).

What is deliberately NOT in a body: the hub user name, tokens, passwords, the client's
address, the server URL. A receipt is meant to be cited in a paper, so it is public; who
launched is kept beside it in the store (``user_name`` column), never signed or served.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from builders.provenance import chain_digest
from fdo.target import LaunchTarget

#: ``type`` of every receipt body (a verifier refuses anything else)
RECEIPT_TYPE = "nfdi-launcher-receipt"
#: version of the body's layout
RECEIPT_VERSION = 1
#: receipt ids: 26 characters of lowercase base32 (130 random bits), as in ``/receipt/<id>``
ID_PATTERN = r"[a-z2-7]{26}"
_ID_RE = re.compile(ID_PATTERN)
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def new_id() -> str:
    return "".join(secrets.choice(_B32) for _ in range(26))


def valid_id(text: str) -> bool:
    return bool(_ID_RE.fullmatch(text))


def canonical(body: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8 (RFC 8785 for our types)."""
    _no_floats(body)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _no_floats(value: Any) -> None:
    if isinstance(value, float):
        raise ValueError("receipt bodies hold no floating-point numbers")
    if isinstance(value, dict):
        for item in value.values():
            _no_floats(item)
    elif isinstance(value, list):
        for item in value:
            _no_floats(item)


def utc_now() -> str:
    """UTC time to the second, RFC 3339 with ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def split_image(reference: str) -> tuple[str, str]:
    """``name:tag@sha256:...`` -> (``name:tag``, ``sha256:...``); no digest -> (ref, "")."""
    name, _, digest = reference.partition("@")
    return name, digest


@dataclass
class BuildFacts:
    """What the builder knows about the image: from its ``built`` event, or an earlier receipt."""

    content_digest: str = ""
    repo2docker_version: str = ""
    base_image: str = ""
    base_image_digest: str = ""
    built_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"content_digest": self.content_digest or None,
                "repo2docker_version": self.repo2docker_version or None,
                "base_image": self.base_image or None,
                "base_image_digest": self.base_image_digest or None,
                "built_at": self.built_at or None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildFacts:
        return cls(**{k: str(data.get(k) or "") for k in (
            "content_digest", "repo2docker_version", "base_image", "base_image_digest", "built_at")})

    def merged(self, other: BuildFacts) -> BuildFacts:
        """These facts, gaps filled from *other* (an earlier receipt of the same image)."""
        mine = self.to_json()
        return BuildFacts.from_json({k: mine[k] or v for k, v in other.to_json().items()})


@dataclass
class Facts:
    """Everything a receipt records, gathered by the launcher at ``ready``."""

    kind: str  # "launch" | "build"
    target: LaunchTarget
    image: str  # as handed on: name:tag@sha256:... (registry) or name:tag (local engine)
    image_digest: str  # manifest digest (registry) or image id (local engine)
    build: BuildFacts
    launcher_version: str
    issuer: str  # the launcher's public base URL
    system: str = ""
    flavor: str = ""
    cached: bool = False
    created: str = field(default_factory=utc_now)
    relaunch: dict[str, Any] | None = None  # {"of", "rebuilt", "digest_matches"}


def target_json(target: LaunchTarget) -> dict[str, Any]:
    """The target's facts worth signing (no UI-only fields such as choices)."""
    return {
        "kind": target.kind, "provider": target.provider, "source": target.source,
        "ref": target.ref, "ref_url": target.ref_url or None, "launch_path": target.launch_path,
        "title": target.title or None,
        "files": [{"name": f.name, "url": f.url, "size": f.size, "checksum": f.checksum}
                  for f in target.files],
        "provenance": {str(k): str(v) for k, v in sorted(target.provenance.items())},
        "warnings": list(target.warnings),
    }


def make_body(receipt_id: str, facts: Facts) -> dict[str, Any]:
    """The body that is signed and served (pure)."""
    chain = [h.to_json() for h in facts.target.chain]
    name, _digest = split_image(facts.image)
    body: dict[str, Any] = {
        "type": RECEIPT_TYPE,
        "version": RECEIPT_VERSION,
        "id": receipt_id,
        "kind": facts.kind,
        "identifier": facts.target.identifier,
        "chain": chain,
        "chain_digest": chain_digest(facts.target.identifier, chain),
        "target": target_json(facts.target),
        "image": {"name": name, "digest": facts.image_digest or None, "cached": facts.cached},
        "build": facts.build.to_json(),
        "launcher": {"version": facts.launcher_version, "url": facts.issuer},
        "system": facts.system or None,
        "flavor": facts.flavor or None,
        "created": facts.created,
    }
    if facts.relaunch is not None:
        body["relaunch"] = dict(facts.relaunch)
    return body


def image_reference(body: dict[str, Any]) -> str:
    """The reference that runs exactly this image: ``name@digest`` when pinned."""
    image = body.get("image") or {}
    name, digest = str(image.get("name") or ""), str(image.get("digest") or "")
    return f"{name}@{digest}" if digest.startswith("sha256:") and "/" in name else name


def citation(body: dict[str, Any], page_url: str) -> str:
    """A citation text for papers (plain text, one paragraph)."""
    target = body.get("target") or {}
    title = target.get("title") or target.get("source") or body.get("identifier", "")
    year = str(body.get("created", ""))[:4]
    image = body.get("image") or {}
    ref = str(target.get("ref", ""))
    return (f"{title} ({year}). Computational environment of {body.get('identifier', '')} "
            f"at {ref[:12] if len(ref) == 40 else ref}, container image "
            f"{image.get('digest') or image.get('name', '')}. "
            f"nfdi-launcher reproducibility receipt {body.get('id', '')}. {page_url}")
