"""URL policy: rewrites, schemes, credentials and address classes (no sockets opened)."""

from __future__ import annotations

import ipaddress

import pytest

from fdo.config import NetConfig, rewrites_from_env
from fdo.errors import RefusedTarget
from fdo.net import address_problem, apply_rewrites, check_url, redact_url
from fdo.net.policy import carried_problem, unrewrite


def test_public_literal_passes_and_is_returned_unchanged() -> None:
    assert check_url("https://93.184.216.34/x?y=1", NetConfig()) == "https://93.184.216.34/x?y=1"


def test_longest_prefix_rewrite_wins_and_is_trusted() -> None:
    rw = {"https://zenodo.org/": "http://127.0.0.1:1/z/", "https://zenodo.org/api/": "http://127.0.0.1:1/a/"}
    assert apply_rewrites("https://zenodo.org/api/records/1", rw) == ("http://127.0.0.1:1/a/records/1", True)
    assert apply_rewrites("https://zenodo.org/record/1", rw) == ("http://127.0.0.1:1/z/record/1", True)
    assert apply_rewrites("https://other.org/", rw) == ("https://other.org/", False)
    # loopback + http are fine once rewritten by the operator
    assert check_url("https://zenodo.org/api/records/1", NetConfig(url_rewrites=rw)).startswith("http://127.0.0.1:1/a/")
    assert unrewrite("http://127.0.0.1:1/a/records/2", rw) == "https://zenodo.org/api/records/2"


def test_env_rewrites_merge_and_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NFDI_LAUNCHER_URL_REWRITES", '{"https://a.org/": "http://127.0.0.1:9/env/"}')
    cfg = NetConfig(url_rewrites={"https://a.org/": "http://127.0.0.1:9/cfg/", "https://b.org/": "http://127.0.0.1:9/b/"})
    assert cfg.effective_rewrites() == {"https://a.org/": "http://127.0.0.1:9/env/", "https://b.org/": "http://127.0.0.1:9/b/"}


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '{"a": 1}'])
def test_malformed_env_rewrites_are_refused(raw: str) -> None:
    with pytest.raises(RefusedTarget, match="NFDI_LAUNCHER_URL_REWRITES"):
        rewrites_from_env({"NFDI_LAUNCHER_URL_REWRITES": raw})


@pytest.mark.parametrize(("ip", "label"), [
    ("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("169.254.169.254", "link-local"),
    ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"), ("fd00::1", "private"),
    ("fe80::1", "link-local"), ("::ffff:127.0.0.1", "embeds 127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "embeds 169.254.169.254"), ("2002:a00:1::", "embeds 10.0.0.1"),
    ("100.64.0.1", "not a public address"), ("240.0.0.1", "reserved"), ("::", "unspecified"),
])
def test_address_classes(ip: str, label: str) -> None:
    problem = address_problem(ipaddress.ip_address(ip))
    assert problem is not None
    assert label in problem


def test_public_addresses_pass_and_operator_networks_are_allowed() -> None:
    assert address_problem(ipaddress.ip_address("93.184.216.34")) is None
    assert address_problem(ipaddress.ip_address("2606:4700::1")) is None
    assert address_problem(ipaddress.ip_address("10.20.1.1"), ["10.20.0.0/16"]) is None
    assert check_url("https://10.20.1.1/x", NetConfig(allowed_networks=["10.20.0.0/16"])) == "https://10.20.1.1/x"


def test_http_only_when_allowed_and_ssh_only_for_git() -> None:
    with pytest.raises(RefusedTarget, match="scheme 'http' is not allowed; use https"):
        check_url("http://93.184.216.34/", NetConfig())
    assert check_url("http://93.184.216.34/", NetConfig(allow_http=True))
    with pytest.raises(RefusedTarget, match="scheme 'ssh'"):
        check_url("ssh://git@93.184.216.34/r.git", NetConfig(), git=True)
    assert check_url("ssh://git@93.184.216.34/r.git", NetConfig(git_allow_ssh=True), git=True)


def test_redact_url_hides_credentials_and_tokens() -> None:
    shown = redact_url("https://user:s3cret@h.org/p?access_token=abc&x=1&sig=zzz")
    assert "s3cret" not in shown
    assert "abc" not in shown
    assert "zzz" not in shown
    assert shown == "https://h.org/p?access_token=[secret]&x=1&sig=[secret]"


def test_refusal_message_is_one_actionable_line() -> None:
    with pytest.raises(RefusedTarget) as err:
        check_url("https://localhost/x?token=abc", NetConfig())
    msg = str(err.value)
    assert "\n" not in msg
    assert "abc" not in msg
    assert "allowed_networks" in msg


# -- URLs a resolved target carries (checked at resolve time, never contacted) -----------

MIRROR = {"https://zenodo.org/": "http://127.0.0.1:9/zenodo.org/"}


@pytest.mark.parametrize(("url", "config", "expected"), [
    # under an operator rewrite: trusted as rewritten, although the mirror is on loopback
    ("https://zenodo.org/api/records/1/files/a.csv", {"url_rewrites": MIRROR}, None),
    # the mirror's own address named in a record is NOT trusted
    ("http://127.0.0.1:9/zenodo.org/a.csv", {"url_rewrites": MIRROR, "allow_http": True},
     ("127.0.0.1", "loopback")),
    # dot segments could climb out of the mirrored prefix
    ("https://zenodo.org/api/../../etc/x", {"url_rewrites": MIRROR}, ("zenodo.org", "path segments")),
    # http only where the operator allows it; literals need no DNS
    ("http://93.184.216.34/a.csv", {}, ("93.184.216.34", "scheme 'http' is not allowed")),
    ("http://93.184.216.34/a.csv", {"allow_http": True}, None),
    ("https://0x7f.1/a.csv", {}, ("0x7f.1", "127.0.0.1 is loopback")),
    ("https://0x7f.1/a.csv", {"allowed_networks": ["127.0.0.0/8"]}, None),
    ("ftp://93.184.216.34/a.csv", {"allow_http": True}, ("93.184.216.34", "scheme 'ftp'")),
    ("data:text/plain,x", {}, ("", "scheme 'data'")),
    ("https://u:p@93.184.216.34/a.csv", {}, ("93.184.216.34", "credentials")),
])
def test_carried_url_policy(url: str, config: dict[str, object],
                            expected: tuple[str, str] | None) -> None:
    problem = carried_problem(url, NetConfig(**config))
    if expected is None:
        assert problem is None
        return
    assert problem is not None, f"{url} passed"
    host, reason = problem
    assert host == expected[0]
    assert expected[1] in reason
    assert url not in reason  # the reason is the policy's, without the URL again


def test_carried_url_names_are_resolved_once_per_host(no_dns_beyond_loopback: list[str]) -> None:
    names: dict[str, str | None] = {}
    for path in ("a", "b", "c"):
        assert carried_problem(f"https://files.example.org/{path}", NetConfig(), names=names) is None
    # the name did not resolve here (lookups are blocked): not refused, fetch checks it again
    assert no_dns_beyond_loopback == ["files.example.org"]
    no_dns_beyond_loopback.clear()
