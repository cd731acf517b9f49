"""The import direction of the packages: ``fdo -> builders -> launcher``, ``outpost`` alone.

Read from the source with :mod:`ast` (every ``import`` and ``from ... import``, also those
inside functions), so a late import cannot hide a wrong dependency. ``appbase`` (the
command-line base and logging) may be imported by every package and imports none of them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("appbase", "fdo", "builders", "launcher", "outpost")

#: package -> the project packages it must never import
FORBIDDEN = {
    "appbase": {"fdo", "builders", "launcher", "outpost"},
    "fdo": {"builders", "launcher", "outpost"},
    "builders": {"launcher", "outpost"},
    "launcher": set(),
    "outpost": {"fdo", "builders", "launcher"},
}


def imported_packages(path: Path) -> dict[str, int]:
    """Top-level names of the absolute imports in *path* -> first line that imports each."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue  # relative imports stay inside their package
        for name in names:
            found.setdefault(name.split(".")[0], node.lineno)
    return found


def violations(package: str) -> list[str]:
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name, line in imported_packages(path).items():
            if name in FORBIDDEN[package]:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return problems


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_only_point_down(package: str) -> None:
    assert violations(package) == []


def test_the_check_sees_a_wrong_import(tmp_path: Path) -> None:
    bad = tmp_path / "mod.py"
    bad.write_text("def f():\n    from launcher.app import make_app\n    import builders.cli\n")
    assert imported_packages(bad) == {"launcher": 2, "builders": 3}


#: what ``nfdi-launcher <subcommand>`` loads of the launcher: the entry point only
ENTRY_POINT = {"launcher", "launcher.cli", "launcher.cli.main"}


@pytest.mark.parametrize("module", ["outpost.cli", "fdo.cli", "builders.cli"])
def test_a_package_command_loads_nothing_above_its_package(module: str) -> None:
    """``nfdi-launcher outpost`` at a resource provider runs no launcher, fdo or builders code."""
    package = module.split(".")[0]
    code = (f"import sys, launcher.cli.main, {module}\n"
            "print(' '.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=ROOT, check=True).stdout.split()
    wrong = [m for m in loaded
             if m.split(".")[0] in FORBIDDEN[package] and m not in ENTRY_POINT]
    assert wrong == []
