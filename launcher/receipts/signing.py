"""Receipt signatures: Ed25519 keys in files, a public JWKS, detached JWS (joserfc).

Keys
    One JSON file per key, ``<kid>.jwk``, in a directory (mode 0700, files 0600): a private
    Ed25519 JWK (RFC 8037) with ``kid`` = its RFC 7638 thumbprint and ``created``. The
    newest private key signs; every key in the directory, private or public-only, is
    published in the JWKS, so receipts signed before a rotation still verify. Retiring a
    key = keeping only its public half (:meth:`KeyRing.retire`).

Signature
    A JWS in compact serialization with a detached payload (RFC 7515 appendix F):
    ``<protected header>..<signature>``, ``alg`` ``Ed25519`` (RFC 9864), the payload being
    :func:`launcher.receipts.model.canonical` of the body. Verifying needs the body (it is
    beside the signature in every receipt document) and a JWKS holding ``kid``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from launcher.receipts.model import RECEIPT_TYPE, canonical

ALG = "Ed25519"
#: the header's ``typ``: what the signature is of
JWS_TYP = "nfdi-launcher-receipt+jws"


class VerifyError(Exception):
    """A receipt does not verify; ``str()`` says why, for a person."""


@dataclass(frozen=True)
class Key:
    kid: str
    created: int  # nanoseconds since the epoch
    jwk: OKPKey

    @property
    def private(self) -> bool:
        return self.jwk.is_private

    def public_json(self) -> dict[str, Any]:
        data = dict(self.jwk.as_dict(private=False))
        data.update(kid=self.kid, alg=ALG, use="sig")
        return data


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class KeyRing:
    """The signing keys in *directory* (created on first use)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: tuple[int, list[Key]] | None = None

    def keys(self) -> list[Key]:
        """Every key, oldest first (read again when the directory changed: a rotation or
        retirement by ``nfdi-launcher receipt keys`` applies without a restart)."""
        try:
            stamp = self.directory.stat().st_mtime_ns
        except FileNotFoundError:
            return []
        if self._cache is not None and self._cache[0] == stamp:
            return list(self._cache[1])
        found: list[Key] = []
        for path in sorted(self.directory.glob("*.jwk")):
            found.append(load_key(json.loads(path.read_text(encoding="utf-8")), str(path)))
        found.sort(key=lambda k: (k.created, k.kid))
        self._cache = (stamp, found)
        return list(found)

    def signing_key(self) -> Key:
        """The newest private key; one is made when there is none."""
        private = [k for k in self.keys() if k.private]
        return private[-1] if private else self.rotate()

    def rotate(self) -> Key:
        """Make a new key that signs from now on; older keys stay published."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        jwk = OKPKey.generate_key("Ed25519")
        kid = jwk.thumbprint()
        # nanoseconds: two rotations in one second still order (the newest signs)
        created = max([time.time_ns(), *(int(k.created) + 1 for k in self.keys())])
        data = dict(jwk.as_dict(private=True), kid=kid, created=created)
        _write_private(self.directory / f"{kid}.jwk", json.dumps(data) + "\n")
        return Key(kid, created, jwk)

    def retire(self, kid: str) -> None:
        """Keep only the public half of key *kid* (it verifies, it never signs again)."""
        path = self.directory / f"{kid}.jwk"
        key = load_key(json.loads(path.read_text(encoding="utf-8")), str(path))
        data = dict(key.public_json(), created=key.created)
        _write_private(path, json.dumps(data) + "\n")

    def jwks(self, extra: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
        """The public JWKS: every key of the ring, then *extra* public keys."""
        keys = [k.public_json() for k in self.keys()]
        seen = {k["kid"] for k in keys}
        keys += [dict(k) for k in extra if k.get("kid") not in seen]
        return {"keys": keys}


def load_key(data: dict[str, Any], where: str = "key") -> Key:
    if data.get("kty") != "OKP" or data.get("crv") != "Ed25519":
        raise ValueError(f"{where}: not an Ed25519 key (kty OKP, crv Ed25519)")
    fields: dict[str, str | list[str]] = {k: str(data[k]) for k in ("kty", "crv", "x", "d") if k in data}
    jwk = OKPKey.import_key(fields)
    kid = str(data.get("kid") or jwk.thumbprint())
    return Key(kid, int(data.get("created") or 0), jwk)


def sign(body: dict[str, Any], key: Key) -> str:
    """Detached compact JWS of *body*'s canonical bytes."""
    header = {"alg": ALG, "kid": key.kid, "typ": JWS_TYP}
    token = jws.serialize_compact(header, canonical(body), key.jwk, algorithms=[ALG])
    head, _payload, signature = token.split(".")
    return f"{head}..{signature}"


def key_set(jwks: dict[str, Any]) -> dict[str, OKPKey]:
    """kid -> public key of a JWKS document (other key types are ignored)."""
    keys: dict[str, OKPKey] = {}
    for entry in jwks.get("keys") or []:
        if not isinstance(entry, dict) or not entry.get("kid"):
            continue
        try:
            public = {k: v for k, v in entry.items() if k != "d"}
            keys[str(entry["kid"])] = load_key(public).jwk
        except (ValueError, JoseError):
            continue
    return keys


def signature_header(signature: str) -> dict[str, Any]:
    import base64

    head, sep, rest = signature.partition(".")
    payload, sep2, _sig = rest.partition(".")
    if not (sep and sep2) or payload:
        raise VerifyError("the signature is not a detached JWS (<header>..<signature>)")
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except ValueError as err:
        raise VerifyError("the signature's header is not valid base64url JSON") from err
    if not isinstance(header, dict):
        raise VerifyError("the signature's header is not a JSON object")
    return header


def verify(document: dict[str, Any], jwks: dict[str, Any]) -> dict[str, Any]:
    """Check a receipt document (``{"receipt": body, "signature": {"jws": ...}}``) against
    *jwks*; returns the body, raises :class:`VerifyError` saying what is wrong."""
    body = document.get("receipt")
    sig = (document.get("signature") or {}).get("jws") if isinstance(document.get("signature"), dict) else None
    if not isinstance(body, dict) or not isinstance(sig, str):
        raise VerifyError("not a receipt document: it needs \"receipt\" (an object) and "
                          "\"signature\": {\"jws\": ...}")
    if body.get("type") != RECEIPT_TYPE:
        raise VerifyError(f"not an nfdi-launcher receipt (type {str(body.get('type'))[:60]!r})")
    header = signature_header(sig)
    if header.get("alg") != ALG:
        raise VerifyError(f"unsupported signature algorithm {str(header.get('alg'))[:30]!r} "
                          f"(receipts are signed with {ALG})")
    kid = str(header.get("kid", ""))
    keys = key_set(jwks)
    if kid not in keys:
        raise VerifyError(f"signed by key {kid[:64]!r}, which is not in the launcher's key set "
                          f"(known: {', '.join(sorted(keys)) or 'none'})")
    try:
        payload = canonical(body)
    except ValueError as err:
        raise VerifyError(f"the receipt body cannot be canonicalised: {err}") from err
    try:
        jws.deserialize_compact(sig, keys[kid], algorithms=[ALG], payload=payload)
    except JoseError as err:
        raise VerifyError("the signature does not match the receipt: a field was changed "
                          "after signing, or the signature belongs to another receipt") from err
    return body
