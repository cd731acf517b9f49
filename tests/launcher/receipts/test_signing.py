"""Signed receipts: a changed field, a foreign key or a rotated key, as a verifier sees them."""

from __future__ import annotations

import copy
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from launcher.receipts.book import Receipts, dumps
from launcher.receipts.model import canonical, make_body, valid_id
from launcher.receipts.signing import KeyRing, VerifyError, sign, verify
from tests.launcher.receipts.conftest import facts


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every scalar in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, (*path, i))
    else:
        yield path


def changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if value is None:
        return "x"
    return str(value) + "x" if str(value) else "x"


async def test_a_receipt_verifies_and_any_changed_field_does_not(receipts: Receipts) -> None:
    doc = await receipts.issue(facts())
    jwks = receipts.jwks()
    assert verify(doc, jwks)["id"] == doc["receipt"]["id"]
    paths = list(leaves(doc["receipt"]))
    assert len(paths) > 30  # every fact of the body, chain hops and build facts included
    for path in paths:
        bad = copy.deepcopy(doc)
        node = bad["receipt"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = changed(node[path[-1]])
        with pytest.raises(VerifyError, match="changed after signing|not an nfdi-launcher receipt"):
            verify(bad, jwks)
    added = copy.deepcopy(doc)
    added["receipt"]["user"] = "mallory"
    with pytest.raises(VerifyError, match="changed after signing"):
        verify(added, jwks)


async def test_the_signature_is_a_detached_ed25519_jws_over_the_canonical_body(receipts: Receipts) -> None:
    import base64

    doc = await receipts.issue(facts())
    head, payload, sig = doc["signature"]["jws"].split(".")
    assert payload == ""  # detached: the body is beside it, never inside
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    assert header["alg"] == "Ed25519"
    assert header["kid"] == doc["signature"]["kid"]
    # any JOSE library can check it: re-attach the canonical body as the payload
    from joserfc import jws
    from joserfc.jwk import OKPKey

    key = OKPKey.import_key(receipts.jwks()["keys"][0])
    attached = f"{head}.{base64.urlsafe_b64encode(canonical(doc['receipt'])).decode().rstrip('=')}.{sig}"
    assert jws.deserialize_compact(attached, key, algorithms=["Ed25519"]).payload == canonical(doc["receipt"])


async def test_no_user_secret_or_name_is_in_a_receipt(receipts: Receipts) -> None:
    doc = await receipts.issue(facts(), user_name="alice-secret-name")
    text = dumps(doc)
    assert "alice-secret-name" not in text
    for word in ("token", "password", "client_ip", "user"):
        assert word not in json.dumps(doc["receipt"]).lower()
    assert valid_id(doc["receipt"]["id"])


async def test_rotation_keeps_old_receipts_verifiable_and_retired_keys_sign_nothing(
        receipts: Receipts) -> None:
    old = await receipts.issue(facts())
    new_key = receipts.ring.rotate()
    new = await receipts.issue(facts())
    assert new["signature"]["kid"] == new_key.kid != old["signature"]["kid"]
    jwks = receipts.jwks()
    assert {k["kid"] for k in jwks["keys"]} == {old["signature"]["kid"], new_key.kid}
    assert all("d" not in k for k in jwks["keys"])  # never a private half
    assert verify(old, jwks) and verify(new, jwks)
    receipts.ring.retire(old["signature"]["kid"])
    assert verify(old, receipts.jwks())  # retired keys still verify
    receipts.ring.retire(new_key.kid)
    assert receipts.ring.signing_key().kid not in (old["signature"]["kid"], new_key.kid)


def test_keys_are_private_files(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path / "keys")
    key = ring.signing_key()
    path = tmp_path / "keys" / f"{key.kid}.jwk"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert json.loads(path.read_text())["d"]
    assert ring.signing_key().kid == key.kid  # made once, then reused


async def test_a_foreign_key_or_a_bad_signature_is_refused_clearly(receipts: Receipts,
                                                                   tmp_path: Path) -> None:
    foreign = KeyRing(tmp_path / "foreign").signing_key()
    body = make_body("a" * 26, facts())
    doc = {"receipt": body, "signature": {"jws": sign(body, foreign)}}
    with pytest.raises(VerifyError, match=f"signed by key '{foreign.kid}', which is not in"):
        verify(doc, receipts.jwks())
    for bad, reason in [({"receipt": body}, "not a receipt document"),
                        ({"receipt": body, "signature": {"jws": "abc"}}, "not a detached JWS"),
                        ({"receipt": dict(body, type="x"), "signature": {"jws": "a..b"}},
                         "not an nfdi-launcher receipt")]:
        with pytest.raises(VerifyError, match=reason):
            verify(bad, receipts.jwks())
    hs256 = "eyJhbGciOiJIUzI1NiJ9..c2ln"  # {"alg":"HS256"}
    with pytest.raises(VerifyError, match="unsupported signature algorithm 'HS256'"):
        verify({"receipt": body, "signature": {"jws": hs256}}, receipts.jwks())
