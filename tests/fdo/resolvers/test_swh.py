"""Software Heritage: peeling rel -> rev -> dir with the recorded API objects, vault polling."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fdo.errors import UpstreamError
from fdo.resolve import Resolution
from tests.fdo.conftest import fixture_json
from tests.fdo.resolvers.test_doi import vault_done
from tests.harness.replay import FIXTURES, RecordedRequest, ReplayServer

REV = "aafb16d69fd30ff58afdd69036a26047f3aebdc6"
SWH = "https://archive.softwareheritage.org"


def test_revision_is_peeled_to_its_directory(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    directory = fixture_json(f"swh-revision-{REV}.json")["directory"]
    vault_done(replay, directory)
    target = resolution().resolve(f"swh:1:rev:{REV}")
    assert (target.kind, target.ref) == ("swh", f"swh:1:dir:{directory}")
    assert target.launch_path == f"v2/swhid/swh:1:dir:{directory}"
    assert [(h.from_, h.to) for h in target.chain] == [(f"swh:1:rev:{REV}", f"swh:1:dir:{directory}")]
    assert target.files[0].url == f"{SWH}/api/1/vault/flat/swh:1:dir:{directory}/raw/"


def test_release_peels_to_revision_then_directory(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    """The target revision e005cb77... is CONSTRUCTED in the shape of the recorded revision."""
    rel = fixture_json("swh-release-b9db10d00835e9a43e2eebef2db1d04d4ae82342.json")
    rev = dict(fixture_json(f"swh-revision-{REV}.json"), id=rel["target"], directory="1" * 40)
    replay.add(f"{SWH}/api/1/revision/{rel['target']}/", body=rev)
    vault_done(replay, "1" * 40)
    target = resolution().resolve("swh:1:rel:b9db10d00835e9a43e2eebef2db1d04d4ae82342")
    assert target.ref == "swh:1:dir:" + "1" * 40
    assert len(target.chain) == 2


def test_snapshot_without_head_offers_branches(resolution: Callable[..., Resolution]) -> None:
    target = resolution().resolve("swh:1:snp:6a3a2cf0b2b90ce7ae1cf0a221ed68035b686f5a")
    assert target.ambiguous
    labels = [c.label for c in target.choices]
    assert "refs/heads/master" in labels
    assert "refs/tags/dpkt-1.7" in labels
    assert all(c.identifier.startswith("swh:1:rev:") for c in target.choices)


def test_snapshot_with_anchor_follows_the_anchor(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    directory = fixture_json(f"swh-revision-{REV}.json")["directory"]
    vault_done(replay, directory)
    swhid = f"swh:1:snp:6a3a2cf0b2b90ce7ae1cf0a221ed68035b686f5a;anchor=swh:1:rev:{REV}"
    assert resolution().resolve(swhid).ref == f"swh:1:dir:{directory}"


PENDING_DIR = "swh:1:dir:977fc4b98c0e85816348cebd3b12026407c368b6"
PENDING_URL = f"{SWH}/api/1/vault/flat/{PENDING_DIR}/"


def _count_pending_polls(replay: ReplayServer) -> list[RecordedRequest]:
    """GETs of the vault status answer the recorded *pending* status (static test data of
    swh-web-client); the POST that requests cooking is served from the same fixture."""
    polls: list[RecordedRequest] = []
    body = (FIXTURES / "swh-vault-flat-pending-977fc4b9.json").read_bytes()

    def pending(req: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        polls.append(req)
        return 200, {"Content-Type": "application/json"}, body

    replay.add(PENDING_URL, handler=pending)
    return polls


@pytest.mark.parametrize(("traits", "gets"), [
    ({"vault_max_polls": 4, "vault_poll_interval": 0.0, "vault_max_wait": 300.0}, 3),  # count bound
    ({"vault_max_polls": 100, "vault_poll_interval": 0.0, "vault_max_wait": 0.0}, 0),  # time bound
])
def test_vault_pending_is_polled_with_a_bound(
    resolution: Callable[..., Resolution], replay: ReplayServer, traits: dict[str, float], gets: int,
) -> None:
    polls = _count_pending_polls(replay)
    target = resolution(SwhResolver=traits).resolve(PENDING_DIR)
    assert len(polls) == gets  # after the POST that requests cooking
    assert [r.method for r in replay.requests] == ["POST"] + ["GET"] * gets
    assert any("still preparing" in w for w in target.warnings)
    assert target.provenance["vault_status_url"] == PENDING_URL  # fetch polls it again


def test_vault_failure_is_an_upstream_error(resolution: Callable[..., Resolution], replay: ReplayServer) -> None:
    url = f"{SWH}/api/1/vault/flat/swh:1:dir:{'2' * 40}/"
    replay.add(url, method="POST", body={"status": "failed", "progress_message": "boom", "swhid": "x"})
    with pytest.raises(UpstreamError, match="boom"):
        resolution().resolve("swh:1:dir:" + "2" * 40)
