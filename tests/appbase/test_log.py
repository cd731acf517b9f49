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


GH_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.mark.parametrize(
    "message",
    [
        # issue 10, finding 4: the home form sends a pasted URL percent-encoded
        f"200 GET /launch?id=https%3A%2F%2Fuser%3A{SECRET}%40github.com%2Fo%2Fr (127.0.0.1) 3.1ms",
        f"GET /launch?id=https%253A%252F%252Fuser%253A{SECRET}%2540github.com%252Fo%252Fr",  # twice
        f"GET /launch?id=https%3A%2F%2Fgithub.com%2Fo%2Fr%3Ftoken%3D{SECRET}",
        f"GET /launch?id=https%3A%2F%2Fgithub.com%2Fo%2Fr%23access_token%3D{SECRET}",
        f"opening https://example.org/cb#access_token={SECRET}&state=x",
        f"GET /v2/git/https%3A%2F%2Fgithub.com%2F{GH_TOKEN}%2Fr/HEAD",
        f"clone of {GH_TOKEN} failed",
        f"GET /launch?id=Authorization%3A%20token%20{SECRET}",
    ],
)
def test_encoded_and_bare_secrets_are_redacted(message: str) -> None:
    secret = GH_TOKEN if GH_TOKEN in message else SECRET
    out = log.scrub(message)
    assert secret not in out
    assert log.REDACTED in out


def test_decoding_a_secret_cannot_forge_a_log_line() -> None:
    out = log.scrub(f"GET /launch?id=https%3A%2F%2Fu%3A{SECRET}%40h.org%0A%5BE%2000%3A00%5D%20fake")
    assert "\n" not in out
    assert SECRET not in out


def test_encoded_words_without_secrets_keep_their_spelling() -> None:
    text = "GET /v2/git/https%3A%2F%2Fgithub.com%2Fo%2Fr/HEAD?urlpath=lab%2Ftree%2Fx.ipynb"
    assert log.scrub(text) == text
