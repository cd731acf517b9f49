"""The provider table: everything provider-specific outside the resolver modules derives
from its rows, and a new row is all the parser needs to know about a new provider."""

from __future__ import annotations

import re

import pytest

from fdo.errors import MalformedIdentifier
from fdo.identifiers import Classifier, Identifier, WebUrl, malformed
from fdo.providers import (
    BY_ID,
    PROVIDERS,
    SPEC_PROVIDERS,
    Provider,
    ProviderTable,
    display_name,
    parse,
)

# what the form's example launches: the identifier kind, and the provider hint a DOI spec keeps
EXPECTED_KIND = {
    "gh": ("git", "gh"), "gist": ("git", "gist"), "git": ("git", "git"), "gl": ("git", "gl"),
    "doi": ("doi", ""), "hdl": ("handle", ""), "swhid": ("swhid", ""), "rocrate": ("rocrate", ""),
    "zenodo": ("doi", "zenodo"), "figshare": ("doi", "figshare"), "dataverse": ("doi", "dataverse"),
    "hydroshare": ("hydroshare", ""), "ckan": ("ckan", ""), "rsd": ("rsd", ""),
    "invenio": ("invenio", ""),
}


@pytest.mark.parametrize("row", [r for r in PROVIDERS if r.spec], ids=lambda r: r.id)
def test_each_rows_example_spec_parses_to_that_provider(row: Provider) -> None:
    ident = parse(row.example_spec())
    kind, hint = EXPECTED_KIND[row.id]
    assert ident.kind == kind, f"{row.example_spec()} -> {ident.kind}"
    assert ident.get("provider") == hint, f"{row.example_spec()} -> provider {ident.get('provider')!r}"


@pytest.mark.parametrize("row", [r for r in PROVIDERS if r.form], ids=lambda r: r.id)
def test_form_example_matches_the_forms_own_pattern(row: Provider) -> None:
    # BinderHub's form checks the repository field against validateRegex (JS syntax; the
    # named groups of ``detect`` are JS-only, the validate patterns are plain).
    assert row.form is not None
    assert re.fullmatch(row.form.pattern, row.example_spec().split("/", 1)[1]), row.example


def test_spec_prefixes_are_the_rows_with_a_spec_parser() -> None:
    assert SPEC_PROVIDERS == {r.id for r in PROVIDERS if r.spec}
    # records without a DOI launch as invenio/<host>/<recid>: /build must accept that prefix
    assert "invenio" in SPEC_PROVIDERS


def test_event_names_come_from_the_table_and_unknown_ids_pass_through() -> None:
    assert display_name("hydroshare") == "Hydroshare"  # BinderHub's launch-event name
    assert display_name("swhid") == "SoftwareHeritage"
    assert display_name("no-such-provider") == "no-such-provider"


def test_page_order_puts_pid_resolvers_before_data_repositories() -> None:
    # an RO-Crate file stored on Zenodo is an RO-Crate, a DOI link stays a DOI
    assert parse("https://zenodo.org/records/1/files/ro-crate-metadata.json").kind == "rocrate"
    assert parse("https://doi.org/10.5281/zenodo.1").kind == "doi"
    assert parse("https://zenodo.org/records/1").kind == "zenodo"


# -- adding a provider: one page/spec parser pair and one row --------------------------------

def _toy_spec(rest: str, raw: str, _table: Classifier) -> Identifier:
    if not rest.isdigit():
        raise malformed("toy id must be digits", "write toy/<digits>")
    return Identifier("toy", f"toy:{rest}", {"id": rest}, raw)


def _toy_page(url: WebUrl, raw: str, hosts: frozenset[str]) -> Identifier | None:
    if url.host not in hosts or url.segments[:1] != ["item"]:
        return None
    return _toy_spec(url.segments[1] if len(url.segments) > 1 else "", raw, ProviderTable())


TOY = Provider("toy", "Toy", _toy_spec, _toy_page, frozenset({"toy.example.org"}), more_hosts=True,
               example="42")


def test_a_new_row_is_parsed_by_spec_page_and_extra_host() -> None:
    table = ProviderTable((*PROVIDERS, TOY), extra_hosts={"toy": ["toys.example.net"]})
    assert parse("toy/42", table=table).normalized == "toy:42"
    assert parse("v2/toy/42", table=table).normalized == "toy:42"
    assert parse("https://toy.example.org/item/7", table=table).normalized == "toy:7"
    assert parse("https://toys.example.net/item/8", table=table).normalized == "toy:8"
    with pytest.raises(MalformedIdentifier, match="toy id must be digits"):
        parse("toy/abc", table=table)
    # the default table does not know it
    assert "toy" not in BY_ID
    assert parse("https://toy.example.org/item/7").kind == "git"


def test_extra_hosts_only_for_rows_that_take_them() -> None:
    with pytest.raises(ValueError, match="cannot add hosts to provider gh"):
        ProviderTable(extra_hosts={"gh": ["github.example.org"]})
