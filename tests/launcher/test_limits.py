"""Rate limit, allow/deny patterns, quotas and build tokens (pure, no network)."""

import time

import pytest

from launcher import buildtoken
from launcher.limits import AdmissionError, Quotas, RateLimiter, SpecPolicy, UsedTokens


def test_rate_limit_fixed_window_with_headers() -> None:
    now = [1000.0]
    rl = RateLimiter(limit=2, period=60, clock=lambda: now[0])
    h1 = rl.check("1.2.3.4")
    assert h1["x-ratelimit-limit"] == "2"
    assert h1["x-ratelimit-remaining"] == "1"
    assert rl.check("1.2.3.4")["x-ratelimit-remaining"] == "0"
    with pytest.raises(AdmissionError) as err:
        rl.check("1.2.3.4")
    assert err.value.status_code == 429
    assert str(err.value) == "Rate limit exceeded. Try again in 60 seconds."
    assert "x-ratelimit-reset" in err.value.headers
    assert rl.check("5.6.7.8")["x-ratelimit-remaining"] == "1"  # per client
    now[0] += 61
    assert rl.check("1.2.3.4")["x-ratelimit-remaining"] == "1"  # new window


def test_rate_limit_zero_disables() -> None:
    rl = RateLimiter(limit=0, period=60)
    for _ in range(100):
        assert rl.check("x") == {}


def test_spec_policy_over_candidate_spellings() -> None:
    policy = SpecPolicy(allowed=[r"^gh/good-org/"], banned=[r"^gh/good-org/bad"])
    assert policy.allows(["gh/good-org/repo/HEAD"])
    assert not policy.allows(["gh/good-org/bad-repo/HEAD"])
    assert not policy.allows(["gh/other/repo/HEAD"])
    # any banned spelling bans; one allowed spelling allows
    assert not policy.allows(["gh/good-org/repo", "gh/good-org/bad/x"])
    assert policy.allows(["doi/10.1/x", "gh/good-org/repo"])
    assert SpecPolicy([], []).allows(["anything/x"])
    assert SpecPolicy([], [r"^GH/"]).banned_by(["gh/x/y/z"])  # case-insensitive
    assert str(SpecPolicy.refusal("gh/a/b")) == (
        "Sorry, gh/a/b is not allowed to launch. Please contact admins for more info!")


def test_quotas_count_in_progress_launches() -> None:
    q = Quotas(per_user=1, per_target=2, total=3)
    with q.hold("alice", "t1"):
        with pytest.raises(AdmissionError, match="already have 1"):
            with q.hold("alice", "t2"):
                pass
        with q.hold("bob", "t1"):
            with pytest.raises(AdmissionError, match="Too many users running t1"):
                with q.hold("carol", "t1"):
                    pass
            with q.hold("carol", "t2"):
                with pytest.raises(AdmissionError, match="Too many users on this launcher"):
                    with q.hold("dave", "t3"):
                        pass
    assert q.in_progress == 0
    assert not q.by_user
    assert not q.by_target


def test_build_token_roundtrip_and_rejections() -> None:
    secret = "00ff" * 8
    token = buildtoken.issue(secret, "gh/a/b/HEAD", "launch.example.org", 300)
    claims = buildtoken.decode(token, secret, "gh/a/b/HEAD", "launch.example.org")
    assert claims["aud"] == "gh/a/b/HEAD"
    assert claims["exp"] > time.time()
    for args, needle in [
        ((token, "other", "gh/a/b/HEAD", "launch.example.org"), "bad signature"),
        ((token, secret, "gh/a/c/HEAD", "launch.example.org"), "another repository"),
        ((token, secret, "gh/a/b/HEAD", "evil.example"), "another origin"),
        ((token[:-2] + "xx", secret, "gh/a/b/HEAD", None), "bad signature"),
        (("abc", secret, "gh/a/b/HEAD", None), "malformed"),
    ]:
        with pytest.raises(buildtoken.BuildTokenError, match=needle):
            buildtoken.decode(*args)
    expired = buildtoken.encode({"exp": 1, "aud": "x", "origin": "o"}, secret)
    with pytest.raises(buildtoken.BuildTokenError, match="expired"):
        buildtoken.decode(expired, secret, "x", "o")
    none_alg = token.replace(token.split(".")[0], "eyJhbGciOiJub25lIn0")
    with pytest.raises(buildtoken.BuildTokenError):
        buildtoken.decode(none_alg, secret, "gh/a/b/HEAD", None)


def test_build_token_is_bound_to_its_client() -> None:
    secret = "ab" * 16
    token = buildtoken.issue(secret, "gh/a/b/HEAD", "o", 300, client="ip:10.0.0.1")
    assert buildtoken.decode(token, secret, "gh/a/b/HEAD", "o", client="ip:10.0.0.1")["jti"]
    with pytest.raises(buildtoken.BuildTokenError, match="another client"):
        buildtoken.decode(token, secret, "gh/a/b/HEAD", "o", client="ip:10.0.0.2")
    assert "10.0.0.1" not in token  # the claim is a keyed hash, not the address


def test_a_token_is_free_once() -> None:
    used = UsedTokens(clock=lambda: 100.0)
    assert used.first_use("jti-1", 400.0)
    assert not used.first_use("jti-1", 400.0)
    assert used.first_use("jti-2", 400.0)
