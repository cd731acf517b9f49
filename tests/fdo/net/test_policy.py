"""URL policy: rewrites, schemes, credentials and address classes (no sockets opened)."""

from __future__ import annotations

import ipaddress

import pytest

from fdo.config import NetConfig, rewrites_from_env
from fdo.errors import RefusedTarget
from fdo.net import address_problem, apply_rewrites, check_url, redact_url
from fdo.net.policy import unrewrite


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
