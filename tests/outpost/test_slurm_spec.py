"""Flavor + user_options → Slurm job (pure), squeue parsing, and the job script text."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from typing import Any

import pytest

from outpost.backends import slurm_spec as spec
from outpost.backends.slurm import default_batch_script
from outpost.backends.slurm_spawner import render_script
from outpost.mapping import MappingError

FLAVOR = {"runtime": {"hours": 2},
          "resources": {"partition": "debug", "partitions": ["debug", "gpu"], "cpus": 2,
                        "mem": "4G", "gres": "gpu:a100:1"}}


def job(user_options: dict[str, Any], flavor: dict[str, Any] = FLAVOR,
        **kw: Any) -> spec.SlurmJob:
    runtime = kw.pop("runtime", timedelta(hours=2))
    args: dict[str, Any] = {"job_name": "n", "flavor_runtime": runtime,
                            "job_user_template": "nfdi-hpc", "allowed_accounts": "",
                            "hub": "hub-a", "user_name": "alice", **kw}
    return spec.map_job(user_options, flavor, **args)


def test_flavor_becomes_slurm_options() -> None:
    j = job({})
    assert (j.partition, j.runtime, j.cpus, j.memory, j.gres) == (
        "debug", "0-02:00:00", "2", "4G", "gpu:a100:1")
    assert j.job_user == "nfdi-hpc" and j.account == "" and j.reservation == ""


def test_docker_style_flavor_names_are_understood() -> None:
    j = job({}, {"resources": {"cpu_limit": 0.5, "mem_limit": "512M"}}, runtime=None)
    assert (j.cpus, j.memory, j.runtime, j.partition) == ("1", "512M", "", "")


def test_unicore_fields_choose_partition_project_reservation_and_shorter_time() -> None:
    j = job({"hpc": {"partition": "gpu", "project": "cjsc", "reservation": "course-1"},
             "resources": {"runtime": "30", "nodes": "1"}})
    assert (j.partition, j.account, j.reservation, j.runtime) == (
        "gpu", "cjsc", "course-1", "0-00:30:00")


@pytest.mark.parametrize(("options", "message"), [
    ({"hpc": {"partition": "batch"}}, "not offered with this flavor"),
    ({"resources": {"runtime": "600"}}, "longer than this flavor allows"),
    ({"resources": {"runtime": "-5"}}, "resources.runtime"),
    ({"resources": {"nodes": "4"}}, "one node"),
    ({"hpc": {"project": "a b"}}, "hpc.project"),
    ({"hpc": {"project": "x\n#SBATCH --uid=0"}}, "hpc.project"),
    ({"hpc": {"reservation": "$(id)"}}, "hpc.reservation"),
    ({"hpc": {"account": "root"}}, "may not be used"),
    ({"hpc": "debug"}, "user_options.hpc must be an object"),
])
def test_bad_user_options_are_refused_with_a_reason(options: dict[str, Any],
                                                     message: str) -> None:
    with pytest.raises(MappingError, match=message):
        job(options)


def test_unix_account_only_where_the_operator_allows() -> None:
    assert job({"hpc": {"account": "doe1"}}, allowed_accounts=r"doe[0-9]").job_user == "doe1"
    with pytest.raises(MappingError, match="may not be used"):
        job({"hpc": {"account": "root"}}, allowed_accounts=r"doe[0-9]")
    assert job({}, job_user_template="{user_name}").job_user == "alice"
    with pytest.raises(MappingError, match="No Unix account"):
        job({}, job_user_template="{user_name}", user_name="Alice Smith")


def test_bad_flavor_values_are_refused() -> None:
    with pytest.raises(MappingError, match="flavor mem"):
        job({}, {"resources": {"mem": "lots"}})
    with pytest.raises(MappingError, match="flavor gres"):
        job({}, {"resources": {"gres": "gpu:1 --uid=0"}})


def test_slurm_time_rounds_up_to_minutes() -> None:
    assert spec.slurm_time(timedelta(seconds=20)) == "0-00:01:00"
    assert spec.slurm_time(timedelta(days=1, hours=2, minutes=3)) == "1-02:03:00"


@pytest.mark.parametrize(("image", "expected"), [
    ("127.0.0.1:5000/r/x:v1", ("127.0.0.1:5443/r/x:v1", False)),
    ("127.0.0.1:5000/r/x:v1@sha256:" + "a" * 64, ("127.0.0.1:5443/r/x@sha256:" + "a" * 64, True)),
    ("local/x@sha256:" + "b" * 64, ("local/x@sha256:" + "b" * 64, True)),
])
def test_charliecloud_ref(image: str, expected: tuple[str, bool]) -> None:
    assert spec.charliecloud_ref(image, {"127.0.0.1:5000/": "127.0.0.1:5443/"}) == expected


def test_status_line_and_messages() -> None:
    pending = spec.parse_status("PENDING|(null)|debug|Resources|")
    assert (pending.state, pending.node, pending.reason) == ("PENDING", "", "Resources")
    assert spec.progress_message(pending, 2, "img")[1] == (
        "Slurm: queued in partition debug, position 2 (Resources)")
    pulling = spec.parse_status("RUNNING|n1|debug|None|nfdi:pull")
    assert "pulling img" in spec.progress_message(pulling, None, "img")[1]
    starting = spec.parse_status("RUNNING|n1|debug|None|nfdi:start")
    assert spec.progress_message(starting, None, "img") == (
        70, "Slurm: running on node n1, starting JupyterLab")
    up = spec.parse_status("RUNNING|n1|debug|None|nfdi:addr=10.0.0.7:41234")
    assert (up.host, up.port) == ("10.0.0.7", 41234)
    failed = spec.parse_status("FAILED|n1|debug|NonZeroExitCode|nfdi:failed=image pull "
                               "failed: not in registry")
    text = spec.failure_message("7", failed, ["", "error: not in registry"])
    assert text.startswith("Slurm job 7 ended (FAILED, NonZeroExitCode): image pull failed")
    assert text.endswith("error: not in registry")
    assert spec.parse_status("slurm_load_jobs error: Invalid job id") == spec.JobStatus()


def test_job_script_vars_are_the_jobs_options_and_the_users_paths() -> None:
    got = spec.job_script_vars(job({"hpc": {"project": "p1"}}), user_dir="/s/hub-a/u1",
                               mount_path="/home/jovyan/work/data")
    assert got["log_file"] == "/s/hub-a/u1/logs/slurm-%j.log"
    assert got["work_dir"] == "/s/hub-a/u1/work"
    assert (got["mount_path"], got["mount_rel"]) == ("/home/jovyan/work/data", "/work/data")
    assert (got["partition"], got["runtime"], got["nprocs"], got["memory"], got["account"]) == (
        "debug", "0-02:00:00", "2", "4G", "p1")


def test_default_job_script_renders_to_valid_bash_with_quoted_values(tmp_path: Any) -> None:
    variables = {
        "job_name": "n", "user_dir": "/s/u", "log_file": "/s/u/logs/slurm-%j.log",
        "keepvars": "JUPYTERHUB_API_TOKEN,SLURM_CONF", "partition": "debug",
        "runtime": "0-01:00:00", "nprocs": "1", "memory": "1G", "gres": "", "account": "p",
        "reservation": "", "options": "", "image": "127.0.0.1:5443/r/x:v1", "pinned": "no",
        "storage": "/s/ch/storage", "ca_bundle": "/etc/ca it's.crt", "work_dir": "/s/u/work",
        "home": "/home/jovyan", "mount_path": "/home/jovyan/work", "mount_rel": "/work",
        "server_ip": "127.0.0.1", "service_host": "", "notebook_dir": "/home/jovyan",
        "uid": 1000, "gid": 1000, "pull_timeout": 900, "listen_timeout": 120,
        "tunnel": True, "ssh_node": "login1", "cmd": "jupyterhub-singleuser"}
    script = render_script(default_batch_script(), variables)
    assert "#SBATCH --partition=debug\n#SBATCH --time=0-01:00:00\n" in script
    assert "#SBATCH --account=p\n" in script and "--gres" not in script
    assert "REQUESTS_CA_BUNDLE='/etc/ca it'\"'\"'s.crt'" in script
    assert "JUPYTERHUB_SETUPTUNNEL_URL" in script
    path = tmp_path / "job.sh"
    path.write_text(script)
    check = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    with pytest.raises(Exception, match="undefined"):
        render_script(default_batch_script(), {})
