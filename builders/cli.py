"""``nfdi-launcher build ID``: resolve, fetch, build (or find) an image; print its reference.

Progress goes to stderr; the LAST line on stdout is the image reference, with
``@sha256:<digest>`` when a registry is configured. ``--dry-run`` prints the
Dockerfile repo2docker would generate instead (nothing is built). ID is any
identifier ``nfdi-launcher resolve`` understands, or a local directory (built as is;
handy for testing a repository before publishing it).

Exit status: 0 built/found, 1 build failed, 2 the identifier could not be resolved.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from traitlets import Bool

from appbase.app import LauncherApp
from builders import BuildEvent, BuildManager, Phase
from builders.executors.docker import DockerExecutor
from fdo.target import LaunchTarget

_DESCRIPTION = __doc__ or ""


class BuildApp(LauncherApp):
    """Build the image of an identifier with repo2docker (once per content) and print it."""

    name = "nfdi-launcher-build"
    description = _DESCRIPTION
    examples = """
    nfdi-launcher build gh/binder-examples/requirements/HEAD
    nfdi-launcher build 10.5281/zenodo.3242074 --registry http://127.0.0.1:5000
    nfdi-launcher build ./my-repo --dry-run
    """

    dry_run = Bool(
        False, help="Print the Dockerfile repo2docker would generate; build nothing."
    ).tag(config=True)

    aliases = {
        **LauncherApp.aliases,
        "registry": "BuildManager.registry_url",
        "image-prefix": "BuildManager.image_prefix",
        "state-dir": "BuildManager.state_dir",
        "timeout": "BuildExecutor.build_timeout",
    }
    flags = {
        **LauncherApp.flags,
        "dry-run": ({"BuildApp": {"dry_run": True}}, "Print the Dockerfile; build nothing."),
    }
    classes = [BuildManager, DockerExecutor]
    plugin_classes = ["builders.executors.kubernetes.KubernetesExecutor"]

    def start(self) -> None:
        if len(self.extra_args) != 1:
            print("usage: nfdi-launcher build [options] ID   (see --help)", file=sys.stderr)
            self.exit(2)
        self.exit(asyncio.run(self._run(self.extra_args[0])))

    async def on_built(self, target: LaunchTarget, event: BuildEvent) -> None:
        """Called with the ``built`` event before the image is printed (the launcher's
        build command writes a receipt here)."""

    def _target(self, ident: str) -> tuple[LaunchTarget, Path | None]:
        path = Path(ident)
        if path.is_dir():
            return LaunchTarget.from_directory(path), path.resolve()
        from fdo.resolve import Resolution

        # the config file's NetConfig/ResolverConfig apply here as in ``nfdi-launcher resolve``
        return Resolution(self.config).resolve(ident), None

    async def _run(self, ident: str) -> int:
        from fdo.errors import ResolveError

        try:
            target, context = await asyncio.to_thread(self._target, ident)
        except ResolveError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if target.ambiguous:
            print("error: the identifier is ambiguous; build one of:", file=sys.stderr)
            for choice in target.choices:
                print(f"  {choice.identifier}   {choice.label}", file=sys.stderr)
            return 2
        manager = BuildManager(parent=self)
        if self.dry_run:
            try:
                print(await manager.dockerfile(target, context_dir=context))
            except Exception as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
            return 0
        async for event in manager.build(target, context_dir=context):
            label = f"[{event.phase.value}] " if event.phase.value else ""
            print(f"{label}{event.message}", end="", file=sys.stderr, flush=True)
            if event.phase is Phase.BUILT:
                await self.on_built(target, event)
                print(event.image, flush=True)
                return 0
            if event.phase is Phase.FAILED:
                return 1
        return 1

