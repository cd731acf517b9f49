"""The hubs an Outpost trusts: hub name -> password for HTTP Basic auth.

Read from a YAML/JSON file (``Outpost.credentials_file``), the environment variable
``OUTPOST_CREDENTIALS`` (the same JSON) and upstream's ``usernames``/``passwords``
(semicolon-separated, matched by position). Passwords are never logged.

A hub whose password is missing, null or empty is refused when the file is loaded (the
Outpost does not start): YAML ``hubC:`` is null, which ``str()`` would turn into the
guessable password ``"None"``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml


def load_credentials(path: str = "") -> dict[str, str]:
    """hub name -> password, merged from the file *path* (if any) and the environment."""
    creds: dict[str, str] = {}
    if path:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping hub -> password")
        creds.update(_checked(data, path))
    if os.environ.get("OUTPOST_CREDENTIALS"):
        data = json.loads(os.environ["OUTPOST_CREDENTIALS"])
        if not isinstance(data, dict):
            raise ValueError("OUTPOST_CREDENTIALS: expected a JSON object hub -> password")
        creds.update(_checked(data, "OUTPOST_CREDENTIALS"))
    names = [n for n in os.environ.get("usernames", "").split(";") if n]
    passwords = os.environ.get("passwords", "").split(";")
    if len(passwords) < len(names):
        passwords += [""] * (len(names) - len(passwords))
    creds.update(_checked(dict(zip(names, passwords, strict=False)), "usernames/passwords"))
    return creds


def _checked(data: dict[object, object], where: str) -> dict[str, str]:
    """hub -> password, each password a non-empty string; a clear error naming the hub."""
    out = {}
    for hub, password in data.items():
        if not isinstance(password, (str, int)) or isinstance(password, bool) or not str(password).strip():
            raise ValueError(f"{where}: hub {str(hub)!r} has no password (null or empty); give "
                             "every hub a password, or remove the hub")
        out[str(hub)] = str(password)
    return out
