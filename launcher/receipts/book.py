"""Receipts: issue (sign + store), look up, check for relaunch. The operator's knobs.

``c.Receipts.*`` in the config file. One :class:`Receipts` per process, made by
:func:`launcher.app.make_app` (and by ``nfdi-launcher build``) on the launcher's store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection
from traitlets import Bool, Dict, List, Unicode, default
from traitlets.config import LoggingConfigurable

from launcher.receipts import table
from launcher.receipts.model import (
    BuildFacts,
    Facts,
    canonical,
    image_reference,
    make_body,
    new_id,
    valid_id,
)
from launcher.receipts.signing import KeyRing, VerifyError, sign, verify
from launcher.store import Store

JWKS_PATH = ".well-known/jwks.json"


class ReceiptError(Exception):
    """A receipt cannot be used; ``status_code`` and a message for a person."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class Receipts(LoggingConfigurable):
    """Signs and keeps a receipt of every successful build and launch."""

    enabled = Bool(
        True, help="Issue a signed receipt for every successful build and launch."
    ).tag(config=True)

    key_dir = Unicode(
        help="""Directory of the Ed25519 signing keys (``<kid>.jwk``, mode 0600; made on
        first use). The newest private key signs; every key there, and every public key
        recorded in the store by any replica, is published at
        ``<base_url>.well-known/jwks.json``. Replicas may share one key (a mounted Secret)
        or each keep their own. Default: ``<LauncherConfig.state_dir>/receipt-keys``.""",
    ).tag(config=True)

    @default("key_dir")
    def _key_dir_default(self) -> str:
        from launcher.config import default_state_dir

        parent_dir = getattr(self.parent, "state_dir", "") or str(default_state_dir())
        return str(Path(parent_dir).expanduser() / "receipt-keys")

    extra_public_keys = List(
        Dict(),
        [],
        help="""Further public JWKs (``{"kty": "OKP", "crv": "Ed25519", "x", "kid"}``)
        published in the JWKS, e.g. keys of a retired installation whose receipts should
        still verify against this launcher.""",
    ).tag(config=True)

    public_url = Unicode(
        "",
        help="""Public base URL of this launcher written into receipts (``launcher.url``;
        their JWKS is at ``<public_url>.well-known/jwks.json``). Empty: the launch
        request's own base URL (LauncherConfig.badge_base_url when set).""",
    ).tag(config=True)

    allowed_image_prefixes = List(
        Unicode(),
        [],
        help="""Image name prefixes (``host/prefix``) a receipt may relaunch. Empty: the
        builder's registry and image prefix (``BuildManager.registry_url`` +
        ``BuildManager.image_prefix``). A receipt naming another image is refused.""",
    ).tag(config=True)

    def __init__(self, store: Store, default_prefixes: list[str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.default_prefixes = default_prefixes or []
        self.ring = KeyRing(Path(self.key_dir))

    # -- keys ---------------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        """The keys of this process's key directory and the configured extra keys."""
        return self.ring.jwks(self.extra_public_keys)

    def publish(self) -> None:
        """Record this process's public keys in the store (blocking; at start)."""
        keys = [dict(k.public_json(), created=k.created) for k in self.ring.keys()]
        with self.store.begin() as conn:
            table.publish_keys(conn, keys)

    async def key_set(self) -> dict[str, Any]:
        """Every key that signed receipts here: this process's, the other replicas' (from
        the store), the configured extra ones. This is what /.well-known/jwks.json serves."""
        stored = await self.store.call(table.published_keys)
        return self.ring.jwks([*self.extra_public_keys, *stored])

    # -- issue and look up -----------------------------------------------------------------
    async def issue(self, facts: Facts, user_name: str = "", server_name: str = "") -> dict[str, Any]:
        """Sign and store a receipt of *facts* (of *user_name*'s hub server *server_name*,
        kept beside it, never in it); returns its document."""
        key = self.ring.signing_key()
        public = dict(key.public_json(), created=key.created)

        def write(conn: Connection) -> dict[str, Any]:  # one transaction: look up, sign, insert
            if facts.image_digest:
                earlier = table.latest_for_image(conn, facts.image_digest)
                if earlier is not None:
                    facts.build = facts.build.merged(BuildFacts.from_json(earlier.body.get("build") or {}))
            table.publish_keys(conn, [public])  # a key rotated meanwhile is published first
            body = make_body(new_id(), facts)
            signature = sign(body, key)
            table.insert(conn, body["id"], body, canonical(body).decode("utf-8"), signature, user_name)
            if user_name and server_name:
                table.note_server(conn, body["id"], user_name, server_name, body["created"])
            return document(body, signature)

        doc = await self.store.call(write)
        self.log.info("receipt %s: %s %s -> %s", doc["receipt"]["id"], facts.kind,
                      facts.target.identifier, facts.image)
        return doc

    async def build_facts(self, digest: str) -> BuildFacts | None:
        row = await self.store.call(table.latest_for_image, digest)
        return BuildFacts.from_json(row.body.get("build") or {}) if row else None

    async def get(self, receipt_id: str) -> dict[str, Any]:
        """The stored receipt document; ReceiptError 400 (malformed id) / 404 (unknown)."""
        if not valid_id(receipt_id):
            raise ReceiptError(400, "malformed receipt id: a receipt id is 26 characters "
                                    "a-z and 2-7")
        row = await self.store.call(table.select, receipt_id)
        if row is None:
            raise ReceiptError(404, f"no receipt {receipt_id} on this launcher")
        return document(row.body, row.signature)

    async def by_server(self, user_name: str) -> dict[str, str]:
        """server name -> newest launch receipt id, for *user_name*'s hub servers."""
        return await self.store.call(table.latest_by_server, user_name)

    async def for_user(self, user_name: str, limit: int = 50) -> list[dict[str, Any]]:
        rows = await self.store.call(table.for_user, user_name, limit)
        return [row.body for row in rows]

    # -- relaunch -------------------------------------------------------------------------
    def prefixes(self) -> list[str]:
        return list(self.allowed_image_prefixes) or list(self.default_prefixes)

    async def for_relaunch(self, receipt_id: str) -> dict[str, Any]:
        """The body of a receipt that may be relaunched here (verified against this
        launcher's keys, image from an allowed registry); ReceiptError otherwise."""
        doc = await self.get(receipt_id)
        try:
            body = verify(doc, await self.key_set())
        except VerifyError as err:
            raise ReceiptError(409, f"receipt {receipt_id} does not verify with this "
                                    f"launcher's keys, so it is not relaunched: {err}") from err
        image = image_reference(body)
        prefixes = self.prefixes()
        if not image or (prefixes and not any(image.startswith(p) for p in prefixes)):
            raise ReceiptError(403, f"receipt {receipt_id} names the image {image[:200]!r}, "
                                    f"which is not from this launcher's registry "
                                    f"({', '.join(prefixes)}); it is not relaunched")
        return body


def document(body: dict[str, Any], signature: str) -> dict[str, Any]:
    """The receipt document: the body and its detached signature (what verify reads)."""
    from launcher.receipts.signing import signature_header

    header = signature_header(signature)
    issuer = str((body.get("launcher") or {}).get("url") or "")
    return {"receipt": body,
            "signature": {"jws": signature, "alg": header.get("alg"), "kid": header.get("kid"),
                          "jwks_url": issuer + JWKS_PATH if issuer else None}}


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
