"""Receipts through ``nfdi-launcher stack``: real registry, repo2docker, hub, Outpost, git.

The scenario repository ``receipts-branch`` is launched from its branch ``main``; the branch is
then moved to a new commit. The receipt still relaunches the first image, by digest, with no
resolve and no build (counted: no request reaches the git server, repo2docker is not started);
a ``/v2`` link with the branch builds the new commit. Then the image is deleted from the
registry (by digest, from its repository and the content alias): the receipt rebuilds it from
the pinned commit and says whether the new digest is the old one. A person opens the
receipt page in Chromium and presses *Relaunch exactly this* (before the image is deleted).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
import yaml

from launcher import events as grammar
from tests.harness.stack import PUBLIC_GIT, RunningStack, StackPool, hub_login

pytestmark = [pytest.mark.docker, pytest.mark.registry, pytest.mark.hub, pytest.mark.slow]

SCENARIO = "receipts-branch"
REPO = PUBLIC_GIT + SCENARIO
USER = "receipt-researcher"
LAUNCH_TIMEOUT = 600
#: the launcher's default cache time of a resolution that pinned a branch (ResolverConfig)
MUTABLE_TTL = 60.0


def stream(stack: RunningStack, path: str, token: str) -> list[dict[str, Any]]:
    """GET an event stream of the launcher until ready/failed; the events."""
    got: list[dict[str, Any]] = []
    with requests.get(stack.launcher + path, stream=True, timeout=(10, LAUNCH_TIMEOUT),
                      headers={"Accept": "text/event-stream", "Authorization": f"token {token}"}) as r:
        assert r.status_code == 200, r.text[:300]
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                got.append(json.loads(line[len("data: "):]))
                if got[-1].get("phase") in ("ready", "failed"):
                    break
    assert got and got[-1].get("phase") == "ready", got[-5:]
    return got


def receipt(stack: RunningStack, rid: str) -> dict[str, Any]:
    r = requests.get(f"{stack.launcher}api/v1/receipts/{rid}", timeout=30)
    assert r.status_code == 200, r.text[:300]
    return dict(r.json())


def registry_url(stack: RunningStack) -> str:
    config = yaml.safe_load((stack.state / "registry.yml").read_text())
    return "http://" + config["http"]["addr"]


def repo2docker_starts(stack: RunningStack) -> int:
    """How often the stack's launcher started repo2docker (its log line per build)."""
    return stack.log("jupyterhub").count("starting repo2docker for")


def running_image_digests(stack: RunningStack, user: str) -> set[str]:
    """Manifest digests of the images the user's containers run (from the local engine)."""
    prefix = (stack.state / "name-prefix").read_text().strip()
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"name=^{prefix}"], capture_output=True,
                         text=True, timeout=30, check=True).stdout.split()
    digests: set[str] = set()
    for cid in ids:
        info = json.loads(subprocess.run(["docker", "inspect", cid], capture_output=True, text=True,
                                         timeout=30, check=True).stdout)[0]
        if user not in json.dumps(info["Config"].get("Env", [])):
            continue
        image = json.loads(subprocess.run(["docker", "image", "inspect", info["Image"]],
                                          capture_output=True, text=True, timeout=30,
                                          check=True).stdout)[0]
        digests |= {d.partition("@")[2] for d in image.get("RepoDigests") or []}
    return digests


@pytest.fixture(scope="module")
def stack(stack_pool: StackPool) -> RunningStack:
    return stack_pool.get()


@pytest.fixture(scope="module")
def token(stack: RunningStack) -> str:
    return stack.user_token(USER)


@pytest.fixture(scope="module")
def branch(git_server: Any) -> Iterator[dict[str, str]]:
    """The scenario's commits; ``main`` is put back on commit 1 afterwards."""
    bare = git_server.root / f"{SCENARIO}.git"
    shas = {"first": git_server.sha(SCENARIO, "refs/heads/main"),
            "second": git_server.sha(SCENARIO, "refs/heads/next")}
    yield shas
    subprocess.run(["git", "--git-dir", str(bare), "update-ref", "refs/heads/main", shas["first"]],
                   check=True, timeout=30)


@pytest.fixture(scope="module")
def first(stack: RunningStack, token: str, branch: dict[str, str]) -> dict[str, Any]:
    """Launch ``<repo>/main`` once; the ready event (plus when the branch was resolved)."""
    resolved_at = time.monotonic()
    evs = stream(stack, f"build/git/{quote(REPO, safe='')}/main", token)
    assert grammar.validate_stream(evs) == []
    return {**evs[-1], "resolved_at": resolved_at}


def test_a_launch_links_its_receipt_with_every_fact(stack: RunningStack, token: str,
                                                    first: dict[str, Any],
                                                    branch: dict[str, str]) -> None:
    assert first["receipt_url"] == f"{stack.launcher}receipt/{first['receipt']}"
    doc = receipt(stack, first["receipt"])
    body = doc["receipt"]
    assert body["kind"] == "launch"
    assert body["identifier"] == f"git/{quote(REPO, safe='')}/main"
    assert body["target"]["ref"] == branch["first"]
    assert body["target"]["source"] == REPO
    assert body["chain"], body
    name, digest = first["image"].split("@")
    assert body["image"]["name"] == name
    assert body["image"]["digest"] == digest
    assert body["build"]["content_digest"].startswith("sha256:")
    assert body["build"]["repo2docker_version"]
    assert body["build"]["base_image"].endswith("local/jupyter-base:6.1.1")
    assert body["system"] == first["system"]
    assert body["flavor"] == first["flavor"]
    assert USER not in json.dumps(doc)  # who launched is not in the public record
    assert doc["signature"]["jwks_url"] == f"{stack.launcher}.well-known/jwks.json"
    keys = requests.get(doc["signature"]["jwks_url"], timeout=30).json()
    assert doc["signature"]["kid"] in {k["kid"] for k in keys["keys"]}
    mine = requests.get(f"{stack.launcher}api/v1/receipts", timeout=30,
                        headers={"Authorization": f"token {token}"}).json()["receipts"]
    entry = next(r for r in mine if r["id"] == first["receipt"])
    assert entry["server"] == first["server_name"]
    assert entry["links"]["page"] == first["receipt_url"]
    launches = requests.get(f"{stack.launcher}api/v1/servers", timeout=30,
                            headers={"Authorization": f"token {token}"}).json()["launches"]
    mine_now = next(e for e in launches if e["server"] == first["server_name"])
    assert mine_now["receipt_url"] == first["receipt_url"]  # "My launches" links the receipt


def test_a_build_without_launch_leaves_a_build_receipt(stack: RunningStack, token: str,
                                                       first: dict[str, Any]) -> None:
    pinned = first["binder_persistent_request"].removeprefix("v2/")
    evs = stream(stack, f"build/{pinned}?build_only=true", token)
    assert grammar.validate_stream(evs, build_only=True) == []
    assert evs[-1]["imageName"] == first["image"]
    body = receipt(stack, evs[-1]["receipt"])["receipt"]
    assert body["kind"] == "build"
    assert body["image"]["digest"] == first["image"].split("@")[1]
    assert body["image"]["cached"] is True
    assert body["build"]["base_image"]  # the build facts of the image's first receipt


def test_after_the_branch_moved_the_receipt_runs_the_same_image_without_resolve_or_build(
        stack: RunningStack, token: str, git_server: Any, first: dict[str, Any],
        branch: dict[str, str]) -> None:
    bare = git_server.root / f"{SCENARIO}.git"
    subprocess.run(["git", "--git-dir", str(bare), "update-ref", "refs/heads/main", branch["second"]],
                   check=True, timeout=30)
    stack.remove_servers(USER)  # the relaunch starts a new container from the image
    git_requests, builds = len(git_server.requests), repo2docker_starts(stack)
    evs = stream(stack, f"build/receipt/{first['receipt']}", token)
    assert grammar.validate_stream(evs) == []
    assert [r for r in git_server.requests[git_requests:] if SCENARIO in r] == []  # no resolve, no fetch
    assert repo2docker_starts(stack) == builds  # no build
    assert not [e for e in evs if e.get("phase") in ("fetching", "building", "pushing")]
    ready = evs[-1]
    digest = first["image"].split("@")[1]
    assert ready["image"].endswith("@" + digest)
    assert digest in running_image_digests(stack, USER)
    relaunched = receipt(stack, ready["receipt"])["receipt"]
    assert relaunched["relaunch"] == {"of": first["receipt"], "rebuilt": False, "digest_matches": True}
    assert relaunched["target"]["ref"] == branch["first"]
    assert relaunched["image"]["digest"] == digest

    # the same branch through a /v2 link: resolved again (a branch's resolution is cached for
    # c.ResolverConfig.mutable_cache_ttl, 60 s), the new commit built
    time.sleep(max(0.0, MUTABLE_TTL + 1 - (time.monotonic() - first["resolved_at"])))
    evs = stream(stack, f"build/git/{quote(REPO, safe='')}/main", token)
    newer = receipt(stack, evs[-1]["receipt"])["receipt"]
    assert newer["target"]["ref"] == branch["second"]
    assert newer["image"]["digest"] != digest
    assert repo2docker_starts(stack) == builds + 1
    assert [r for r in git_server.requests[git_requests:] if SCENARIO in r]


@pytest.mark.browser
def test_a_person_opens_the_receipt_page_and_relaunches_exactly_this(
        stack: RunningStack, first: dict[str, Any], chromium_page: Any) -> None:
    page = chromium_page
    stack.remove_servers(USER)
    page.goto(first["receipt_url"])  # a receipt page is public: cited in a paper, opened by anyone
    page.wait_for_selector("#receipt-chain")
    digest = first["image"].split("@")[1]
    assert digest in page.text_content("#receipt-digest")
    assert len(page.query_selector_all("#receipt-chain li.node")) >= 4
    assert first["receipt"] in page.input_value("#citation")
    page.click("#copy-citation")
    # a locator, not wait_for_function: its polling evaluates a string, which the page's CSP
    # (no 'unsafe-eval') refuses whenever the first check is false
    page.locator("#copy-citation", has_text="Copied").wait_for()
    page.click("#relaunch")  # launching needs the hub's login, then it goes on by itself
    hub_login(page, stack, USER)
    page.wait_for_url(f"**/user/{USER}/**", timeout=LAUNCH_TIMEOUT * 1000)
    page.wait_for_selector(".jp-LabShell", timeout=120_000)
    assert digest in running_image_digests(stack, USER)
    page.goto(stack.launcher)  # "My launches": the server, with the relaunch's receipt
    row = page.locator("#my-launches tr.launch", has_text=SCENARIO)
    row.locator("a.receipt").wait_for()
    newest = row.locator("a.receipt").get_attribute("href")
    assert newest.startswith(f"{stack.launcher}receipt/")
    assert newest != first["receipt_url"]  # the relaunch has its own receipt ...
    body = receipt(stack, newest.rsplit("/", 1)[1])["receipt"]
    assert body["relaunch"]["of"] == first["receipt"]  # ... which names the one relaunched
    assert page.errors == []


def test_a_deleted_image_is_rebuilt_from_the_pinned_ref_and_the_page_says_if_it_matches(
        stack: RunningStack, token: str, git_server: Any, first: dict[str, Any]) -> None:
    name, digest = first["image"].split("@")
    reg = registry_url(stack)
    host = reg.removeprefix("http://")
    repo = name.removeprefix(host + "/").rpartition(":")[0]
    alias = repo.rpartition("/")[0] + "/content" if "/" in repo else "content"
    for path in (repo, alias):  # gone from the image's repository and from the content alias
        r = requests.delete(f"{reg}/v2/{path}/manifests/{digest}", timeout=30)
        assert r.status_code == 202, (path, r.status_code, r.text[:200])
    stack.remove_servers(USER)
    builds = repo2docker_starts(stack)
    evs = stream(stack, f"build/receipt/{first['receipt']}", token)
    assert grammar.validate_stream(evs) == []
    messages = "".join(e.get("message", "") for e in evs)
    assert "is gone from the registry; rebuilding it from the pinned ref" in messages
    assert repo2docker_starts(stack) == builds + 1
    rebuilt = receipt(stack, evs[-1]["receipt"])["receipt"]
    relaunch = rebuilt["relaunch"]
    assert relaunch["of"] == first["receipt"]
    assert relaunch["rebuilt"] is True
    original = receipt(stack, first["receipt"])["receipt"]
    # the same content, from the pinned commit (the content digest leaves .git out) ...
    assert rebuilt["target"]["ref"] == original["target"]["ref"]
    assert rebuilt["build"]["content_digest"] == original["build"]["content_digest"]
    # ... and the stream, the receipt and the page say whether the image bytes are the same
    # (a fresh clone's .git/index and logs carry the clone's own times, and the build context
    # includes .git, so a rebuild from a new fetch normally differs)
    new = rebuilt["image"]["digest"]
    assert relaunch["digest_matches"] is (new == digest)
    assert relaunch["new_digest"] == new
    page = requests.get(f"{stack.launcher}receipt/{rebuilt['id']}", timeout=30).text
    if new == digest:
        assert "is the receipt's, bit for bit" in messages
        assert "its digest is the original" in page
    else:
        assert f"now {new}, the receipt has {digest}" in messages
        assert f"the digest differs from the original's ({new} instead" in page
    assert f"receipt/{first['receipt']}" in page  # links the receipt it relaunched


@pytest.mark.browser
def test_the_loading_page_stops_to_say_a_rebuilt_image_has_another_digest(
        stack: RunningStack, first: dict[str, Any], chromium_page: Any) -> None:
    """After the test above, the first receipt's digest is gone and its content tag names the
    rebuilt image (a new clone's .git makes its digest differ): relaunching it in a browser
    says so before opening the server."""
    page = chromium_page
    stack.remove_servers(USER)
    page.goto(f"{stack.launcher}v2/receipt/{first['receipt']}")
    hub_login(page, stack, USER)
    page.wait_for_selector("#continue-link", timeout=LAUNCH_TIMEOUT * 1000)
    status = page.text_content("#launch-status")
    assert "rebuilt from the pinned ref: the same content, but another image digest (sha256:" in status
    assert page.get_attribute("#receipt-link", "href").startswith(f"{stack.launcher}receipt/")
    assert "/user/" not in page.url  # it waited for the person
    page.click("#continue-link")
    page.wait_for_selector(".jp-LabShell", timeout=120_000)
