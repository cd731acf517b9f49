"""The receipts of a store (SQLite and PostgreSQL): build facts carried over to a cached image's
receipt, a user's list, relaunch checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launcher.receipts.book import ReceiptError, Receipts
from launcher.receipts.model import BuildFacts
from tests.launcher.receipts.conftest import DIGEST, facts


async def test_a_cached_image_gets_the_build_facts_of_its_first_receipt(receipts: Receipts) -> None:
    built = await receipts.issue(facts(), user_name="alice")
    # found built later (memo or registry): the builder knows only the content digest
    cached = await receipts.issue(facts(cached=True, build=BuildFacts(content_digest="sha256:" + "c" * 64)),
                                  user_name="bob")
    assert cached["receipt"]["image"]["cached"] is True
    assert cached["receipt"]["build"] == built["receipt"]["build"]
    assert cached["receipt"]["build"]["base_image"] == "docker.io/local/jupyter-base:6.1.1"
    other = await receipts.issue(facts(image_digest="sha256:" + "d" * 64, build=BuildFacts()))
    assert other["receipt"]["build"]["repo2docker_version"] is None  # not reported: said so


async def test_a_users_receipts_newest_first_and_only_theirs(receipts: Receipts) -> None:
    first = await receipts.issue(facts(created="2026-01-01T00:00:00Z"), user_name="alice")
    second = await receipts.issue(facts(created="2026-01-02T00:00:00Z"), user_name="alice")
    await receipts.issue(facts(), user_name="bob")
    mine = await receipts.for_user("alice")
    assert [b["id"] for b in mine] == [second["receipt"]["id"], first["receipt"]["id"]]
    assert await receipts.for_user("nobody") == []


async def test_relaunch_checks(receipts: Receipts) -> None:
    ok = await receipts.issue(facts())
    assert (await receipts.for_relaunch(ok["receipt"]["id"]))["image"]["digest"] == DIGEST
    outside = await receipts.issue(facts(image=f"docker.io/library/python:3@{DIGEST}"))
    with pytest.raises(ReceiptError, match="not from this launcher's registry") as err:
        await receipts.for_relaunch(outside["receipt"]["id"])
    assert err.value.status_code == 403
    with pytest.raises(ReceiptError, match="malformed receipt id"):
        await receipts.for_relaunch("../../etc/passwd")
    with pytest.raises(ReceiptError, match="no receipt") as err:
        await receipts.for_relaunch("z" * 26)
    assert err.value.status_code == 404


async def test_replicas_publish_each_others_keys(receipts: Receipts, tmp_path: Path) -> None:
    """Two launcher processes on one database, each with its own key directory."""
    other = Receipts(receipts.store, ["127.0.0.1:5000/nfdi-launcher/"], key_dir=str(tmp_path / "other"))
    other.ring.signing_key()
    other.publish()
    mine = await receipts.issue(facts())
    theirs = await other.issue(facts())
    for replica in (receipts, other):
        kids = {k["kid"] for k in (await replica.key_set())["keys"]}
        assert {mine["signature"]["kid"], theirs["signature"]["kid"]} <= kids
        assert all("d" not in k for k in (await replica.key_set())["keys"])
        for doc in (mine, theirs):  # either replica relaunches either's receipts
            assert (await replica.for_relaunch(doc["receipt"]["id"]))["id"] == doc["receipt"]["id"]
    other.ring.rotate()  # a restarted pod with a new key: published with its first receipt
    rotated = await other.issue(facts())
    assert rotated["signature"]["kid"] in {k["kid"] for k in (await receipts.key_set())["keys"]}


async def test_each_server_of_a_user_links_its_newest_receipt(receipts: Receipts) -> None:
    older = await receipts.issue(facts(created="2026-01-01T00:00:00Z"), "alice", "repo-abc")
    newer = await receipts.issue(facts(created="2026-01-02T00:00:00Z"), "alice", "repo-abc")
    other = await receipts.issue(facts(), "alice", "other-def")
    await receipts.issue(facts(), "bob", "repo-abc")
    await receipts.issue(facts(kind="build"), "alice")  # a build has no server
    assert await receipts.by_server("alice") == {"repo-abc": newer["receipt"]["id"],
                                                 "other-def": other["receipt"]["id"]}
    assert older["receipt"]["id"] not in (await receipts.by_server("alice")).values()
    assert "repo-abc" not in json.dumps(newer)  # the server is beside the receipt, not in it
