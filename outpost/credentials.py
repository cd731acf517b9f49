"""The hubs an Outpost trusts: hub name -> password for HTTP Basic auth.

Read from a YAML/JSON file (``Outpost.credentials_file``), the environment variable
``OUTPOST_CREDENTIALS`` (the same JSON) and upstream's ``usernames``/``passwords``
(semicolon-separated, matched by position). Passwords are never logged.
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
        creds.update({str(k): str(v) for k, v in data.items()})
    if os.environ.get("OUTPOST_CREDENTIALS"):
        creds.update({str(k): str(v) for k, v in
                      json.loads(os.environ["OUTPOST_CREDENTIALS"]).items()})
    names = [n for n in os.environ.get("usernames", "").split(";") if n]
    passwords = os.environ.get("passwords", "").split(";")
    creds.update(dict(zip(names, passwords, strict=False)))
    return creds
