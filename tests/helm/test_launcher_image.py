"""The launcher image (helm/Dockerfile) runs the way the chart runs it.

Built here for real FROM the local Debian base (layers cached between runs), then started
with ``docker run`` exactly as the rendered Deployment describes the container: its args,
its environment (Secret values taken from the rendered Secrets), the rendered
``nfdi_launcher_config.py`` and registry ``config.json`` mounted where the Deployment
mounts them, a read-only root file system with /tmp writable, the non-root user. The
probe's path and port must answer 200. What differs from a cluster: host networking (so
the container reaches the test registry and the Postgres server on loopback) and
``start-url`` hand-off (no hub is started here; the hub-api check is covered by the
launcher's own tests). Two replicas share one real PostgreSQL server (the store the
chart's Secret names, $NFDI_LAUNCHER_DB_URL), as the Deployment's replicas do.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy

from tests.harness.hub import free_port
from tests.harness.postgres import Postgres
from tests.harness.registry import Registry
from tests.helm import charts
from tests.helm.images import build_image, docker_run_options

pytestmark = [pytest.mark.docker, pytest.mark.registry]


@pytest.fixture(scope="session")
def launcher_image() -> str:
    return build_image("launcher")


@pytest.fixture(scope="module")
def receipt_keys(launcher_image: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The signing key, made the way docs/kubernetes.md tells operators (with the image)."""
    keys = tmp_path_factory.mktemp("receipt-keys")
    keys.chmod(0o777)
    subprocess.run(["docker", "run", "--rm", "--user", "10001", "-v", f"{keys}:/keys", launcher_image,
                    "receipt", "keys", "--rotate", "--Receipts.key_dir=/keys/receipt-keys"],
                   check=True, capture_output=True, text=True, timeout=120)
    files = {p.name: p.read_bytes() for p in (keys / "receipt-keys").glob("*.jwk")}
    assert len(files) == 1
    return files


def render_replica(registry: Registry, pg: Postgres, port: int) -> charts.Rendered:
    values = charts.merge(charts.load_values("nfdi-launcher", "minimal-values.yaml"), {
        "launcher": {"port": port, "handoff": "start-url", "hubUrl": "https://hub.example.org/"},
        "registry": {"url": registry.url},
        "store": {"url": pg.url},
    })
    return charts.render("nfdi-launcher", values)


def run_replica(image: str, rendered: charts.Rendered, workdir: Path,
                keys: dict[str, bytes]) -> tuple[str, dict[str, Any], list[str]]:
    workdir.mkdir()
    workdir.chmod(0o755)
    opts, container = docker_run_options(rendered, "launcher", workdir, {"launcher-receipt-keys": keys})
    name = f"nfdi-launcher-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--network", "host", *opts,
                    image, *container["args"]], check=True, capture_output=True, text=True)
    return name, container, opts


def probe(container: dict[str, Any], name: str) -> requests.Response:
    http = container["readinessProbe"]["httpGet"]
    url = f"http://127.0.0.1:{charts.port_number(container, http['port'])}{http['path']}"
    deadline = time.monotonic() + 120  # a loaded 2-core machine starts slowly
    while time.monotonic() < deadline:
        try:
            return requests.get(url, timeout=5)
        except requests.ConnectionError:
            time.sleep(0.5)
    logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
    raise AssertionError(f"no answer on {url}; logs:\n{logs[-3000:]}")


def test_two_replicas_start_share_the_store_and_answer_the_chart_probes(
        launcher_image: str, registry: Registry, postgres: Postgres, receipt_keys: dict[str, bytes],
        tmp_path: Path) -> None:
    """Two containers, each run as the chart's Deployment runs a replica, on one Postgres."""
    names: list[str] = []
    try:
        replicas = []
        for i in range(2):
            rendered = render_replica(registry, postgres, free_port())
            name, container, opts = run_replica(launcher_image, rendered, tmp_path / f"replica-{i}", receipt_keys)
            names.append(name)
            replicas.append((name, container, opts))
        for name, container, opts in replicas:
            answer = probe(container, name)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["ok"] is True
            assert {c["service"] for c in body["checks"]} == {"Docker registry", "JupyterHub API"}
            http = container["readinessProbe"]["httpGet"]
            port = charts.port_number(container, http["port"])
            versions = requests.get(f"http://127.0.0.1:{port}{http['path'].removesuffix('health')}versions", timeout=5)
            assert versions.status_code == 200
            # logs are JSON lines as configured, with no secret in them
            logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
            assert logs.strip()
            assert all(line.startswith("{") for line in logs.strip().splitlines())
            env = {e["name"]: e["value"] for e in opts_env(opts)}
            assert env["JUPYTERHUB_API_TOKEN"] not in logs
            assert postgres.password not in logs
        # both replicas publish the one shared receipt key: a receipt verifies at either
        jwks = []
        for _name, container, _opts in replicas:
            http = container["readinessProbe"]["httpGet"]
            port = charts.port_number(container, http["port"])
            base = http["path"].removesuffix("health")
            jwks.append(requests.get(f"http://127.0.0.1:{port}{base}.well-known/jwks.json", timeout=5).json())
        kid = next(iter(receipt_keys)).removesuffix(".jwk")
        assert jwks[0] == jwks[1]
        assert [k["kid"] for k in jwks[0]["keys"]] == [kid]
        assert "d" not in jwks[0]["keys"][0]  # only the public half is published
        # the replicas' shared state is in the one database the chart's Secret names
        engine = sqlalchemy.create_engine(postgres.url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            assert "jobs" in sqlalchemy.inspect(engine).get_table_names()
        finally:
            engine.dispose()
        # SIGTERM (what the kubelet sends) stops a replica promptly and cleanly
        t0 = time.monotonic()
        subprocess.run(["docker", "stop", "-t", "20", names[0]], check=True, capture_output=True)
        assert time.monotonic() - t0 < 10
        state = json.loads(subprocess.run(["docker", "inspect", names[0]], capture_output=True, text=True,
                                          check=True).stdout)[0]["State"]
        assert state["ExitCode"] == 0, state
    finally:
        for name in names:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def opts_env(opts: list[str]) -> list[dict[str, str]]:
    return [{"name": v.split("=", 1)[0], "value": v.split("=", 1)[1]}
            for flag, v in zip(opts, opts[1:], strict=False) if flag == "-e"]
