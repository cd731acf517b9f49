"""Local Docker executor: repo2docker (from PyPI) as a subprocess on this machine.

repo2docker runs under :mod:`builders.executors.guard`, which kills it (and the
``docker buildx`` client under it) when this process dies, however it dies.

repo2docker always builds the local directory ``fdo`` fetched: its content
providers are restricted to ``Local`` by a generated config file, so it never
reaches the internet (its Dataverse provider would otherwise download a list of
installations while detecting). ``DOCKER_CONFIG`` is removed from the environment
because repo2docker's registry login copies it as a file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

from traitlets import Dict, List, Unicode, default

from builders.events import BuildEvent, parse_repo2docker_line
from builders.executors.base import BuildExecutor, BuildFailed, BuildRequest

R2D_CONFIG = """\
from repo2docker import contentproviders
c.Repo2Docker.content_providers = [contentproviders.Local]
"""
_TAIL = 30
GUARD = Path(__file__).with_name("guard.py")
#: what the Docker client and BuildKit print when the engine goes away during a build
#: (the engine may be back before the build's failure is looked at, so it is read here)
ENGINE_LOST = re.compile(
    r"Cannot connect to the Docker daemon|Error while fetching server API version"
    r"|rpc error: code = (?:Unavailable|Canceled)|error reading from server: EOF"
    r"|connection reset by peer|transport is closing|failed to dial")


class DockerExecutor(BuildExecutor):
    """Runs ``repo2docker --json-logs --no-run`` against the local Docker engine."""

    repo2docker_command = List(
        Unicode(),
        help="""Command that starts repo2docker (default: the one installed next to
        this Python). Extra words are kept, so a wrapper script may come first.""",
    ).tag(config=True)

    @default("repo2docker_command")
    def _r2d_default(self) -> list[str]:
        return [str(Path(sys.executable).parent / "repo2docker")]

    docker_host = Unicode(
        "",
        help="""DOCKER_HOST for builds (e.g. unix:///run/docker.sock); empty = the
        environment's default engine.""",
    ).tag(config=True)

    user_name = Unicode("jovyan", help="User name inside built images (as BinderHub).").tag(config=True)
    user_id = Unicode("1000", help="User id inside built images (as BinderHub).").tag(config=True)

    extra_args = List(
        Unicode(),
        help="""Extra repo2docker arguments, e.g.
        ``["--DockerEngine.extra_buildx_build_args=['--cgroup-parent=/builds']"]`` to
        put build containers under a memory-limited cgroup (buildx has no --memory).""",
    ).tag(config=True)

    extra_env = Dict(
        {},
        help="Extra environment variables for repo2docker (values are strings).",
    ).tag(config=True)

    def _env(self, request: BuildRequest | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_CONFIG"}
        env.update({str(k): str(v) for k, v in self.extra_env.items()})
        if self.docker_host:
            env["DOCKER_HOST"] = self.docker_host
        if request is not None and request.registry_credentials:
            env["CONTAINER_ENGINE_REGISTRY_CREDENTIALS"] = json.dumps(request.registry_credentials)
        return env

    def command(self, request: BuildRequest, config_file: Path) -> list[str]:
        """The repo2docker command line for ``request`` (BinderHub's flags)."""
        cmd = [*self.repo2docker_command, "--config", str(config_file), "--json-logs",
               "--no-run", "--user-name", self.user_name, "--user-id", self.user_id,
               "--image-name", request.image]
        if request.push:
            cmd.append("--push")
        for ref in request.cache_from:
            cmd += ["--cache-from", ref]
        for key, value in sorted(request.labels.items()):
            cmd += ["--label", f"{key}={value}"]
        return [*cmd, *self.extra_args, str(request.context_dir)]

    async def run(self, request: BuildRequest) -> AsyncIterator[BuildEvent]:
        cmd = self.command(request, _config_file())
        self.log.info("starting repo2docker for %s (cache from: %s)", request.image,
                      ", ".join(request.cache_from) or "none")
        # through the guard: the build dies with this process, however this process dies
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", str(GUARD), *cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=self._env(request), start_new_session=True,
        )
        tail: deque[str] = deque(maxlen=_TAIL)
        failed_msg = ""
        try:
            async with asyncio.timeout(self.build_timeout):
                assert proc.stdout is not None
                async for raw in proc.stdout:
                    event = parse_repo2docker_line(raw.decode("utf-8", "replace"))
                    if event.message.strip():
                        tail.append(event.message.strip())
                    if event.extra.get("r2d_failed"):
                        failed_msg = event.message.strip()
                    yield event
                code = await proc.wait()
        except TimeoutError:
            raise BuildFailed(f"build timed out after {self.build_timeout} s",
                              "build_timeout") from None
        finally:
            await _kill_group(proc)
        if code != 0:
            said = _reason(tail, failed_msg)
            lost = any(ENGINE_LOST.search(line) for line in tail)
            raise BuildFailed(f"repo2docker exited with status {code}: {said}",
                              "engine_unavailable" if lost else "build_failed")

    def probe(self) -> str:
        import docker

        try:
            client = docker.DockerClient(base_url=self.docker_host or None, timeout=5) \
                if self.docker_host else docker.from_env(timeout=5)
            try:
                client.ping()
            finally:
                client.close()
        except Exception as err:  # every way of not reaching the engine counts
            return f"{type(err).__name__}: {err}"
        return ""

    def dockerfile(self, context_dir: Path) -> str:
        cmd = [*self.repo2docker_command, "--config", str(_config_file()), "--no-build", "--debug",
               "--user-name", self.user_name, "--user-id", self.user_id, str(context_dir)]
        proc = subprocess.run(  # noqa: S603 -- operator-set command, our own absolute path
            cmd, capture_output=True, text=True, env=self._env(None), timeout=120, check=False
        )
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            raise BuildFailed(f"repo2docker --no-build failed: {lines[-1] if lines else proc.returncode}")
        return proc.stdout.lstrip("\n")


def _config_file() -> Path:
    """The repo2docker config (constant text), written once per content under TMPDIR:
    no per-build temp files that a killed process could leave behind."""
    digest = hashlib.sha256(R2D_CONFIG.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"nfdi-launcher-r2d-config-{digest}.py"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(R2D_CONFIG)
        os.replace(tmp, path)  # atomic: concurrent writers race harmlessly
    return path


def _reason(tail: deque[str], failed_msg: str) -> str:
    """The most telling line: buildx's ERROR line, else repo2docker's own message."""
    for line in reversed(tail):
        if "ERROR" in line or "error:" in line.lower():
            return line[:400]
    text = failed_msg or (tail[-1] if tail else "no output")
    return text if len(text) <= 400 else text[:400] + "..."


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """Kill repo2docker and its children (docker buildx) if still running."""
    if proc.returncode is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    await proc.wait()

