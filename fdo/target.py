"""The launch target: what an identifier resolves to, immutable and with its provenance.

A :class:`LaunchTarget` is the one object that flows from ``fdo`` to ``builders`` and
``launcher``. It is frozen and has a stable JSON form (:meth:`LaunchTarget.to_json`),
which is what ``nfdi-launcher resolve`` prints and what the launcher's API returns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

Kind = Literal["git", "archive", "swh"]

#: a provenance value or choice that is a URL (``ckan:https://...`` or ``swh:1:...`` is not)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class Hop:
    """One step of the resolution chain, e.g. DOI -> Zenodo record -> Git tag -> commit."""

    from_: str
    to: str
    via: str

    def to_json(self) -> dict[str, str]:
        return {"from": self.from_, "to": self.to, "via": self.via}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Hop:
        return cls(from_=data["from"], to=data["to"], via=data["via"])


@dataclass(frozen=True)
class FileEntry:
    """One downloadable file of an archive target."""

    name: str
    url: str
    size: int | None = None
    #: ``"<algo>:<hex>"``, e.g. ``"md5:..."`` or ``"sha256:..."``; None if the record has none
    checksum: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Choice:
    """One candidate when an identifier is ambiguous: resolve ``identifier`` to pick it."""

    identifier: str
    label: str
    reason: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class LaunchTarget:
    """An identifier resolved to one immutable, fetchable piece of code.

    Parameters
    ----------
    identifier:
        The identifier exactly as the user gave it.
    kind:
        ``git`` (a repository at a commit), ``archive`` (files of a record) or
        ``swh`` (a Software Heritage directory).
    provider:
        BinderHub-style prefix: ``gh``, ``gl``, ``gist``, ``git``, ``zenodo``,
        ``figshare``, ``dataverse``, ``hydroshare``, ``ckan``, ``swhid``, or a new one
        (``invenio``, ``doi``, ``hdl``, ...).
    source:
        Canonical repository URL (git) or record URL (archives).
    ref:
        The immutable ref: full commit SHA for git, ``<record id>@<version>`` for
        archives, the core SWHID for Software Heritage.
    files:
        For archives: the files to download, with size and checksum.
    chain:
        Every hop from the identifier to the target.
    launch_path:
        ``v2/<provider>/<spec pinned to ref>``: a BinderHub-style path that
        launches exactly this target again.
    title:
        Human-readable title for the UI ("" if unknown).
    warnings:
        Things the user should know (concept DOI pinned, tag moved, ...).
    choices:
        Non-empty when the identifier is ambiguous; the target is then not
        launchable until one choice is resolved.
    ref_url:
        A browsable URL of the exact ref (BinderHub's ``binder_ref_url``), or "".
    provenance:
        Extra, provider-specific facts kept for the record (Git tag and commit of a
        Zenodo GitHub release, Handle value index and timestamp, ...).
    """

    identifier: str
    kind: Kind
    provider: str
    source: str
    ref: str
    launch_path: str
    files: tuple[FileEntry, ...] = ()
    chain: tuple[Hop, ...] = ()
    title: str = ""
    warnings: tuple[str, ...] = ()
    choices: tuple[Choice, ...] = ()
    ref_url: str = ""
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def ambiguous(self) -> bool:
        return bool(self.choices)

    @property
    def cache_key(self) -> str:
        """Identity of the content made only of immutable parts."""
        return f"{self.kind}:{self.provider}:{self.source}@{self.ref}"

    def urls(self) -> Iterator[tuple[str, str]]:
        """Every URL the target carries, as (what it is, URL): what fetch downloads, what
        the launcher shows (source, ref_url) and what is handed on (provenance, choices)."""
        for entry in self.files:
            yield f"file {entry.name[:80]!r}", entry.url
        if self.source:
            yield "source", self.source
        if self.ref_url:
            yield "ref_url", self.ref_url
        for key, value in self.provenance.items():
            if value and (_URL.match(value) or key.endswith("url")):
                yield f"provenance {key}", value
        for choice in self.choices:
            if _URL.match(choice.identifier):
                yield "choice", choice.identifier

    def with_(self, **changes: Any) -> LaunchTarget:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "identifier": self.identifier,
            "kind": self.kind,
            "provider": self.provider,
            "source": self.source,
            "ref": self.ref,
            "files": [f.to_json() for f in self.files],
            "chain": [h.to_json() for h in self.chain],
            "launch_path": self.launch_path,
            "title": self.title,
            "warnings": list(self.warnings),
            "choices": [c.to_json() for c in self.choices],
            "ref_url": self.ref_url,
            "provenance": dict(self.provenance),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LaunchTarget:
        return cls(
            identifier=data["identifier"],
            kind=data["kind"],
            provider=data["provider"],
            source=data["source"],
            ref=data["ref"],
            launch_path=data["launch_path"],
            files=tuple(FileEntry(**f) for f in data.get("files", [])),
            chain=tuple(Hop.from_json(h) for h in data.get("chain", [])),
            title=data.get("title", ""),
            warnings=tuple(data.get("warnings", [])),
            choices=tuple(Choice(**c) for c in data.get("choices", [])),
            ref_url=data.get("ref_url", ""),
            provenance=dict(data.get("provenance", {})),
        )

    @classmethod
    def from_directory(cls, path: Path) -> LaunchTarget:
        """A target for a local directory, built as it is (``nfdi-launcher build ./dir``).

        Its ``ref`` is not immutable: the image is named by the content digest of the
        tree, so a changed directory gets a new image. Not launchable by path.
        """
        return cls(identifier=str(path), kind="archive", provider="local",
                   source=path.resolve().as_uri(), ref="worktree", launch_path="")
