"""Shared base of the ``nfdi-launcher`` command and of every package's subcommands.

Every subcommand is a traitlets :class:`~traitlets.config.Application` derived from
:class:`LauncherApp`, so all of them read the same config file
(``nfdi_launcher_config.py``, like ``jupyterhub_config.py``), accept the same logging
options and print ``--help-all`` generated from the ``help=`` text of their traits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any, ClassVar, cast

from traitlets import Bool, Unicode, default
from traitlets.config import Application, Config, catch_config_error

from appbase import __version__
from appbase import log as appbase_log

CONFIG_FILE_NAME = "nfdi_launcher_config.py"


class LauncherApp(Application):
    """Base class: config file, logging with token scrubbing, optional JSON logs."""

    name = "nfdi-launcher"
    version = __version__

    config_file = Unicode(
        CONFIG_FILE_NAME,
        help="""Python config file to load, like jupyterhub_config.py.

        Every class listed by --help-all can be configured there as
        ``c.ClassName.trait = value``. A relative name is looked up in the current
        directory; a missing default file is not an error, a missing file named
        explicitly is. The environment variable NFDI_LAUNCHER_CONFIG overrides the
        default.""",
    ).tag(config=True)

    @default("config_file")
    def _config_file_default(self) -> str:
        return os.environ.get("NFDI_LAUNCHER_CONFIG", CONFIG_FILE_NAME)

    json_logs = Bool(
        False,
        help="""Write logs as one JSON object per line (for log shippers) instead of text.

        Secrets in URLs (token=..., user:password@) and in Authorization headers
        are redacted in both formats.""",
    ).tag(config=True)

    aliases = {
        "config": "LauncherApp.config_file",
        "f": "LauncherApp.config_file",
        "log-level": "Application.log_level",
    }
    flags = {
        "json-logs": ({"LauncherApp": {"json_logs": True}}, "Write logs as JSON lines."),
        "debug": ({"Application": {"log_level": logging.DEBUG}}, "Log at DEBUG level."),
    }

    #: settings that moved, ``"OldClass.trait": "NewClass.trait"``. A config file (or the
    #: command line) that still uses an old name keeps working, with a warning; the old
    #: classes need not exist any more (BinderHub forwards its old names the same way).
    renamed_config: ClassVar[dict[str, str]] = {}

    #: import strings of plug-in classes (another executor or backend) whose options
    #: ``--help-all`` lists, imported only then: their dependencies can be heavy
    plugin_classes: ClassVar[list[str]] = []

    def all_classes(self) -> list[type]:
        """:attr:`classes` and :attr:`plugin_classes`: what ``--help-all`` lists."""
        from traitlets.utils.importstring import import_item

        plugins = [import_item(name) for name in self.plugin_classes]
        return [*self.classes, *(cls for cls in plugins if cls not in self.classes)]

    def print_help(self, classes: bool = False) -> None:
        if classes:
            self.classes = self.all_classes()
        super().print_help(classes)

    @default("log_level")
    def _log_level_default(self) -> int:
        return logging.INFO

    def _log_default(self) -> logging.Logger:
        return logging.getLogger("nfdi_launcher")

    @catch_config_error
    def initialize(self, argv: Any = None) -> None:
        super().initialize(argv)
        if self.subapp is not None:
            return
        self._load_launcher_config()
        # traitlets types Enum values as object; Application validates log_level to an int
        appbase_log.configure(cast(int, self.log_level), self.json_logs)
        self.forward_renamed_config()

    def forward_renamed_config(self) -> None:
        """Move values set under an old name of :attr:`renamed_config` to the new name.

        A value set under the new name as well wins. The old name is removed, so the
        class that kept the old section does not warn about an unknown option."""
        for old, new in self.renamed_config.items():
            old_cls, old_name = old.split(".")
            if old_cls not in self.config or old_name not in self.config[old_cls]:
                continue
            value = self.config[old_cls].pop(old_name)
            new_cls, new_name = new.split(".")
            if new_cls in self.config and new_name in self.config[new_cls]:
                self.log.warning("%s is deprecated and ignored: %s is set too", old, new)
                continue
            self.log.warning("%s is deprecated: use %s (forwarded)", old, new)
            self.update_config(Config({new_cls: {new_name: value}}))

    def _load_launcher_config(self) -> None:
        path = Path(self.config_file)
        if getattr(self, "generate_config", False):
            return
        if not path.exists():
            explicit = self.config_file != CONFIG_FILE_NAME
            if explicit:
                print(f"error: config file {path} does not exist", file=sys.stderr)
                self.exit(2)
            return
        self.load_config_file(path.name, path=str(path.parent.resolve()))
        # Command-line options win over the file, as in jupyterhub.
        if self.cli_config:
            self.update_config(self.cli_config)

    def start(self) -> None:
        if self.subapp is not None:
            self.subapp.start()
            return
        self.print_help()


async def until_stopped() -> None:
    """Return when SIGINT or SIGTERM arrives: how a service command waits for its end."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
