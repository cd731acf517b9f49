"""Benchmark: launching a Binder image onto the Slurm system versus the bare floor.

Starts its own services on loopback, as the tests do: a one-node Slurm cluster
(scripts/slurm-cluster.sh), a registry with its TLS endpoint (the setup CA), an Outpost with
the Slurm backend, and a JupyterHub with the real OutpostSpawner. The image is the local
Jupyter base (790 MB), pushed to the registry and launched pinned by digest.

- **launch**: ``POST /users/bench/servers/<s>`` on the hub until the server's ``/api`` answers
  through the hub's proxy (what the user's browser reaches): OutpostSpawner → Outpost →
  batchspawner's SlurmSpawner → ``sbatch`` → job script → ``ch-run … jupyterhub-singleuser``.
- **floor**: ``sbatch`` (as the same job account) of a script that runs the same
  ``ch-run … jupyterhub-singleuser`` on the already pulled image, until its ``/api`` answers
  on the node.
- **first**: the very first launch, with an empty Charliecloud storage (the image is pulled).

After the first launch, launches and floors run as back-to-back pairs (order alternating);
``hpc_launch_ratio`` is the median of the per-pair ratios (a pair sees the same machine
load), ``hpc_cached_ratio`` the median launch over the first launch. Goals: launch ratio
≤ 1.2, cached ratio ≤ 0.5. Prints progress to stderr and ONE JSON object on the last line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness.hub import BASE_IMAGE, Hub, free_port, start_hub, wait_for  # noqa: E402
from tests.harness.registry import start_registry, start_tls_endpoint  # noqa: E402
from tests.harness.slurm import JOB_USER, HpcSite, job_user_ids, start_cluster  # noqa: E402
from tests.outpost.outpost_proc import make_outpost  # noqa: E402
from tests.outpost.scenarios.hpc.conftest import (  # noqa: E402
    HPC_FLAVORS,
    HpcOutpost,
    hpc_hub_config,
    hpc_options,
    slurm_config,
)

RUNS = 9
FLOOR_SCRIPT = """#!/bin/bash
#SBATCH --output={log}
#SBATCH --chdir={work}
#SBATCH --cpus-per-task=1
#SBATCH --mem=1G
set -euo pipefail
echo "$(date +%T.%3N) phase: start"
scratch="/tmp/nfdi-bench-floor-$SLURM_JOB_ID"
mkdir -m 0700 "$scratch" "$scratch/home"
trap 'rm -rf -- "$scratch"' EXIT
cp -a {image}/home/jovyan/. "$scratch/home/"
export USER="$(id -un)" JUPYTERHUB_SERVICE_URL="http://127.0.0.1:{port}{prefix}"
ch-run --no-passwd --uid=1000 --gid=1000 --private-tmp --set-env \\
  --set-env=HOME=/home/jovyan -b "$scratch/home:/home/jovyan" -b {work}:/home/jovyan/work \\
  -c /home/jovyan {image} -- jupyterhub-singleuser
"""


def api_answers(url: str) -> bool:
    # No redirects: until the proxy has the route the hub answers with a redirect to its
    # login, and following it would triple the load the measurement puts on the hub.
    try:
        r = requests.get(url, timeout=2, allow_redirects=False)
    except requests.RequestException:
        return False
    return r.status_code == 200 and "version" in r.text


def wait_api(url: str, timeout: float = 600, hub: Hub | None = None,
             server: str = "") -> None:
    """Until *url* answers (checked every 0.1 s); with *hub*, fail soon (checked every
    second) once the hub gave the server up."""
    polls = [0]

    def ready() -> bool:
        if api_answers(url):
            return True
        polls[0] += 1
        if hub is not None and polls[0] % 10 == 0:
            state = hub.api("GET", "/users/bench").json().get("servers", {}).get(server)
            if not state:
                raise RuntimeError(f"the launch of {server} failed:\n{hub.log_tail()}")
        return False

    wait_for(ready, timeout, url, interval=0.1)


@dataclass
class Run:
    seconds: float
    job: str
    log: Path  # the job's output: "Jupyter Server ... is running at" has the listen time


def launch(hub: Hub, site: HpcSite, server: str, image: str) -> Run:
    hub.ensure_user("bench")
    t0 = time.perf_counter()
    r = hub.api("POST", f"/users/bench/servers/{server}", json=hpc_options(image))
    if r.status_code not in (201, 202):
        raise RuntimeError(f"spawn refused: {r.status_code} {r.text}")
    wait_api(f"{hub.url}user/bench/{server}/api", hub=hub, server=server)
    elapsed = time.perf_counter() - t0
    [job] = [j["id"] for j in site.cluster.jobs() if j["state"] == "RUNNING"]
    hub.stop_server("bench", server)
    [log] = site.users.glob(f"*/*/logs/slurm-{job}.log")
    return Run(elapsed, job, log)


def floor(site: HpcSite, hub: Hub, image_dir: Path, work: Path, n: int) -> Run:
    port, prefix = free_port(), f"/user/bench/floor{n}/"
    script = FLOOR_SCRIPT.format(log=work / f"floor-{n}.log", work=work, image=image_dir,
                                 port=port, prefix=prefix)
    env = {**site.cluster.env, "JUPYTERHUB_API_TOKEN": hub.token, "JUPYTERHUB_USER": "bench",
           "JUPYTERHUB_API_URL": hub.api_url, "JUPYTERHUB_SERVICE_PREFIX": prefix,
           "JUPYTERHUB_CLIENT_ID": f"jupyterhub-user-bench-floor{n}",
           "JUPYTERHUB_BASE_URL": "/", "JUPYTERHUB_OAUTH_CALLBACK_URL": prefix + "oauth_callback"}
    t0 = time.perf_counter()
    out = subprocess.run(["runuser", "-u", JOB_USER, "--", "sbatch", "--parsable",
                          "--export=ALL"], input=script, capture_output=True, text=True,
                         env=env, timeout=60, check=True)
    job = out.stdout.strip().split(";")[0]
    try:
        wait_api(f"http://127.0.0.1:{port}{prefix}api")
        return Run(time.perf_counter() - t0, job, work / f"floor-{n}.log")
    finally:
        site.cluster.run("scancel", job)
        site.cluster.wait_gone(job)


_STAMP = r"(\d\d):(\d\d):(\d\d\.\d+)"


def _seconds(match: re.Match[str]) -> float:
    h, m, sec = match.groups()[:3]
    return int(h) * 3600 + int(m) * 60 + float(sec)


def in_job(site: HpcSite, run: Run) -> float:
    """Seconds from sbatch to the server listening, as Slurm and the server logged them:
    the part of a run that is the cluster's and the image's, not the launch path's."""
    ctld = (site.cluster.workdir / "log" / "slurmctld.log").read_text()
    submit = re.search(rf"T{_STAMP}\] _slurm_rpc_submit_batch_job: JobId={run.job} ", ctld)
    listen = re.search(rf" {_STAMP} ServerApp\] Jupyter Server \S+ is running at",
                       run.log.read_text(errors="replace"))
    if not (submit and listen):
        raise RuntimeError(f"no submit/listen times for job {run.job}")
    return _seconds(listen) - _seconds(submit)


def setup_site(work: Path) -> HpcSite:
    uid, gid = job_user_ids()
    work.chmod(0o755)
    site = HpcSite(cluster=start_cluster(work / "slurm"), root=work / "site")
    for path in (site.charliecloud.parent, site.users):
        path.mkdir(parents=True, mode=0o700)
        os.chown(path, uid, gid)
    return site


def push_image(registry_host: str) -> str:
    """The base image in the registry; its pinned reference ``name:tag@sha256:...``."""
    ref = f"{registry_host}/nfdi-bench-hpc/base:6.1.1"
    subprocess.run(["docker", "tag", BASE_IMAGE, ref], check=True, capture_output=True)
    try:
        out = subprocess.run(["docker", "push", ref], check=True, capture_output=True,
                             text=True, timeout=900).stdout
    finally:
        subprocess.run(["docker", "rmi", ref], capture_output=True)
    digest = [w for w in out.split() if w.startswith("sha256:")][-1]
    return f"{ref}@{digest}"


def charliecloud_image_dir(site: HpcSite, image: str, registry_host: str, tls_host: str) -> Path:
    """Where the first launch unpacked *image* (pulled by digest from the TLS endpoint)."""
    pinned = image.split("@")[0].rsplit(":", 1)[0] + "@" + image.split("@")[1]
    pinned = pinned.replace(registry_host, tls_host)
    return site.charliecloud / "img" / pinned.replace(":", "+").replace("/", "%")


def measure_pairs(hub: Hub, site: HpcSite, image: str, image_dir: Path) -> dict[str, list[Run]]:
    """RUNS back-to-back pairs of launch and floor, the order alternating."""
    floor_work = site.users / "bench-floor"
    subprocess.run(["runuser", "-u", JOB_USER, "--", "mkdir", "-p", str(floor_work)],
                   check=True)
    runs: dict[str, list[Run]] = {"launch": [], "floor": []}
    for i in range(RUNS):
        order = ["launch", "floor"] if i % 2 == 0 else ["floor", "launch"]
        for name in order:
            run = (launch(hub, site, f"r{i}", image) if name == "launch"
                   else floor(site, hub, image_dir, floor_work, i))
            runs[name].append(run)
            print(f"run {i} {name}: {run.seconds:.2f} s", file=sys.stderr)
    return runs


def figures(first: float, times: dict[str, list[float]],
            overhead: dict[str, list[float]]) -> dict[str, object]:
    """The bench's JSON line."""
    med = {k: statistics.median(v) for k, v in times.items()}
    pairs = [a / b for a, b in zip(times["launch"], times["floor"], strict=True)]
    return {
        "hpc_launch_ratio": round(statistics.median(pairs), 3),
        "hpc_cached_ratio": round(med["launch"] / first, 3),
        "hpc_launch_median_s": round(med["launch"], 3),
        "hpc_floor_median_s": round(med["floor"], 3),
        "hpc_first_launch_s": round(first, 3),
        # seconds each path adds to "sbatch until the server listens" (median): hub, Outpost,
        # squeue polling and proxy for launch; the client's own polling for floor
        "hpc_launch_overhead_s": round(statistics.median(overhead["launch"]), 3),
        "hpc_floor_overhead_s": round(statistics.median(overhead["floor"]), 3),
        "runs": RUNS,
        "launch_s": [round(t, 3) for t in times["launch"]],
        "floor_s": [round(t, 3) for t in times["floor"]],
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "goals": {"hpc_launch_ratio": "<= 1.2", "hpc_cached_ratio": "<= 0.5"},
    }


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-hpc-"))
    site = setup_site(work)
    registry = start_registry(work / "registry")
    tls = start_tls_endpoint(registry, work / "registry-tls")
    hub: Hub | None = None
    outpost = None
    try:
        image = push_image(registry.host)
        extra = slurm_config(site, registry, tls)
        outpost = HpcOutpost(make_outpost(work / "outpost", flavors=HPC_FLAVORS,
                                          hubs=("hub-a",), extra_config=extra), site)
        hub = start_hub(work / "hub", spawner="outpost", config=hpc_hub_config(outpost))
        first = launch(hub, site, "first", image).seconds
        print(f"first launch (pull): {first:.2f} s", file=sys.stderr)
        image_dir = charliecloud_image_dir(site, image, registry.host, tls.host)
        runs = measure_pairs(hub, site, image, image_dir)
        times = {k: [r.seconds for r in v] for k, v in runs.items()}
        # what each path adds to sbatch-to-listening (the part the cluster and the image take)
        overhead = {k: [r.seconds - in_job(site, r) for r in v] for k, v in runs.items()}
    finally:
        if hub is not None:
            hub.stop()
        if outpost is not None:
            outpost.proc.stop()
            site.cluster.cancel_all(outpost.proc.prefix)
        tls.stop()
        registry.stop()
        site.cluster.stop()
        if os.environ.get("BENCH_KEEP"):  # logs for a timeline: slurm/log, site/hpc-users
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures(first, times, overhead)))


if __name__ == "__main__":
    main()
