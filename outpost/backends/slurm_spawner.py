"""batchspawner's ``SlurmSpawner`` as the Slurm backend drives it.

Kept from batchspawner: submission (``sbatch --parsable`` through ``exec_prefix``), the
start loop (wait for RUNNING, then for host and port), ``poll`` and ``stop`` (``scancel``)
and the state (``job_id``). Changed, through its own configuration points:

- the query asks ``squeue -t all`` for ``state|node|partition|reason|comment``, and the
  regexes say "running" only once the job has written ``nfdi:addr=<host>:<port>`` into
  its comment (a server that listens); until then a RUNNING job counts as pending. Host
  and port come from that comment instead of batchspawner's callback to the hub API,
  which an Outpost's hub does not have;
- the job script is rendered with a Jinja2 environment that has a ``q`` (shell quote)
  filter and fails on undefined variables; ``user_options`` never reach the template
  (batchspawner would merge them into its variables unchecked);
- the job's Unix account and environment come from the backend, not from the hub user;
- cancelling a job that has already ended is not an error.
"""

from __future__ import annotations

import inspect
import logging
import os
import re
import shlex
from typing import Any

import jinja2
from batchspawner import SlurmSpawner
from traitlets import Any as AnyTrait
from traitlets import Dict, Unicode

from outpost.backends import slurm_spec as spec

#: environment variables the job gets (``sbatch --export``): the hub's, and the cluster's
_KEEP = re.compile(r"(?:JUPYTERHUB_|JUPYTER_)[A-Za-z0-9_]*|JPY_API_TOKEN|SLURM_CONF")
_GONE = ("Invalid job id", "already completing or completed", "Job/step already")


class _NoEnvironmentDump(logging.Filter):
    """batchspawner logs the submit environment (the hub's token) at DEBUG: drop it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Spawner submitting environment")


_FILTER = _NoEnvironmentDump()


def render_script(template: str, variables: dict[str, Any]) -> str:
    """Render a job script template; ``| q`` quotes a value for the shell."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                             keep_trailing_newline=True)
    env.filters["q"] = lambda value: shlex.quote(str(value))
    return env.from_string(template).render(**variables)


class OutpostSlurmSpawner(SlurmSpawner):  # type: ignore[misc]
    batch_query_cmd = Unicode(f"squeue -h -t all -j {{job_id}} -o '{spec.QUERY_FORMAT}'")
    state_pending_re = Unicode(
        r"^(?:PENDING|CONFIGURING|REQUEUED|RESIZING|SUSPENDED)\||^RUNNING\|(?!.*\|nfdi:addr=)")
    state_running_re = Unicode(r"^RUNNING\|.*\|nfdi:addr=")
    state_exechost_re = Unicode(r"\|nfdi:addr=([A-Za-z0-9.-]+):[0-9]+")
    batchspawner_singleuser_cmd = Unicode("")

    job_vars = Dict(help="Checked template variables of this job (set by the backend).")
    on_status = AnyTrait(None, allow_none=True,
                         help="``async (JobStatus) -> None`` after every squeue answer.")
    on_submit = AnyTrait(None, allow_none=True, help="``(job_id) -> None`` after sbatch.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _FILTER not in self.log.filters:
            self.log.addFilter(_FILTER)
        self.user_options: dict[str, Any] = {}
        self.db = _NoDatabase()

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        """The job account's name (batchspawner looks the *hub* user up in passwd)."""
        env["USER"] = self.req_username
        return env

    def get_req_subvars(self) -> dict[str, Any]:
        subvars: dict[str, Any] = super().get_req_subvars()
        subvars["keepvars"] = ",".join(sorted(k for k in self.get_env() if _KEEP.fullmatch(k)))
        return subvars

    async def run_command(self, cmd: str, input: str | None = None,
                          env: dict[str, str] | None = None) -> str:
        """Queries and cancels run without batchspawner's env: give them the cluster's."""
        if env is None:
            env = {**os.environ, **{k: v for k, v in self.environment.items()
                                    if k == "SLURM_CONF"}}
        return await super().run_command(cmd, input=input, env=env)  # type: ignore[no-any-return]

    def cmd_formatted_for_batch(self) -> str:
        return shlex.join([*self.cmd, *self.get_args()])

    async def _get_batch_script(self, **subvars: Any) -> str:
        return render_script(self.batch_script, {**subvars, **self.job_vars})

    async def submit_batch_script(self) -> str:
        job_id: str = await super().submit_batch_script()
        if job_id and self.on_submit is not None:
            self.on_submit(job_id)
        return job_id

    async def query_job_status(self) -> Any:
        result = await super().query_job_status()
        status = spec.parse_status(self.job_status or "")
        if status.state == "RUNNING" and status.port:
            self.port = status.port
        if self.on_status is not None:
            outcome = self.on_status(status)
            if inspect.isawaitable(outcome):
                await outcome
        return result

    async def cancel_batch_job(self) -> None:
        try:
            await super().cancel_batch_job()
        except RuntimeError as e:
            if not any(text in str(e) for text in _GONE):
                raise


class _NoDatabase:
    """batchspawner commits the hub's database after a start; an Outpost has none."""

    def commit(self) -> None:
        return None
