"""Flavor + Jupyter-JSC ``user_options`` → one Slurm job (pure: no I/O, no processes).

What a job gets, and from where:

==========================  ==========================================================
``--partition``             ``user_options.hpc.partition`` if the flavor lists it in
                            ``resources.partitions``, else the flavor's
                            ``resources.partition`` (else the cluster's default)
``--time``                  the flavor's ``runtime``; ``user_options.resources.runtime``
                            (minutes, UNICORE's field) may only shorten it
``--cpus-per-task``         ``resources.cpus`` (or the Docker flavors' ``cpu_limit``)
``--mem``                   ``resources.mem`` (or ``mem_limit``), Slurm units (``2G``)
``--gres``                  ``resources.gres`` (GPUs are flavors, as on Jupyter4NFDI)
``--account``               ``user_options.hpc.project`` (UNICORE: the budget/group),
                            else ``resources.account``
``--reservation``           ``user_options.hpc.reservation``
Unix account of the job     ``user_options.hpc.account`` (UNICORE: the uid) if the
                            operator allows it, else the operator's ``job_user``
==========================  ==========================================================

Every value that reaches the job script is checked against a narrow pattern here, so
the script template can paste them into ``#SBATCH`` lines and shell words safely.
"""

from __future__ import annotations

import math
import posixpath
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from outpost.mapping import HOME, MappingError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
_GRES = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:.,+-]{0,127}")
_MEM = re.compile(r"[1-9][0-9]{0,8}[KMGT]?")
_UNIX_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_MINUTES = re.compile(r"[1-9][0-9]{0,6}")
#: image references Charliecloud accepts (checked again after the operator's rewrites)
_CH_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:_/@+-]{0,510}")


@dataclass(frozen=True)
class SlurmJob:
    """Everything one job needs besides the hub's environment."""

    job_name: str
    job_user: str
    partition: str = ""
    runtime: str = ""  # Slurm time, "D-HH:MM:SS"
    cpus: str = ""
    memory: str = ""
    gres: str = ""
    account: str = ""
    reservation: str = ""


def _section(user_options: dict[str, Any], key: str) -> dict[str, Any]:
    value = user_options.get(key) or {}
    if not isinstance(value, dict):
        raise MappingError(f"user_options.{key} must be an object")
    return value


def _checked(value: Any, pattern: re.Pattern[str], what: str) -> str:
    text = "" if value is None else str(value)
    if text and not pattern.fullmatch(text):
        raise MappingError(f"{what} {text[:80]!r} contains characters Slurm does not accept here")
    return text


def slurm_time(delta: timedelta) -> str:
    """``timedelta`` → Slurm's ``D-HH:MM:SS``; Slurm counts whole minutes, so round up."""
    minutes = max(1, math.ceil(delta.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    return f"{days}-{rest // 60:02d}:{rest % 60:02d}:00"


def choose_runtime(flavor_runtime: timedelta | None, user_options: dict[str, Any]) -> str:
    requested = _section(user_options, "resources").get("runtime")
    if requested in (None, ""):
        return slurm_time(flavor_runtime) if flavor_runtime else ""
    minutes = _checked(requested, _MINUTES, "resources.runtime (minutes)")
    wanted = timedelta(minutes=int(minutes))
    if flavor_runtime and wanted > flavor_runtime:
        raise MappingError(f"resources.runtime {minutes} min is longer than this flavor allows "
                           f"({slurm_time(flavor_runtime)})")
    return slurm_time(wanted)


def choose_partition(resources: dict[str, Any], hpc: dict[str, Any]) -> str:
    default = _checked(resources.get("partition"), _NAME, "flavor partition")
    wanted = _checked(hpc.get("partition"), _NAME, "hpc.partition")
    if not wanted or wanted == default:
        return default
    allowed = resources.get("partitions") or []
    if wanted not in allowed:
        raise MappingError(f"Partition {wanted!r} is not offered with this flavor "
                           f"(allowed: {', '.join(map(str, allowed)) or default or 'none'})")
    return wanted


def choose_cpus(resources: dict[str, Any]) -> str:
    value = resources.get("cpus", resources.get("cpu_limit"))
    if value in (None, ""):
        return ""
    try:
        cpus = math.ceil(float(value))
    except (TypeError, ValueError) as e:
        raise MappingError(f"flavor cpus {value!r} is not a number") from e
    if not 1 <= cpus <= 4096:
        raise MappingError(f"flavor cpus {value!r} is out of range")
    return str(cpus)


def choose_job_user(template: str, hpc: dict[str, Any], allowed_accounts: str, *,
                    hub: str, user_name: str) -> str:
    """The Unix account that runs the job; ``hpc.account`` only where the operator allows."""
    account = _checked(hpc.get("account"), _UNIX_USER, "hpc.account")
    if account:
        if not (allowed_accounts and re.fullmatch(allowed_accounts, account)):
            raise MappingError(f"hpc.account {account!r} may not be used on this system")
        return account
    try:
        user = template.format(hub=hub, user_name=user_name, account="")
    except (KeyError, IndexError, ValueError) as e:
        raise MappingError(f"job_user template {template!r}: {e}") from e
    if not _UNIX_USER.fullmatch(user):
        raise MappingError(f"No Unix account for this user (job_user gave {user[:40]!r})")
    return user


def map_job(user_options: dict[str, Any], flavor: dict[str, Any], *, job_name: str,
            flavor_runtime: timedelta | None, job_user_template: str,
            allowed_accounts: str, hub: str, user_name: str) -> SlurmJob:
    """The Slurm job of one start; raises :class:`MappingError` with a user-facing text."""
    resources = flavor.get("resources") or {}
    if not isinstance(resources, dict):
        raise MappingError("flavor resources must be a mapping")
    hpc = _section(user_options, "hpc")
    nodes = _section(user_options, "resources").get("nodes")
    if nodes not in (None, "", 1, "1"):
        raise MappingError("JupyterLab runs on one node; resources.nodes must be 1")
    return SlurmJob(
        job_name=job_name,
        job_user=choose_job_user(job_user_template, hpc, allowed_accounts, hub=hub,
                                 user_name=user_name),
        partition=choose_partition(resources, hpc),
        runtime=choose_runtime(flavor_runtime, user_options),
        cpus=choose_cpus(resources),
        memory=_checked(resources.get("mem", resources.get("mem_limit")), _MEM, "flavor mem"),
        gres=_checked(resources.get("gres"), _GRES, "flavor gres"),
        account=_checked(hpc.get("project") or resources.get("account"), _NAME,
                         "hpc.project"),
        reservation=_checked(hpc.get("reservation"), _NAME, "hpc.reservation"),
    )


def charliecloud_ref(image: str, rewrites: dict[str, str]) -> tuple[str, bool]:
    """``(reference ch-image pulls, pinned?)`` for an image the Outpost allowed.

    The operator's *rewrites* (longest matching prefix) send the pull to the registry
    endpoint Charliecloud can use (it speaks https only). ``name:tag@sha256:…`` becomes
    ``name@sha256:…`` (ch-image refuses tag and digest together); a pinned image that is
    already in the storage is not pulled again.
    """
    for prefix in sorted(rewrites, key=len, reverse=True):
        if image.startswith(prefix):
            image = rewrites[prefix] + image[len(prefix):]
            break
    pinned = "@sha256:" in image
    if pinned:
        name, digest = image.split("@", 1)
        last = name.rsplit("/", 1)
        if ":" in last[-1]:
            name = name[: len(name) - len(last[-1])] + last[-1].split(":", 1)[0]
        image = f"{name}@{digest}"
    if not _CH_REF.fullmatch(image):
        raise MappingError(f"Image reference {image[:120]!r} cannot be pulled by Charliecloud")
    return image, pinned



def job_script_vars(job: SlurmJob, *, user_dir: str, mount_path: str) -> dict[str, Any]:
    """The job script's variables of one start: *job*'s Slurm options and the user's paths
    (``work/`` bound at *mount_path*, ``logs/`` for the job log); the backend adds the
    operator's settings."""
    return {
        "job_name": job.job_name, "user_dir": user_dir,
        "log_file": posixpath.join(user_dir, "logs", "slurm-%j.log"),
        "partition": job.partition, "runtime": job.runtime, "nprocs": job.cpus,
        "memory": job.memory, "gres": job.gres, "account": job.account,
        "reservation": job.reservation,
        "work_dir": posixpath.join(user_dir, "work"), "home": HOME,
        "mount_path": mount_path, "mount_rel": mount_path[len(HOME):],
    }

# -- what squeue tells us -------------------------------------------------------------
#: ``batch_query_cmd`` output format: state|node|partition|reason|comment
QUERY_FORMAT = "%T|%N|%P|%r|%k"
#: the job script publishes its phase in the job's comment: ``nfdi:pull``,
#: ``nfdi:addr=<host>:<port>`` (server starting there), ``nfdi:failed=<reason>``
PHASE_PREFIX = "nfdi:"


@dataclass(frozen=True)
class JobStatus:
    state: str = ""
    node: str = ""
    partition: str = ""
    reason: str = ""
    phase: str = ""
    host: str = ""
    port: int = 0


def parse_status(line: str) -> JobStatus:
    """One ``squeue -o QUERY_FORMAT`` line (empty or an error text → empty status)."""
    parts = line.strip().split("|", 4)
    if len(parts) != 5:
        return JobStatus()
    state, node, partition, reason, comment = parts
    phase = comment[len(PHASE_PREFIX):] if comment.startswith(PHASE_PREFIX) else ""
    host, port = "", 0
    match = re.fullmatch(r"addr=([A-Za-z0-9.-]+):([0-9]{1,5})", phase)
    if match:
        host, port = match.group(1), int(match.group(2))
    return JobStatus(state=state, node=node if node not in ("", "(null)") else "",
                     partition=partition, reason=reason, phase=phase, host=host, port=port)


def progress_message(status: JobStatus, position: int | None, image: str) -> tuple[int, str]:
    """``(percent, message)`` of a spawn event for the hub."""
    if status.state == "PENDING":
        where = f"position {position}" if position else "waiting"
        why = f" ({status.reason})" if status.reason and status.reason != "None" else ""
        return 20, f"Slurm: queued in partition {status.partition}, {where}{why}"
    if status.state == "CONFIGURING":
        return 30, f"Slurm: job starting on node {status.node}"
    if status.state == "RUNNING" and status.port:
        return 80, f"Slurm: running on node {status.node}, JupyterLab starting"
    if status.state == "RUNNING" and status.phase == "pull":
        return 50, f"Slurm: running on node {status.node}, pulling {image} with Charliecloud"
    if status.state == "RUNNING" and status.phase == "start":
        return 70, f"Slurm: running on node {status.node}, starting JupyterLab"
    if status.state == "RUNNING":
        return 40, f"Slurm: running on node {status.node}"
    return 10, f"Slurm: job {status.state.lower() or 'submitted'}"


def failure_message(job_id: str, status: JobStatus, log_tail: list[str]) -> str:
    """Why a job ended before its server started, for the user."""
    text = f"Slurm job {job_id} ended ({status.state or 'no longer known to Slurm'}"
    if status.reason and status.reason != "None":
        text += f", {status.reason}"
    text += ")"
    if status.phase.startswith("failed="):
        text += ": " + status.phase[len("failed="):]
    lines = [line for line in log_tail if line.strip()][-5:]
    if lines:
        text += "\nlast lines of the job log:\n" + "\n".join(lines)
    return text
