"""``rocrate-validator`` (roc-validator on PyPI) without the internet.

The validator fetches each JSON-LD ``@context`` a crate names through an HTTP cache
(requests_cache) and has an ``--offline`` mode that only reads that cache. There is no
internet here, so :func:`seed_cache` puts the real RO-Crate context document into such a
cache: the copy ro-crate-py ships (``rocrate/data/ro-crate.jsonld``, the document served at
``https://w3id.org/ro/crate/1.3/context``). :func:`validate` runs the validator's command
line on a crate directory offline and returns (passed, report text).
"""

from __future__ import annotations

import datetime
import io
import subprocess
import sys
from pathlib import Path

ROCRATE_CONTEXT_URL = "https://w3id.org/ro/crate/1.3/context"
VALIDATOR = Path(sys.executable).parent / "rocrate-validator"


def shipped_context() -> bytes:
    import rocrate

    return (Path(rocrate.__file__).parent / "data" / "ro-crate.jsonld").read_bytes()


def seed_cache(cache_name: Path) -> Path:
    """A requests_cache SQLite cache (``<cache_name>.sqlite``) holding the RO-Crate context."""
    import requests
    import urllib3
    from requests_cache import CachedSession

    session = CachedSession(cache_name=str(cache_name), backend="sqlite", expire_after=-1,
                            allowable_codes=(200,), allowable_methods=("GET",))
    response = requests.Response()
    response.status_code = 200
    response.reason = "OK"
    response._content = shipped_context()
    response.url = ROCRATE_CONTEXT_URL
    response.encoding = "utf-8"
    response.headers["Content-Type"] = "application/ld+json"
    response.request = requests.Request("GET", ROCRATE_CONTEXT_URL).prepare()
    response.elapsed = datetime.timedelta(0)
    response.raw = urllib3.HTTPResponse(body=io.BytesIO(response._content), status=200,
                                        headers=dict(response.headers), preload_content=False,
                                        request_url=ROCRATE_CONTEXT_URL)
    session.cache.save_response(response)
    session.close()
    return cache_name


def validate(crate_dir: Path, cache_name: Path, profile: str = "process-run-crate-0.5",
             severity: str = "required", inherit: bool = True) -> tuple[bool, str]:
    """Run ``rocrate-validator validate --offline`` on *crate_dir*; (passed, JSON report).

    *inherit* False checks only the profile's own rules (``-nh``), not those of the RO-Crate
    version it was written for (Process Run Crate 0.5 names RO-Crate 1.1)."""
    proc = subprocess.run(
        [str(VALIDATOR), "-y", "--disable-color", "validate", "--offline",
         "--cache-path", str(cache_name), "--no-auto-profile", "-p", profile,
         *([] if inherit else ["-nh"]),
         "-l", severity, "--output-format", "json", str(crate_dir)],
        capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode == 0, proc.stdout + proc.stderr
