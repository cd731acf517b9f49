"""Slurm backend: batchspawner's ``SlurmSpawner`` runs each server as a Slurm job in which
Charliecloud pulls the image (once per digest) and ``ch-run`` starts it.

How a start goes (:meth:`SlurmBackend.start`):

1. flavor + ``user_options`` → partition, time, CPUs, memory, GRES, account, Unix account
   (:mod:`outpost.backends.slurm_spec`, pure);
2. the user's directory ``<storage_root>/<hub>/<user id>`` (``work/`` is bound at the
   mount path, ``logs/`` holds the job logs) is made by the job's account;
3. ``SlurmSpawner.start()`` submits the job script (``templates/slurm_job.sh``, or the
   operator's ``batch_script``) with ``sbatch`` and polls ``squeue``. Every poll becomes a
   spawn event for the hub ("queued in partition X, position N", "running on node Y");
4. the job pulls the image, starts ``jupyterhub-singleuser`` and, once it listens,
   writes ``nfdi:addr=<host>:<port>`` into its job comment; that is where the Outpost
   (and batchspawner, through ``state_exechost_re``) learns the address — no network path
   from the node to the Outpost is needed;
5. direct mode: the answer is ``"<host>:<port>"``; tunnel mode: ``""`` (the
   OutpostSpawner's delayed tunnel) and the job POSTs its address to the hub's
   ``JUPYTERHUB_SETUPTUNNEL_URL``, which forwards through SSH to the login node.

Poll and stop use the job id kept in the record's state; ``scancel`` (the hub's stop,
the flavor runtime) and Slurm's own time limit end the job. Every Slurm and file command
runs as the job's account through ``exec_prefix`` (``runuser``/``sudo``), never the hub user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import posixpath
import re
import shlex
from importlib import resources
from typing import Any

from traitlets import Bool, Dict, Float, Integer, Unicode

from outpost import flavors as fl
from outpost.backends import slurm_spec as spec
from outpost.backends.base import Backend, Progress, StartRequest
from outpost.backends.identity import spawner_identity
from outpost.backends.slurm_spawner import OutpostSlurmSpawner
from outpost.backends.slurm_watch import StartWatch
from outpost.mapping import HOME, SpawnSettings, safe_name
from outpost.store import Record

log = logging.getLogger("nfdi_launcher.outpost.slurm")


def default_batch_script() -> str:
    return (resources.files("outpost.backends") / "templates" / "slurm_job.sh").read_text(
        encoding="utf-8")


class SlurmBackend(Backend):
    """Runs each server as a Slurm job with Charliecloud (batchspawner's SlurmSpawner)."""

    slurm_conf = Unicode(
        "",
        help="""slurm.conf of the cluster (``SLURM_CONF`` for sbatch/squeue/scancel and
        inside the job). Empty: Slurm's default (/etc/slurm/slurm.conf) or the Outpost's
        own environment.""",
    ).tag(config=True)

    exec_prefix = Unicode(
        "runuser -u {username} --",
        help="""Prefix of every Slurm and file command, run as the job's Unix account
        ``{username}``. ``runuser`` needs an Outpost running as root; a site with sudo
        uses ``sudo -E -u {username} --``; an Outpost running as the job account itself
        uses an empty prefix.""",
    ).tag(config=True)

    job_user = Unicode(
        "nfdi-hpc",
        help="""Unix account that runs a user's jobs: a fixed service account, or a
        template with ``{hub}`` and ``{user_name}`` (the hub's user name, for hubs whose
        names are the site's logins). Jobs of one account can see each other's processes
        on a node; give users their own accounts where that matters.""",
    ).tag(config=True)

    allowed_accounts = Unicode(
        "",
        help="""Regular expression of Unix accounts a user may pick with
        ``user_options.hpc.account`` (UNICORE's field). Empty: none; the job runs as
        ``job_user``. Only allow this where the hub vouches for the account (e.g.
        entitlements checked at login).""",
    ).tag(config=True)

    storage_root = Unicode(
        "",
        help="""Cluster file system directory holding one directory per (hub, user id):
        ``<root>/<hub>/<user id>/work`` is bound at the user's mount path
        (``/home/jovyan/work``) and never overwritten; ``logs/`` keeps the job logs. The
        job account must be able to create directories here.""",
    ).tag(config=True)

    charliecloud_storage = Unicode(
        "",
        help="""Charliecloud storage directory (``ch-image -s``) shared by the jobs on
        all nodes: an image is pulled once per digest (a tag is re-checked against the
        registry) and unpacked here. ch-image creates it on the first pull; its parent
        must exist and be writable by the job account (it is also the pull lock).""",
    ).tag(config=True)

    image_rewrites = Dict(
        {},
        help="""Prefix → replacement applied to the image before Charliecloud pulls it,
        e.g. ``{"127.0.0.1:5000/": "127.0.0.1:5443/"}``: ch-image speaks https only, so
        point it at the registry's TLS endpoint.""",
    ).tag(config=True)

    ca_bundle = Unicode(
        "",
        help="""CA bundle ch-image trusts (``REQUESTS_CA_BUNDLE``) for a registry whose
        certificate is signed by a site CA. Empty: the system's CAs.""",
    ).tag(config=True)

    server_ip = Unicode(
        "127.0.0.1",
        help="""Address jupyterhub-singleuser binds on the node. 127.0.0.1 suits a
        one-machine setup; on a cluster use 0.0.0.0 or the node's address that the hub
        (direct) or the login node (tunnel) reaches.""",
    ).tag(config=True)

    service_host = Unicode(
        "",
        help="""Host name the job reports for itself (``<host>:<port>``). Empty: the
        node's ``hostname -f``.""",
    ).tag(config=True)

    tunnel = Bool(
        False,
        help="""Reach servers through the OutpostSpawner's delayed SSH tunnel: the Outpost
        answers the start with an empty address and the job POSTs ``<host>:<port>`` and
        ``ssh_node`` to the hub's JUPYTERHUB_SETUPTUNNEL_URL. Off: the hub connects to
        ``<host>:<port>`` directly.""",
    ).tag(config=True)

    ssh_node = Unicode(
        "",
        help="The login node the hub's SSH tunnel goes through (sent with the tunnel request).",
    ).tag(config=True)

    batch_script = Unicode(
        "",
        help="""Jinja2 job script replacing the shipped one
        (outpost/backends/templates/slurm_job.sh; read it for the variables). Values are
        pre-checked; use ``| q`` to quote them for the shell.""",
    ).tag(config=True)

    extra_options = Unicode(
        "",
        help="An extra ``#SBATCH`` line for every job, e.g. ``--qos=interactive``.",
    ).tag(config=True)

    notebook_dir = Unicode(HOME, help="Directory JupyterLab opens in (inside the image).").tag(
        config=True)

    container_uid = Integer(1000, help="uid the server has inside the container.").tag(
        config=True)
    container_gid = Integer(1000, help="gid the server has inside the container.").tag(
        config=True)

    start_timeout = Float(
        3600.0,
        help="""Seconds a start may take in total (queue wait, image pull, server start),
        unless the flavor sets ``start_timeout``. The hub's own start timeout
        (Spawner.start_timeout) and its request timeout must be at least as long.""",
    ).tag(config=True)

    pull_timeout = Integer(900, help="Seconds the job may spend pulling an image.").tag(
        config=True)

    listen_timeout = Integer(
        120, help="Seconds the job waits for jupyterhub-singleuser to listen.").tag(config=True)

    poll_interval = Float(
        0.5, help="Seconds between squeue calls while a job waits (batchspawner's default).",
    ).tag(config=True)

    running_poll_interval = Float(
        0.2,
        help="""Seconds between squeue calls once the job runs: the server is about to
        listen, and the answer to the hub waits for the next call.""",
    ).tag(config=True)

    # -- building the spawner -----------------------------------------------------------
    def _user_dir(self, record: Record) -> str:
        if not self.storage_root:
            raise RuntimeError("SlurmBackend.storage_root is not configured")
        return posixpath.join(self.storage_root, safe_name(record.hub), safe_name(record.user_id))

    def _spawner(self, record: Record, env: dict[str, str], job_user: str,
                 ) -> OutpostSlurmSpawner:
        full_env = dict(env)
        if self.slurm_conf:
            full_env["SLURM_CONF"] = self.slurm_conf
        spawner = OutpostSlurmSpawner(parent=self, **spawner_identity(record, full_env))
        spawner.environment = full_env
        spawner.exec_prefix = self.exec_prefix
        spawner.req_username = job_user
        spawner.req_homedir = self._user_dir(record)
        spawner.startup_poll_interval = self.poll_interval
        spawner.notebook_dir = self.notebook_dir
        spawner.batch_script = self.batch_script or default_batch_script()
        return spawner

    def _restore(self, record: Record) -> OutpostSlurmSpawner:
        job_user = str(record.state.get("job_user") or self.job_user)
        spawner = self._spawner(record, record.env, job_user)
        spawner.load_state(record.state)
        return spawner

    def _job_vars(self, record: Record, settings: SpawnSettings, job: spec.SlurmJob,
                  user_dir: str) -> dict[str, Any]:
        image, pinned = spec.charliecloud_ref(settings.image, dict(self.image_rewrites))
        if not self.charliecloud_storage:
            raise RuntimeError("SlurmBackend.charliecloud_storage is not configured")
        if self.tunnel and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", self.ssh_node):
            raise RuntimeError(f"SlurmBackend.ssh_node {self.ssh_node!r} is not a host name")
        return {
            **spec.job_script_vars(job, user_dir=user_dir, mount_path=settings.mount_path),
            "options": self.extra_options,
            "image": image, "pinned": "yes" if pinned else "no",
            "storage": self.charliecloud_storage, "ca_bundle": self.ca_bundle,
            "server_ip": self.server_ip, "service_host": self.service_host,
            "notebook_dir": self.notebook_dir, "uid": self.container_uid,
            "gid": self.container_gid, "pull_timeout": self.pull_timeout,
            "listen_timeout": self.listen_timeout, "tunnel": self.tunnel,
            "ssh_node": self.ssh_node,
        }

    async def _as_user(self, user: str, argv: list[str], timeout: float = 60) -> str:
        """Run *argv* as the job account (through ``exec_prefix``); its stdout."""
        prefix = shlex.split(self.exec_prefix.format(username=user))
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LANG": "C.UTF-8"}
        if self.slurm_conf:
            env["SLURM_CONF"] = self.slurm_conf
        proc = await asyncio.create_subprocess_exec(
            *prefix, *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"{argv[0]} did not finish within {timeout:.0f} s") from None
        if proc.returncode != 0:
            raise RuntimeError(err.decode(errors="replace").strip() or
                               f"{argv[0]} failed with exit {proc.returncode}")
        return out.decode(errors="replace")

    # -- start ------------------------------------------------------------------------
    async def start(self, request: StartRequest, progress: Progress) -> str:
        rec, settings = request.record, request.settings
        job = spec.map_job(
            request.user_options, request.flavor, job_name=settings.container_name,
            flavor_runtime=fl.runtime_of(request.flavor), job_user_template=self.job_user,
            allowed_accounts=self.allowed_accounts, hub=rec.hub, user_name=rec.user_name)
        user_dir = self._user_dir(rec)
        job_vars = self._job_vars(rec, settings, job, user_dir)
        await self._as_user(job.job_user, ["mkdir", "-p", "-m", "0700", user_dir,
                                           job_vars["work_dir"], posixpath.dirname(
                                               job_vars["log_file"])])
        spawner = self._spawner(rec, request.env, job.job_user)
        spawner.job_vars = job_vars
        watch = StartWatch(spawner, progress, job_vars["image"], job.job_user,
                           run_as=self._as_user,
                           running_poll_interval=self.running_poll_interval)
        spawner.on_status = watch.on_status

        def submitted(job_id: str) -> None:
            rec.state = {**spawner.get_state(), "job_user": job.job_user}
            request.checkpoint()  # a restarted Outpost can cancel the queued job

        spawner.on_submit = submitted
        await progress(10, f"Slurm: submitting a job for {settings.image}")
        try:
            host, port = await spawner.start()
        except asyncio.CancelledError:  # the Outpost's start timeout
            await asyncio.shield(self._cancel(spawner))
            log.warning("start of %s/%s cut short: %s", rec.hub, rec.name, watch.describe())
            raise
        except Exception as e:
            await self._cancel(spawner)
            raise RuntimeError(await watch.failure(e)) from None
        rec.state = {**spawner.get_state(), "job_user": job.job_user}
        await progress(90, f"Slurm: JupyterLab listens on {host}:{port}, job {spawner.job_id}")
        return "" if self.tunnel else f"{host}:{port}"

    def health_url(self, record: Record, service: str) -> str | None:
        """Direct mode: the job has already seen its server listen; one check from here.
        Tunnel mode: the Outpost has no route to the node; the hub checks through the
        tunnel, which the job asked for before it published its address."""
        if self.tunnel or not service:
            return None
        return super().health_url(record, service)

    async def _cancel(self, spawner: OutpostSlurmSpawner) -> None:
        """Remove the job of a failed start (the start's error is the one to report).
        No job id: sbatch failed, there is no job (a crash between sbatch and the
        checkpoint is the restarted Outpost's to clean up, by the job's name)."""
        if spawner.job_id:
            with contextlib.suppress(Exception):
                await spawner.cancel_batch_job()

    async def _cancel_by_name(self, rec: Record, job_user: str) -> None:
        """For a start cut short before its job id was saved: the job name is unique."""
        name = str(rec.settings.get("container_name", ""))
        if name:
            await self._as_user(job_user, ["scancel", f"--name={name}", f"--user={job_user}"])

    # -- poll / stop / logs -------------------------------------------------------------
    async def poll(self, record: Record) -> int | None:
        if not record.state.get("job_id"):
            return None if record.start_pending else 0
        return await self._restore(record).poll()  # type: ignore[no-any-return]

    async def stop(self, record: Record) -> None:
        spawner = self._restore(record)
        job_id = spawner.job_id
        if not job_id:
            await self._cancel_by_name(record, spawner.req_username)
            return
        await spawner.stop()
        await self._wait_gone(spawner.req_username, job_id)

    async def _wait_gone(self, user: str, job_id: str, timeout: float = 60) -> None:
        """Until the job has left the queue (COMPLETING included: its processes may
        still hold the node's resources and the user's files)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            try:
                out = await self._as_user(user, ["squeue", "-h", "-j", job_id, "-o", "%T"])
            except RuntimeError as e:
                if "Invalid job id" in str(e):
                    return  # already purged from the controller's memory
                raise
            if not out.strip():
                return
            await asyncio.sleep(self.poll_interval)
        raise RuntimeError(f"Slurm job {job_id} is still in the queue {timeout:.0f} s after "
                           "scancel")

    async def logs(self, record: Record) -> list[str]:
        job_id = record.state.get("job_id")
        if not job_id:
            return []
        path = posixpath.join(self._user_dir(record), "logs", f"slurm-{job_id}.log")
        user = str(record.state.get("job_user") or self.job_user)
        try:
            return (await self._as_user(user, ["tail", "-n", "200", path])).splitlines()
        except RuntimeError:
            return []
