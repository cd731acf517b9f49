"""The executor's pod API calls against a recorded conversation of a real Kubernetes server.

The recording: k8s-openapi's ``job-create`` test against a real Kubernetes v1.33 API server
(kind), see ``tests/fixtures/k8s-replays/v1-33/job-create.json.source.txt``: a pod that ran
``exit 5``, listed, then deleted by label selector. The replay server answers exactly
those recorded requests (method, path and query), with the server's recorded bytes;
anything else is 404. Through it, the official ``kubernetes`` client (our PodApi) lists
the pods, our status functions read the real failed pod, and the delete-by-selector
request is the one the real server answered.

What this does NOT cover, because no recording of it could be found (in
kubernetes-client/python, jupyterhub/kubespawner or elsewhere): a pod create answered
``409 AlreadyExists``, a followed pod log. Those paths run against the in-memory stand-in
in test_k8s_executor.py, which is not a cluster.

The recording is a third-party data file; if ``tests/fixtures/k8s-replays/`` is not in
this checkout the test says so and is skipped (point NFDI_LAUNCHER_K8S_REPLAYS at a copy).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from kubernetes import client

from builders.executors import buildpod
from builders.executors.kubernetes import PodApi
from tests.harness.replay import ReplayServer

RECORDED_HOST = "https://recorded-kube-apiserver.invalid"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "k8s-replays"


def recording(name: str) -> list[dict[str, Any]]:
    for base in (FIXTURES, Path(os.environ.get("NFDI_LAUNCHER_K8S_REPLAYS", "/nonexistent"))):
        path = base / "v1-33" / name
        if path.exists():
            entries: list[dict[str, Any]] = json.loads(path.read_text())
            return entries
    pytest.skip(f"recorded Kubernetes conversation {name} is not in tests/fixtures/k8s-replays "
                "(a third-party data file; see docs/kubernetes.md)")


@pytest.fixture
def recorded_api(replay: ReplayServer) -> PodApi:
    for entry in recording("job-create.json"):
        if entry["request_url"].startswith("/api/v1/namespaces/default/pods"):
            replay.add(RECORDED_HOST + entry["request_url"].replace("?&", "?"),
                       method=entry["request_method"], status=entry["response_status_code"],
                       body=entry["response_body"], headers={"Content-Type": "application/json"})
    config = client.Configuration(host=replay.url_for(RECORDED_HOST))
    return PodApi(client.CoreV1Api(client.ApiClient(config)), "default", timeout=10)


def test_a_real_failed_pod_is_read_as_a_failed_build(recorded_api: PodApi, replay: ReplayServer) -> None:
    pods = recorded_api.list_pods()
    assert [(r.method, r.path.rsplit("/api/", 1)[1]) for r in replay.requests] == [
        ("GET", "v1/namespaces/default/pods")]
    failed = [p for p in pods if p["metadata"]["name"].startswith("k8s-openapi-tests-create-job-")]
    assert len(failed) == 1
    pod = failed[0]
    assert buildpod.pod_outcome(pod) == buildpod.Outcome(True, False, "build pod failed: exit code 5 (Error)")
    # finished long ago: the housekeeping of the next build would remove it
    finished = buildpod.finished_at(pod)
    assert finished is not None
    assert buildpod.stale_pods([pod], finished + 901, 900) == [pod["metadata"]["name"]]
    assert buildpod.stale_pods([pod], finished + 10, 900) == []
    # a pod of the same name building something else is never followed
    assert buildpod.claim_decision(pod, "registry.example.org/x:1") == "collision"


def test_delete_by_selector_is_the_request_the_server_answered(recorded_api: PodApi, replay: ReplayServer) -> None:
    deleted = recorded_api.delete_collection("job-name=k8s-openapi-tests-create-job")
    assert deleted == [p["metadata"]["name"] for p in recorded_api.list_pods()
                       if p["metadata"]["name"].startswith("k8s-openapi-tests-create-job-")]
    delete = [r for r in replay.requests if r.method == "DELETE"]
    assert len(delete) == 1
    assert delete[0].path.endswith("/api/v1/namespaces/default/pods")
    assert dict(parse_qsl(delete[0].query)) == {"labelSelector": "job-name=k8s-openapi-tests-create-job"}
