"""The provider table: one row per provider, and identifier parsing through it.

Everything that differs between providers is either in the provider's resolver module
(``fdo/resolvers/<provider>.py``: how its specs and web pages are read, how it resolves,
what fetch has to wait for) or in its row here (id, names, hosts, example, the BinderHub
form). The spec prefixes (``SPEC_PROVIDERS``), the spec dispatch, the hosts recognised by
URL shape, the launcher's ``/api/repoproviders`` and the launch-event names are all
derived from :data:`PROVIDERS`, like repo2docker's self-contained content providers.

``parse`` (any pasted string -> :class:`~fdo.identifiers.Identifier`) tries, in order:
the PID prefixes (``swh:``, ``doi:``/``10.``, ``hdl:``), a row's own scheme (``rsd:``),
``http(s)`` URLs (each row's page parser in table order, then Git forges), SSH Git
URLs, ``<provider>/<spec>``, bare Handles, and host names without a scheme.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from fdo.errors import MalformedIdentifier
from fdo.identifiers import (
    Identifier,
    PageParser,
    SpecParser,
    check_ascii_scheme,
    clean_input,
    malformed,
    pids,
    refuse_transports,
    web_url,
)
from fdo.identifiers.forges import FORGE_HOSTS, forge_url, parse_ssh
from fdo.identifiers.specs import gh_spec, gist_spec, git_spec, gl_spec
from fdo.resolvers.ckan import ckan_page, ckan_spec
from fdo.resolvers.dataverse import dataverse_page
from fdo.resolvers.figshare import figshare_page
from fdo.resolvers.hydroshare import hydroshare_page, hydroshare_spec, prepare_bag
from fdo.resolvers.invenio import invenio_page, invenio_spec, zenodo_page
from fdo.resolvers.rocrate import rocrate_page, rocrate_spec
from fdo.resolvers.rsd import rsd_page, rsd_spec
from fdo.resolvers.swh import prepare_vault

if TYPE_CHECKING:
    from fdo.net.http import HttpClient
    from fdo.net.poll import PollLimits
    from fdo.target import LaunchTarget

#: fetch-time wait for downloads a provider builds on demand (see :mod:`fdo.prepare`)
Preparer = Callable[["LaunchTarget", "HttpClient", "PollLimits"], "LaunchTarget"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_HOSTLESS = re.compile(r"^(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)+/", re.IGNORECASE)


@dataclass(frozen=True)
class Form:
    """How BinderHub's form shows the provider (``/api/repoproviders`` display_config)."""

    title: str  # displayName
    pattern: str  # spec.validateRegex: what the repository field must match
    label: str  # repo.label
    url_encode: bool = False  # the repository field is URL-encoded into the spec
    ref: bool = False  # the form has a ref field (default HEAD)
    detect: str = ""  # regex that recognises a pasted URL of this provider


@dataclass(frozen=True)
class Provider:
    """One provider. ``id`` is its spec prefix (``<id>/<spec>``) and ``LaunchTarget.provider``."""

    id: str
    #: short display name; BinderHub's name where BinderHub has the provider (launch events)
    name: str
    #: ``<id>/<rest>`` -> Identifier; None if the provider has no launch spec of its own
    spec: SpecParser | None = None
    #: recognises this provider's web pages (called in table order for every http(s) URL)
    page: PageParser | None = None
    #: hosts ``page`` recognises
    hosts: frozenset[str] = frozenset()
    #: operators may add hosts (``ResolverConfig.extra_hosts``), e.g. their own Dataverse
    more_hosts: bool = False
    #: ``<scheme><rest>`` means the same as the spec ``<id>/<rest>`` (e.g. ``rsd:``)
    scheme: str = ""
    #: an example of what goes after ``<id>/`` (the repository field, for a form)
    example: str = ""
    #: shown in BinderHub's form and ``/api/repoproviders``; None: not listed there
    form: Form | None = None
    #: fetch-time wait for downloads the provider builds on demand
    prepare: Preparer | None = None

    def example_spec(self) -> str:
        """The launch spec the form would make from :attr:`example` (ref ``HEAD``)."""
        body = quote(self.example, safe="") if self.form and self.form.url_encode else self.example
        return f"{self.id}/{body}" + ("/HEAD" if self.form and self.form.ref else "")


_DOI_FORM = "10\\.\\d+/(.)+"

#: The table. Order matters for web pages: the first row whose page parser claims a URL
#: wins (PID resolvers, then RO-Crate files on any host, then the data repositories).
PROVIDERS: tuple[Provider, ...] = (
    Provider("gh", "GitHub", gh_spec, example="binder-examples/requirements",
             form=Form("GitHub", "[^/]+/[^/]+/.+", "GitHub repository name or URL", ref=True,
                       detect="^(https?://github.com/)?(?<repo>.*[^/])/?")),
    Provider("gist", "Gist", gist_spec, example="jakevdp/7d3c5e7b3b8c1b9c4c1b",
             form=Form("Gist", "[^/]+/[^/]+(/[^/]+)?", "Gist ID (username/gistId) or URL", ref=True,
                       detect="^(https?://gist.github.com/)?(?<repo>.*[^/])/?")),
    Provider("git", "Git", git_spec, example="https://git.example.org/group/repo.git",
             form=Form("Git repository", "[^/]+/.+", "Arbitrary git repository URL",
                       url_encode=True, ref=True)),
    Provider("gl", "GitLab", gl_spec, example="gitlab-org/gitlab-docs",
             form=Form("GitLab.com", "[^/]+/.+", "GitLab.com repository or URL", url_encode=True,
                       ref=True, detect="^(https?://gitlab.com/)?(?<repo>.*[^/])/?")),
    Provider("doi", "DOI", pids.doi_spec(), pids.doi_page,
             frozenset({"doi.org", "dx.doi.org", "www.doi.org"}), example="10.5281/zenodo.3242074",
             form=Form("DOI (any registry)", _DOI_FORM, "DOI",
                       detect="^(https?://(dx\\.)?doi.org/|doi:)?(?<repo>10\\..+)$")),
    Provider("hdl", "Handle", pids.handle_spec, pids.handle_page, frozenset({"hdl.handle.net"}),
             example="21.11152/a1b2c3",
             form=Form("Handle / FDO PID", "[^/]+/.+", "Handle PID",
                       detect="^(https?://hdl.handle.net/|hdl:)?(?<repo>.+)$")),
    Provider("swhid", "SoftwareHeritage", pids.swhid_spec, pids.swhid_page,
             frozenset({"archive.softwareheritage.org"}),
             example="swh:1:dir:247168dd727c19cef2ce885476d3e4102d2ca7de",
             form=Form("Software Heritage ID", "swh:1:(dir|rev|rel|snp):[0-9a-f]{40}.*", "SWHID"),
             prepare=prepare_vault),
    Provider("rocrate", "RO-Crate", rocrate_spec, rocrate_page,
             example="https%3A%2F%2Fexample.org%2Fcrate%2Fro-crate-metadata.json"),
    Provider("zenodo", "Zenodo", pids.doi_spec("zenodo"), zenodo_page,
             frozenset({"zenodo.org", "sandbox.zenodo.org"}), more_hosts=True,
             example="10.5281/zenodo.3242074",
             form=Form("Zenodo DOI", _DOI_FORM, "Zenodo DOI")),
    Provider("invenio", "InvenioRDM", invenio_spec, invenio_page,
             frozenset({"rogue-scholar.org", "data.caltech.edu"}), more_hosts=True,
             example="rogue-scholar.org/apt10-14q04"),
    Provider("figshare", "Figshare", pids.doi_spec("figshare"), figshare_page,
             frozenset({"figshare.com"}), more_hosts=True, example="10.6084/m9.figshare.9782777.v1",
             form=Form("Figshare DOI", _DOI_FORM, "Figshare DOI")),
    Provider("dataverse", "Dataverse", pids.doi_spec("dataverse"), dataverse_page,
             frozenset({"dataverse.harvard.edu", "demo.dataverse.org"}), more_hosts=True,
             example="10.7910/DVN/TJCLKP",
             form=Form("Dataverse DOI", _DOI_FORM, "Dataverse DOI")),
    Provider("hydroshare", "Hydroshare", hydroshare_spec, hydroshare_page,
             frozenset({"www.hydroshare.org", "hydroshare.org"}), more_hosts=True,
             example="8f7c2f0341ef4180b0bd4ba2fc5d1a6b",
             form=Form("Hydroshare resource", "[^/]+", "Hydroshare resource id or URL", url_encode=True),
             prepare=prepare_bag),
    Provider("ckan", "CKAN", ckan_spec, ckan_page, frozenset({"data.depositar.io", "demo.ckan.org"}),
             more_hosts=True,
             example="https://demo.ckan.org/dataset/sample-dataset-1",
             form=Form("CKAN dataset", "[^/]+(/.+)?", "CKAN dataset URL", url_encode=True)),
    Provider("rsd", "RSD", rsd_spec, rsd_page,
             frozenset({"nfdi.software", "research-software-directory.org", "helmholtz.software"}),
             more_hosts=True, scheme="rsd:", example="nfdi.software/nfdi-launcher"),
)


class ProviderTable:
    """The rows with the operator's extra hosts; classifies identifiers through them."""

    def __init__(
        self,
        rows: Iterable[Provider] = PROVIDERS,
        extra_hosts: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.rows = tuple(rows)
        self.by_id = {row.id: row for row in self.rows}
        extra = dict(extra_hosts or {})
        unknown = sorted(set(extra) - set(hosted_ids(self.rows)))
        if unknown:
            raise ValueError(
                f"operators cannot add hosts to provider {', '.join(unknown)}; "
                f"use one of {', '.join(hosted_ids(self.rows))}"
            )
        self.hosts = {
            row.id: row.hosts | frozenset(h.lower() for h in extra.get(row.id, ()))
            for row in self.rows
        }
        self.spec_ids = frozenset(row.id for row in self.rows if row.spec is not None)

    def parse(self, raw: str, *, location: bool = False) -> Identifier:
        """Classify ``raw`` syntactically (no network).

        ``location=True`` is for URLs found inside records (Handle values, DataCite
        ``url``): an unknown web page is then kind ``url`` (a landing page), whereas a URL
        typed by a user is taken to be a Git repository, as in repo2docker.
        """
        text = clean_input(raw)
        check_ascii_scheme(text)
        refuse_transports(text)
        low = text.lower()
        if low.startswith("swh:"):
            return pids.swhid(text, raw)
        if low.startswith(("doi:", "info:doi/", "urn:doi:")) or text.startswith("10."):
            return pids.doi(text, raw)
        if low.startswith(("hdl:", "info:hdl/")):
            return pids.handle(text, raw)
        for row in self.rows:
            if row.scheme and row.spec and low.startswith(row.scheme):
                return row.spec(text[len(row.scheme) :], raw, self)
        if low.startswith(("http://", "https://")):
            return self.url(text, raw, location=location)
        return self._other(text, raw, location)

    def _other(self, text: str, raw: str, location: bool) -> Identifier:
        ssh = parse_ssh(text, raw)
        if ssh is not None:
            return ssh
        scheme = _SCHEME.match(text)
        if scheme and "://" in text:
            raise malformed(f"URL scheme '{scheme.group(1)}:' is not supported", "use an https:// URL")
        if self.is_spec(text):
            return self.spec(text, raw)
        handle = pids.try_handle(text, raw)
        if handle is not None:
            return handle
        if _HOSTLESS.match(text):
            return self.url("https://" + text, raw, location=location)
        raise malformed(
            f"'{text[:60]}' is not a DOI, Handle PID, SWHID, Git URL or Binder spec",
            "paste e.g. 10.5281/zenodo.48440, hdl:21.11152/..., swh:1:dir:..., "
            "or https://github.com/<owner>/<repo>",
        )

    def url(self, text: str, raw: str, *, location: bool = False) -> Identifier:
        """An ``http(s)`` URL: the first row whose page parser claims it, else a Git
        repository (typed by a user) or a landing page (found in a record)."""
        web = web_url(text)
        for row in self.rows:
            if row.page is None:
                continue
            try:
                found = row.page(web, raw, self.hosts[row.id])
            except MalformedIdentifier:
                if not location:
                    raise
                break  # e.g. a direct file link on a repository host inside a record
            if found is not None:
                return found
        if location and not web.path.lower().endswith(".git") and web.host not in FORGE_HOSTS:
            return Identifier("url", text, {"url": text}, raw)
        return forge_url(text, raw)

    def is_spec(self, text: str) -> bool:
        head = text.removeprefix("/").removeprefix("v2/").split("/", 1)[0]
        return head in self.spec_ids and "/" in text

    def spec(self, text: str, raw: str) -> Identifier:
        """A BinderHub launch spec ``[/][v2/]<provider>/<rest>``."""
        provider, _, rest = text.removeprefix("/").removeprefix("v2/").partition("/")
        row = self.by_id.get(provider)
        if row is None or row.spec is None:
            raise malformed(f"'{provider[:40]}' is not a launch spec prefix",
                            f"use one of {', '.join(sorted(self.spec_ids))}")
        if not rest:
            raise malformed(f"'{provider}/' spec is empty", f"write {provider}/<...> as in a Binder link")
        return row.spec(rest, raw, self)


def hosted_ids(rows: Iterable[Provider] = PROVIDERS) -> list[str]:
    """Ids of the providers to which operators may add hosts (``extra_hosts`` kinds)."""
    return [row.id for row in rows if row.more_hosts]


DEFAULT_TABLE = ProviderTable()
BY_ID: Mapping[str, Provider] = DEFAULT_TABLE.by_id
#: prefixes of BinderHub-style launch specs (``/v2/<prefix>/<spec>``)
SPEC_PROVIDERS = DEFAULT_TABLE.spec_ids


def parse(raw: str, *, table: ProviderTable = DEFAULT_TABLE, location: bool = False) -> Identifier:
    """Any string a user pastes -> a typed Identifier (see :meth:`ProviderTable.parse`).

    Malformed input raises :class:`fdo.errors.MalformedIdentifier`; forbidden transports
    (``ext::``, ``file://``) raise :class:`fdo.errors.RefusedTarget`; SWHIDs of single files
    raise :class:`fdo.errors.UnsupportedIdentifier`. Every message is one line saying what
    to do.
    """
    return table.parse(raw, location=location)


def display_name(provider: str) -> str:
    """The provider's short name (launch events), or the id itself for unknown ids."""
    row = BY_ID.get(provider)
    return row.name if row else provider
