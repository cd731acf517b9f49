"""Sphinx configuration: MyST Markdown, no network access needed."""

project = "nfdi-launcher"
author = "nfdi-launcher developers"
copyright = "2026, nfdi-launcher developers"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
master_doc = "index"
exclude_patterns = ["_build"]
html_theme = "alabaster"
myst_heading_anchors = 3
# Offline build: no intersphinx, no remote images.
intersphinx_mapping: dict[str, tuple[str, None]] = {}
