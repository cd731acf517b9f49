"""``nfdi-launcher receipt verify|keys`` and ``nfdi-launcher build`` with a receipt.

``nfdi-launcher receipt verify FILE [--jwks FILE|URL]``
    FILE is a receipt document (``/api/v1/receipts/<id>``) or a receipt's RO-Crate zip.
    The keys come from ``--jwks`` (a saved ``jwks.json``: works offline, with the launcher
    stopped or gone) or else from the URL the receipt names (``signature.jwks_url``).
    Exit status 0: verified; 1: it does not verify (the reason is printed); 2: unusable input.

``nfdi-launcher receipt keys [--rotate] [--retire KID]``
    Lists the signing keys of this launcher (``c.Receipts.key_dir``); ``--rotate`` makes a
    new key that signs from now on (older ones stay published); ``--retire KID`` drops a
    key's private half (it still verifies, it never signs again).

``nfdi-launcher build ID [--receipt FILE]``
    The builders' command (:class:`builders.cli.BuildApp`); once the image is there it also
    issues a receipt (kind ``build``) into the launcher's store and writes it to FILE.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

from traitlets import Bool, Unicode

from appbase.app import LauncherApp
from builders import BuildEvent
from builders.cli import BuildApp
from fdo.target import LaunchTarget
from launcher import __version__
from launcher.config import LauncherConfig
from launcher.receipts.book import Receipts, dumps
from launcher.receipts.model import BuildFacts, Facts
from launcher.receipts.signing import VerifyError, verify
from launcher.store import Store

#: largest receipt file or JWKS document read (bytes)
MAX_BYTES = 4 << 20


class InputError(Exception):
    """The input cannot be used at all (exit status 2)."""


def read_document(path: Path) -> dict[str, Any]:
    """The receipt document in *path*: JSON, or ``receipt.json`` inside an RO-Crate zip."""
    try:
        data = path.read_bytes()[:MAX_BYTES + 1]
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror}") from err
    if len(data) > MAX_BYTES:
        raise InputError(f"{path} is larger than {MAX_BYTES} bytes; not a receipt")
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                data = z.read("receipt.json")
        except (zipfile.BadZipFile, KeyError) as err:
            raise InputError(f"{path} is a zip without receipt.json; not a receipt's RO-Crate") from err
    try:
        doc = json.loads(data)
    except ValueError as err:
        raise InputError(f"{path} is not JSON") from err
    if not isinstance(doc, dict):
        raise InputError(f"{path} is not a JSON object")
    return doc


def read_jwks(source: str, doc: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The JWKS from a file, a URL, or (no *source*) the URL the receipt names."""
    if not source:
        source = str((doc.get("signature") or {}).get("jwks_url") or "")
        if not source:
            raise InputError("the receipt names no JWKS URL; pass --jwks FILE or URL")
    if source.startswith(("https://", "http://")):
        import requests

        try:
            resp = requests.get(source, timeout=15, stream=True, allow_redirects=False)
            body = resp.raw.read(MAX_BYTES + 1, decode_content=True)
        except requests.RequestException as err:
            raise InputError(f"cannot fetch the keys from {source}: {type(err).__name__}") from err
        if resp.status_code != 200 or len(body) > MAX_BYTES:
            raise InputError(f"cannot fetch the keys from {source}: HTTP {resp.status_code}")
    else:
        try:
            body = Path(source).read_bytes()[:MAX_BYTES]
        except OSError as err:
            raise InputError(f"cannot read the keys from {source}: {err.strerror}") from err
    try:
        jwks = json.loads(body)
    except ValueError as err:
        raise InputError(f"the keys at {source} are not JSON") from err
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise InputError(f"{source} is not a JWKS (an object with \"keys\")")
    return jwks, source


class VerifyApp(LauncherApp):
    """Check a receipt's signature, offline (saved JWKS) or against a launcher's keys."""

    name = "nfdi-launcher-receipt-verify"
    description = __doc__ or ""
    jwks = Unicode("", help="JWKS file or URL (default: the receipt's jwks_url).").tag(config=True)
    aliases = {**LauncherApp.aliases, "jwks": "VerifyApp.jwks"}

    def start(self) -> None:
        if len(self.extra_args) != 1:
            print("usage: nfdi-launcher receipt verify FILE [--jwks FILE|URL]", file=sys.stderr)
            self.exit(2)
        try:
            doc = read_document(Path(self.extra_args[0]))
            keys, where = read_jwks(self.jwks, doc)
            body = verify(doc, keys)
        except InputError as err:
            print(f"error: {err}", file=sys.stderr)
            self.exit(2)
        except VerifyError as err:
            print(f"FAILED: {err}", file=sys.stderr)
            self.exit(1)
        image = body.get("image") or {}
        print(f"OK: receipt {body.get('id')} ({body.get('kind')} of {body.get('identifier')}, "
              f"{body.get('created')}) is signed by key {doc['signature'].get('kid')} of {where}; "
              f"image {image.get('name')} {image.get('digest') or ''}".rstrip())


class KeysApp(LauncherApp):
    """List, rotate or retire this launcher's receipt signing keys."""

    name = "nfdi-launcher-receipt-keys"
    description = __doc__ or ""
    retire = Unicode("", help="Key id whose private half is dropped.").tag(config=True)
    aliases = {**LauncherApp.aliases, "retire": "KeysApp.retire",
               "state-dir": "LauncherConfig.state_dir", "key-dir": "Receipts.key_dir"}
    flags = {**LauncherApp.flags,
             "rotate": ({"KeysApp": {"do_rotate": True}}, "Make a new signing key.")}
    do_rotate = Bool(False, help="Make a new signing key.").tag(config=True)
    classes = [LauncherConfig, Receipts]

    def start(self) -> None:
        from launcher.receipts.signing import KeyRing

        config = LauncherConfig(parent=self)
        ring = KeyRing(Path(Receipts(Store(parent=config), parent=config).key_dir))
        if self.retire:
            try:
                ring.retire(self.retire)
            except FileNotFoundError:
                print(f"error: no key {self.retire} in {ring.directory}", file=sys.stderr)
                self.exit(2)
            print(f"retired {self.retire}: it verifies old receipts, it signs no new ones")
        if self.do_rotate:
            print(f"new signing key {ring.rotate().kid}")
        signer = next((k.kid for k in reversed(ring.keys()) if k.private), "")
        for key in ring.keys():
            role = "signs" if key.kid == signer else ("verifies" if not key.private else "old")
            print(f"{key.kid}  {role}")


class ReceiptApp(LauncherApp):
    """Reproducibility receipts: verify one, manage the signing keys."""

    name = "nfdi-launcher-receipt"
    description = __doc__ or ""
    subcommands = {
        "verify": ("launcher.receipts.cli.VerifyApp", "Verify a receipt (JSON or RO-Crate zip)."),
        "keys": ("launcher.receipts.cli.KeysApp", "List, rotate or retire signing keys."),
    }

    def start(self) -> None:
        if self.subapp is None:
            print("usage: nfdi-launcher receipt verify|keys ... (see --help)", file=sys.stderr)
            self.exit(2)
        super().start()


class ReceiptBuildApp(BuildApp):
    """Build (or find) the image of an identifier, print it, and issue its receipt."""

    receipt = Unicode("", help="Write the build's signed receipt (JSON) to this file.").tag(config=True)
    aliases = {**BuildApp.aliases, "receipt": "ReceiptBuildApp.receipt"}
    classes = [*BuildApp.classes, LauncherConfig, Receipts, Store]

    async def on_built(self, target: LaunchTarget, event: BuildEvent) -> None:
        config = LauncherConfig(parent=self)
        store = Store(parent=config)
        try:
            await asyncio.to_thread(store.start)
            receipts = Receipts(store, parent=config)
            facts = Facts(kind="build", target=target, image=event.image or "",
                          image_digest=str(event.extra.get("image_digest") or ""),
                          build=BuildFacts.from_json(event.extra.get("build") or {}),
                          launcher_version=__version__, issuer=receipts.public_url,
                          cached=event.cached)
            doc = await receipts.issue(facts)
        finally:
            store.close()
        print(f"receipt {doc['receipt']['id']} (signed by key {doc['signature']['kid']})",
              file=sys.stderr, flush=True)
        if self.receipt:
            Path(self.receipt).write_text(dumps(doc), encoding="utf-8")
