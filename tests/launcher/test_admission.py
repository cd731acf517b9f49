"""Rate limit, allow/deny patterns, quotas and build tokens (pure, no network)."""

import time

import pytest

from launcher import buildtoken
from launcher.admission import AdmissionError, Quotas, RateLimiter, SpecPolicy


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


def test_spec_policy_messages() -> None:
    policy = SpecPolicy(allowed=[r"^gh/good-org/"], banned=[r"^gh/good-org/bad"])
    policy.check("gh/good-org/repo/HEAD")
    with pytest.raises(AdmissionError) as err:
        policy.check("gh/good-org/bad-repo/HEAD")
    assert str(err.value) == ("Sorry, gh/good-org/bad-repo/HEAD is not allowed to launch. "
                              "Please contact admins for more info!")
    with pytest.raises(AdmissionError):
        policy.check("gh/other/repo/HEAD")
    assert SpecPolicy([], []).is_allowed("anything/x")
    assert not SpecPolicy([], [r"^GH/"]).is_allowed("gh/x/y/z")  # case-insensitive


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
