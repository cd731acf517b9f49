"""Secrets never reach the logs: token scrubbing in text and JSON formats."""

from __future__ import annotations

import io
import json
import logging

import pytest

from appbase import log

SECRET = "s3cr3t-T0KEN-value"


@pytest.mark.parametrize(
    "message",
    [
        f"GET /user/alice/lab?token={SECRET}&x=1",
        f"redirect to http://127.0.0.1:8000/user/a/?build_token={SECRET}",
        f"cloning https://oauth2:{SECRET}@gitlab.example.org/g/p.git",
        f"headers: {{'Authorization': 'token {SECRET}'}}",
        f"Authorization: Bearer {SECRET}",
        f"env JUPYTERHUB_API_TOKEN={SECRET}",
        f"{{\"CONTAINER_ENGINE_REGISTRY_PASSWORD\": \"{SECRET}\"}}",
        f"POST /hub/api?access_token={SECRET}",
    ],
)
def test_secret_is_redacted_in_text_and_json(message: str) -> None:
    for json_format in (False, True):
        stream = io.StringIO()
        handler = log.configure(logging.INFO, json_format)
        handler.setStream(stream)
        logging.getLogger("nfdi_launcher.test").info("%s", message)
        out = stream.getvalue()
        assert SECRET not in out
        assert log.REDACTED in out
        if json_format:
            assert json.loads(out.splitlines()[-1])["level"] == "INFO"


def test_exception_text_is_scrubbed() -> None:
    stream = io.StringIO()
    handler = log.configure(logging.INFO, False)
    handler.setStream(stream)
    try:
        raise RuntimeError(f"failed to fetch https://x.org/?token={SECRET}")
    except RuntimeError:
        logging.getLogger("nfdi_launcher.test").exception("boom")
    assert SECRET not in stream.getvalue()
    assert "RuntimeError" in stream.getvalue()


def test_harmless_text_is_unchanged() -> None:
    text = "resolved 10.5281/zenodo.48440 -> https://github.com/o/r/tree/v1.0 (tokens: 3)"
    assert log.scrub(text) == text
