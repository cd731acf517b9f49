"""``nfdi-launcher resolve ID`` and ``nfdi-launcher fetch ID DIR``.

Exit codes (the contract other tools script against):

- 0: resolved (JSON of the target on stdout) / fetched;
- 3: ambiguous: the JSON on stdout has a non-empty ``choices`` list;
- 2: malformed, refused, unsupported or not found: one line ``error: ...`` on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from appbase.app import LauncherApp

EXIT_OK, EXIT_ERROR, EXIT_AMBIGUOUS = 0, 2, 3


def configurables() -> list[type]:
    """Every class of fdo an operator configures (for the commands' --help-all)."""
    from traitlets.utils.importstring import import_item

    from fdo.config import NetConfig
    from fdo.resolve import ResolverConfig
    from fdo.resolvers import DEFAULT_RESOLVERS

    plugins = [import_item(name) for name in DEFAULT_RESOLVERS]
    return [NetConfig, ResolverConfig, *plugins]


def _fail(message: str) -> None:
    line = " ".join(str(message).split()) or "unknown error"
    print(f"error: {line}", file=sys.stderr)
    sys.exit(EXIT_ERROR)


class ResolveApp(LauncherApp):
    """Resolve an identifier (DOI, Handle/FDO PID, SWHID, Git URL, ...) to a pinned target."""

    name = "nfdi-launcher-resolve"
    description = __doc__ or ""
    examples = """
    nfdi-launcher resolve 10.5281/zenodo.48440
    nfdi-launcher resolve https://github.com/jupyterhub/binder-examples/tree/main
    nfdi-launcher resolve swh:1:dir:247168dd727c19cef2ce885476d3e4102d2ca7de
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classes = [LauncherApp, *configurables()]

    def _resolve(self, identifier: str) -> Any:
        from fdo.errors import ResolveError
        from fdo.resolve import Resolution

        try:
            return Resolution(self.config).resolve(identifier)
        except ResolveError as err:
            _fail(str(err))
        except Exception as err:  # noqa: BLE001 - the CLI contract: one line, no traceback
            self.log.debug("unexpected error", exc_info=True)
            _fail(f"internal error while resolving ({type(err).__name__}: {err}); rerun with --debug")
        return None

    def start(self) -> None:
        if len(self.extra_args) != 1:
            _fail("give exactly one identifier, e.g. nfdi-launcher resolve 10.5281/zenodo.48440")
        target = self._resolve(self.extra_args[0])
        print(json.dumps(target.to_json(), indent=2))
        sys.exit(EXIT_AMBIGUOUS if target.ambiguous else EXIT_OK)


class FetchApp(ResolveApp):
    """Resolve an identifier and materialise it into a directory (checksums verified)."""

    name = "nfdi-launcher-fetch"
    description = "Resolve ID and materialise it into DIR (git checkout or verified, safely unpacked files)."
    examples = """
    nfdi-launcher fetch 10.5281/zenodo.48440 ./content
    """

    def start(self) -> None:
        if len(self.extra_args) != 2:
            _fail("give an identifier and a directory, e.g. nfdi-launcher fetch 10.5281/zenodo.48440 ./content")
        identifier, directory = self.extra_args
        target = self._resolve(identifier)
        if target.ambiguous:
            print(json.dumps(target.to_json(), indent=2))
            print("error: the identifier is ambiguous; fetch one of the listed choices", file=sys.stderr)
            sys.exit(EXIT_AMBIGUOUS)
        from fdo.config import NetConfig
        from fdo.errors import ResolveError
        from fdo.fetch import fetch

        try:
            fetch(target, Path(directory), config=NetConfig(config=self.config))
        except ResolveError as err:
            _fail(str(err))
        except Exception as err:  # noqa: BLE001 - one line, no traceback
            _fail(f"internal error while fetching ({type(err).__name__}: {err}); rerun with --debug")
        print(json.dumps({"fetched": str(Path(directory).resolve()), "target": target.to_json()}, indent=2))
        sys.exit(EXIT_OK)
