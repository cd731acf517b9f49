"""Entry point of the ``nfdi-launcher`` command.

Subcommands are registered in :data:`SUBCOMMANDS` by import string, so that
``nfdi-launcher --help`` stays fast and a subcommand's dependencies (Docker,
JupyterHub, ...) are imported only when it runs. Each package owns its commands
(``fdo/cli.py``, ``builders/cli.py``, ``outpost/cli.py``; ``serve`` and ``stack`` are the
launcher's): this module imports none of them, so ``nfdi-launcher outpost`` at a resource
provider never imports the launcher.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from traitlets import Bool
from traitlets.config import catch_config_error

from appbase.app import LauncherApp

#: name -> (import string of the Application class, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("launcher.cli.serve.ServeApp", "Run the launcher web service (standalone or as a hub service)."),
    "build": ("launcher.receipts.cli.ReceiptBuildApp",
              "Build (or find) the image of an identifier; print its reference; issue its receipt."),
    "outpost": ("outpost.cli.OutpostApp", "Run an Outpost (JupyterHub Outpost REST API)."),
    "stack": ("launcher.cli.stack.StackApp", "Start registry, Outpost, JupyterHub and launcher on loopback."),
    "receipt": ("launcher.receipts.cli.ReceiptApp", "Verify a reproducibility receipt; manage signing keys."),
    "resolve": ("fdo.cli.ResolveApp", "Resolve an identifier to a pinned launch target (JSON)."),
    "fetch": ("fdo.cli.FetchApp", "Resolve an identifier and materialise it into a directory."),
}


class NfdiLauncherApp(LauncherApp):
    """Resolve research identifiers, build them with repo2docker and launch them on JupyterHub."""

    description = __doc__ or ""
    examples = """
    nfdi-launcher --help-all                 all options with their help
    nfdi-launcher --generate-config          write nfdi_launcher_config.py with every option
    """

    subcommands = dict(SUBCOMMANDS)

    generate_config = Bool(
        False,
        help="Write a config file with every option (commented out) and exit.",
    ).tag(config=True)

    flags = {
        **LauncherApp.flags,
        "generate-config": (
            {"NfdiLauncherApp": {"generate_config": True}},
            "Write nfdi_launcher_config.py (or --config FILE) with every option and exit.",
        ),
    }

    @catch_config_error
    def initialize(self, argv: Any = None) -> None:
        super().initialize(argv)

    def all_classes(self) -> list[type]:
        """Every configurable class of every subcommand (--help-all, --generate-config)."""
        from traitlets.utils.importstring import import_item

        seen: list[type] = list(self._classes_inc_parents())
        for import_string, _help in SUBCOMMANDS.values():
            app_class = import_item(import_string)
            for cls in [app_class, *app_class().all_classes()]:
                if cls not in seen:
                    seen.append(cls)
        return seen

    def start(self) -> None:
        if self.subapp is None and self.generate_config:
            if os.path.exists(self.config_file):
                print(f"error: {self.config_file} exists; remove it or name another file "
                      "with --config", file=sys.stderr)
                self.exit(2)
            self.classes = self.all_classes()
            text = self.generate_config_file()
            try:
                with open(self.config_file, "x", encoding="utf-8") as f:
                    f.write(text)
            except FileExistsError:
                print(f"error: {self.config_file} exists; remove it or name another file "
                      "with --config", file=sys.stderr)
                self.exit(2)
            print(f"wrote {self.config_file}")
            return
        super().start()


def main(argv: list[str] | None = None) -> None:
    app = NfdiLauncherApp.instance()
    app.initialize(argv)
    app.start()


if __name__ == "__main__":
    main()
