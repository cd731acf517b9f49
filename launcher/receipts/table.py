"""The ``receipts`` table of the launcher's store (:mod:`launcher.store`) and its access.

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
