"""The ``receipts`` table of the launcher's store (:mod:`launcher.store`) and its access.

``receipt_keys`` holds the public half of every signing key any process of this launcher
used, so replicas sharing one database publish each other's keys (each keeps its private key
in its own key directory) and a key made by a restarted pod still verifies old receipts.

One row per receipt: the signed body (canonical JSON, exactly the signed bytes) and its
signature, plus columns to find receipts by image digest (build facts of a cached image)
and by user ("My launches"). ``user_name`` is the hub user who launched; it is never part
of the body and never served by the receipt API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from launcher.store import metadata

receipts_table = sa.Table(
    "receipts", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "launch" | "build"
    sa.Column("created", sa.String(32), nullable=False, index=True),  # RFC 3339 UTC
    sa.Column("identifier", sa.Text, nullable=False),
    sa.Column("image_digest", sa.String(100), nullable=False, index=True),
    sa.Column("user_name", sa.String(255), nullable=False, default="", index=True),
    sa.Column("body", sa.Text, nullable=False),  # canonical JSON: the signed bytes
    sa.Column("signature", sa.Text, nullable=False),  # detached compact JWS
)


keys_table = sa.Table(
    "receipt_keys", metadata,
    sa.Column("kid", sa.String(100), primary_key=True),
    sa.Column("jwk", sa.Text, nullable=False),  # the public JWK (JSON)
    sa.Column("created", sa.BigInteger, nullable=False),
)


#: which hub server a launch receipt belongs to ("My launches" links each server's receipt);
#: never part of a receipt
servers_table = sa.Table(
    "receipt_servers", metadata,
    sa.Column("receipt_id", sa.String(32), primary_key=True),
    sa.Column("user_name", sa.String(255), nullable=False, index=True),
    sa.Column("server_name", sa.String(255), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
)


@dataclass(frozen=True)
class Row:
    id: str
    body: dict[str, Any]
    signature: str
    user_name: str


def insert(conn: Connection, receipt_id: str, body: dict[str, Any], body_text: str,
           signature: str, user_name: str) -> None:
    conn.execute(receipts_table.insert().values(
        id=receipt_id, kind=body["kind"], created=body["created"],
        identifier=body["identifier"][:4096], image_digest=(body["image"]["digest"] or "")[:100],
        user_name=user_name[:255], body=body_text, signature=signature))


def _row(found: Any) -> Row:
    return Row(id=found.id, body=json.loads(found.body), signature=found.signature,
               user_name=found.user_name)


def select(conn: Connection, receipt_id: str) -> Row | None:
    found = conn.execute(sa.select(receipts_table).where(receipts_table.c.id == receipt_id)).first()
    return _row(found) if found is not None else None


def latest_for_image(conn: Connection, digest: str) -> Row | None:
    """The newest receipt of image *digest* that saw its build (base image, repo2docker)."""
    query = (sa.select(receipts_table).where(receipts_table.c.image_digest == digest)
             .order_by(receipts_table.c.created.desc()).limit(20))
    rows = [_row(r) for r in conn.execute(query)]
    for row in rows:
        if (row.body.get("build") or {}).get("built_at"):
            return row
    return rows[0] if rows else None


def for_user(conn: Connection, user_name: str, limit: int = 50) -> list[Row]:
    """The user's newest receipts (for "My launches")."""
    query = (sa.select(receipts_table).where(receipts_table.c.user_name == user_name)
             .order_by(receipts_table.c.created.desc()).limit(limit))
    return [_row(r) for r in conn.execute(query)]


def publish_keys(conn: Connection, keys: list[dict[str, Any]]) -> None:
    """Record public JWKs (``kid``, ``created``) that are not recorded yet."""
    kids = [key["kid"] for key in keys]
    known = set(conn.execute(sa.select(keys_table.c.kid).where(keys_table.c.kid.in_(kids))).scalars())
    for key in keys:
        if key["kid"] in known:
            continue
        public = {k: v for k, v in key.items() if k not in ("d", "created")}
        try:
            with conn.begin_nested():  # another thread of this process may publish it first
                conn.execute(keys_table.insert().values(kid=key["kid"], jwk=json.dumps(public),
                                                        created=int(key.get("created") or 0)))
        except sa.exc.IntegrityError:
            pass


def published_keys(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(keys_table).order_by(keys_table.c.created))
    return [dict(json.loads(r.jwk)) for r in rows]


def note_server(conn: Connection, receipt_id: str, user_name: str, server_name: str,
                created: str) -> None:
    conn.execute(servers_table.insert().values(receipt_id=receipt_id, user_name=user_name[:255],
                                               server_name=server_name[:255], created=created))


def latest_by_server(conn: Connection, user_name: str) -> dict[str, str]:
    """server name -> id of the newest launch receipt of that server of *user_name*."""
    query = (sa.select(servers_table.c.server_name, servers_table.c.receipt_id)
             .where(servers_table.c.user_name == user_name)
             .order_by(servers_table.c.created, servers_table.c.receipt_id))
    return {server: rid for server, rid in conn.execute(query)}
