"""Does a rendered ``nfdi_launcher_config.py`` set only options that exist?

traitlets ignores ``c.Unknown.option`` silently, so a chart that writes a renamed option
would deploy a launcher that quietly runs with a default. This loads the file the way
the program does and checks every ``c.<Class>.<trait>`` against the project's real
configurable classes.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from traitlets.config import Configurable
from traitlets.config.loader import Config, PyFileConfigLoader

PACKAGES = ("fdo", "builders", "launcher", "outpost")


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


def configurable_classes() -> dict[str, list[type]]:
    """Every Configurable the project (and its libraries) define, by class name."""
    for package in PACKAGES:
        mod = importlib.import_module(package)
        for info in pkgutil.walk_packages(mod.__path__, prefix=f"{package}."):
            importlib.import_module(info.name)
    by_name: dict[str, list[type]] = {}
    for cls in [Configurable, *_subclasses(Configurable)]:
        by_name.setdefault(cls.__name__, []).append(cls)
    return by_name


def load_config_file(text: str, tmp: Path) -> Config:
    path = tmp / "nfdi_launcher_config.py"
    path.write_text(text)
    loader = PyFileConfigLoader(path.name, path=str(tmp))
    config: Config = loader.load_config()
    return config


def unknown_options(config: Config) -> list[str]:
    """``Class.trait`` entries that no configurable class declares with config=True."""
    classes = configurable_classes()
    bad = []
    for section, values in config.items():
        candidates = classes.get(section, [])
        if not candidates:
            bad.append(f"{section} (no such class)")
            continue
        for trait in values:
            if not any(_configurable(cls, trait) for cls in candidates):
                bad.append(f"{section}.{trait}")
    return bad


def _configurable(cls: Any, trait: str) -> bool:
    traits = cls.class_traits(config=True)
    return trait in traits
