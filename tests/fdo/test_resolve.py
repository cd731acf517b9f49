"""The resolution pipeline: chain, cache TTLs, config of the plug-in order."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from traitlets import TraitError
from traitlets.config import Config

from fdo import resolve as resolve_fn
from fdo.errors import NotFound, UnsupportedIdentifier, UpstreamError
from fdo.providers import parse
from fdo.resolve import Resolution, ResolutionCache, ResolverConfig
from fdo.target import LaunchTarget
from tests.harness.gitserver import Rewriter
from tests.harness.replay import ReplayServer

pytestmark = pytest.mark.usefixtures("no_dns_beyond_loopback")


def test_cached_resolution_makes_no_round_trip(resolution: Callable[..., Resolution]) -> None:
    res = resolution()
    first = res.resolve("https://zenodo.org/records/7834392")
    trips = res.http.round_trips
    again = res.resolve("https://zenodo.org/records/7834392")
    assert res.http.round_trips == trips
    assert again == first


def test_cache_keeps_the_identifier_as_given(resolution: Callable[..., Resolution]) -> None:
    res = resolution()
    res.resolve("https://zenodo.org/records/7834392")
    other = res.resolve("  https://zenodo.org/records/7834392")
    assert other.identifier == "  https://zenodo.org/records/7834392"


def test_mutable_pins_get_the_short_ttl(
    resolution: Callable[..., Resolution], git_rewrites: Rewriter
) -> None:
    git_rewrites({"https://github.com/o/rees": "rees-dockerfile"})
    res = resolution(ResolverConfig={"mutable_cache_ttl": 0.0})
    res.resolve("https://github.com/o/rees")
    trips = res.http.round_trips
    res.resolve("https://zenodo.org/records/7834392")  # immutable: cached
    res.resolve("https://zenodo.org/records/7834392")
    assert res.http.round_trips == trips + 1
    key = next(iter(res.cache._data))
    assert "zenodo" in key  # the branch resolution was not cached (ttl 0)


def test_cache_entries_expire() -> None:
    now = [1000.0]  # a controlled clock: expiry must not depend on how busy the machine is
    cache = ResolutionCache(2, clock=lambda: now[0])
    target = LaunchTarget("x", "git", "git", "s", "r", "p")
    cache.put("a", target, 5.0)
    now[0] += 4.9
    assert cache.get("a") is target
    now[0] += 0.2
    assert cache.get("a") is None
    for key in "bcd":
        cache.put(key, target, 10)
    assert cache.get("b") is None
    assert cache.get("d") is target  # bounded, LRU


def test_resolver_order_is_configurable(resolution: Callable[..., Resolution]) -> None:
    res = resolution(ResolverConfig={"resolvers": ["fdo.resolvers.git.GitResolver"]})
    with pytest.raises(UnsupportedIdentifier, match="no resolver handles doi"):
        res.resolve("10.5281/zenodo.48440")


def test_chain_records_every_hop(resolution: Callable[..., Resolution], replay: ReplayServer,
                                 git_rewrites: Rewriter) -> None:
    """Handle record CONSTRUCTED (Handle REST shape) pointing at a GitHub tree URL."""
    git_rewrites({"https://github.com/o/rees": "rees-dockerfile"})
    replay.add("https://hdl.handle.net/api/handles/21.1/chain", body={"responseCode": 1, "values": [
        {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://github.com/o/rees/tree/v1.1"}}]})
    target = resolution().resolve("hdl:21.1/chain")
    chain = target.to_json()["chain"]
    assert [h["via"] for h in chain] == ["handle", "git ls-remote refs/tags/v1.1"]
    assert chain[0] == {"from": "hdl:21.1/chain", "to": "https://github.com/o/rees@v1.1", "via": "handle"}
    assert chain[1]["to"].endswith(target.ref)
    assert LaunchTarget.from_json(target.to_json()) == target


def test_module_level_resolve_accepts_config(rewrites_env: dict[str, str]) -> None:
    target = resolve_fn("https://zenodo.org/records/7834392", config=Config())
    assert target.provider == "zenodo"


def test_missing_record_is_not_found_with_advice(resolution: Callable[..., Resolution]) -> None:
    with pytest.raises(NotFound, match="check the identifier"):
        resolution().resolve("https://zenodo.org/records/1")


def test_unexpected_record_shape_is_a_one_line_upstream_error(
    resolution: Callable[..., Resolution], replay: ReplayServer
) -> None:
    """A revision answer CONSTRUCTED without its ``directory`` field."""
    rev = "1" * 40
    replay.add(f"https://archive.softwareheritage.org/api/1/revision/{rev}/", body={"id": rev})
    with pytest.raises(UpstreamError, match="unexpected format") as info:
        resolution().resolve(f"swh:1:rev:{rev}")
    assert "\n" not in str(info.value)


def test_extra_hosts_extend_url_recognition() -> None:
    config = Config()
    config.ResolverConfig.extra_hosts = ["zenodo:zenodo.example.org", "rsd:rsd.example.org"]
    table = ResolverConfig(config=config).provider_table()

    assert parse("https://zenodo.example.org/records/5", table=table).kind == "zenodo"
    assert parse("https://rsd.example.org/software/tool", table=table).kind == "rsd"
    assert parse("https://rsd.example.org/software/tool").kind == "git"  # not without the setting


@pytest.mark.parametrize("entry", ["zenodoo:zenodo.example.org", "gh:github.example.org", "zenodo:"])
def test_extra_hosts_entry_that_no_provider_uses_is_a_config_error(entry: str) -> None:
    config = Config()
    config.ResolverConfig.extra_hosts = [entry]
    with pytest.raises(TraitError, match="not <provider>:<host> with provider one of zenodo"):
        ResolverConfig(config=config)
