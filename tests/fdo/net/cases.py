"""The network part of the bad-input corpus: hostile URLs, redirects, git values.

Each :class:`Case` names an operation, its hostile argument and the refusal expected
(exception class name + message substring). ``{canary}``/``{cport}`` in an argument
are replaced by the canary's URL/port, ``{marker}`` by a file that must never appear.

:data:`NETNS` cases name private, link-local or metadata addresses: they run inside a
loopback-only network namespace (:func:`run_batch` is the entry point there), so even
a wrong client could not send a packet off the machine.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fdo.config import NetConfig
from fdo.errors import ResolveError
from fdo.net import Git, HttpClient, check_ref
from tests.harness.canary import Canary
from tests.harness.replay import ReplayServer

SHA = "0123456789abcdef0123456789abcdef01234567"


@dataclass(frozen=True)
class Case:
    id: str
    op: str  # get | get_http | redirect | redirect_http | git_ls | git_ls_ssh | git_clone | check_ref
    arg: str
    exc: str = "RefusedTarget"
    message: str = "refused"


def _get(*items: tuple[str, str, str]) -> list[Case]:
    return [Case(i, "get_http", url, "RefusedTarget", msg) for i, url, msg in items]


LOCAL: list[Case] = [
    # loopback in every spelling, pointing at the canary's port
    *_get(
        ("loopback-literal", "http://127.0.0.1:{cport}/", "loopback"),
        ("loopback-localhost", "http://localhost:{cport}/", "names this machine"),
        ("loopback-LOCALHOST", "http://LOCALHOST:{cport}/", "names this machine"),
        ("loopback-localhost-dot", "http://localhost.:{cport}/", "names this machine"),
        ("loopback-localdomain", "http://localhost.localdomain:{cport}/", "names this machine"),
        ("loopback-sub-localhost", "http://evil.localhost:{cport}/", "names this machine"),
        ("loopback-deep-localhost", "http://a.b.c.localhost:{cport}/", "names this machine"),
        ("loopback-fullwidth", "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:{cport}/", "names this machine"),
        ("loopback-decimal", "http://2130706433:{cport}/", "loopback"),
        ("loopback-hex", "http://0x7f000001:{cport}/", "loopback"),
        ("loopback-hex-dotted", "http://0x7f.1:{cport}/", "loopback"),
        ("loopback-octal", "http://0177.0.0.1:{cport}/", "loopback"),
        ("loopback-short", "http://127.1:{cport}/", "loopback"),
        ("loopback-trailing-dot", "http://127.0.0.1.:{cport}/", "loopback"),
        ("loopback-other", "http://127.255.255.254:{cport}/", "loopback"),
        ("loopback-v6", "http://[::1]:{cport}/", "loopback"),
        ("loopback-v6-long", "http://[0:0:0:0:0:0:0:1]:{cport}/", "loopback"),
        ("loopback-mapped", "http://[::ffff:127.0.0.1]:{cport}/", "embeds 127.0.0.1"),
        ("loopback-mapped-hex", "http://[::ffff:7f00:1]:{cport}/", "embeds 127.0.0.1"),
        ("unspecified-v4", "http://0.0.0.0:{cport}/", "unspecified"),
        ("unspecified-zero", "http://0:{cport}/", "unspecified"),
        ("unspecified-v6", "http://[::]:{cport}/", "unspecified"),
        ("zone-id", "http://[fe80::1%25lo]:{cport}/", "invalid host"),
        ("option-host", "http://-oProxyCommand=x:{cport}/", "invalid host"),
    ),
    # schemes, credentials and malformed URLs (https-only default policy)
    Case("scheme-file", "get", "file:///etc/passwd", message="scheme 'file' is not allowed"),
    Case("scheme-FILE", "get", "FILE:///etc/passwd", message="scheme 'file' is not allowed"),
    Case("scheme-file-host", "get", "file://localhost/etc/passwd", message="scheme 'file'"),
    Case("scheme-ftp", "get", "ftp://127.0.0.1:{cport}/x", message="scheme 'ftp'"),
    Case("scheme-gopher", "get", "gopher://127.0.0.1:{cport}/_GET%20/", message="scheme 'gopher'"),
    Case("scheme-dict", "get", "dict://127.0.0.1:{cport}/info", message="scheme 'dict'"),
    Case("scheme-ldap", "get", "ldap://127.0.0.1:{cport}/", message="scheme 'ldap'"),
    Case("scheme-javascript", "get", "javascript:alert(1)", message="scheme 'javascript'"),
    Case("scheme-data", "get", "data:text/plain,hello", message="scheme 'data'"),
    Case("scheme-ext", "get", "ext::sh -c touch% {marker}", message="scheme 'ext'"),
    Case("scheme-jar", "get", "jar:https://x.org/a.jar!/", message="scheme 'jar'"),
    Case("scheme-http-default", "get", "http://127.0.0.1:{cport}/", message="use https"),
    Case("scheme-none", "get", "//127.0.0.1:{cport}/", message="scheme '(none)'"),
    Case("scheme-hostport", "get", "127.0.0.1:{cport}", message="is not allowed"),
    Case("empty-url", "get", "", message="empty URL"),
    Case("userinfo-password", "get", "https://user:pw@zenodo.org/api/records/1", message="credentials"),
    Case("userinfo-user", "get", "https://user@zenodo.org/api/records/1", message="credentials"),
    Case("userinfo-empty", "get", "https://:@zenodo.org/", message="credentials"),
    Case("userinfo-host-trick", "get", "https://zenodo.org@127.0.0.1:{cport}/", message="credentials"),
    Case("backslash-trick", "get", "https://zenodo.org\\@127.0.0.1:{cport}/", message="backslash"),
    Case("space-in-host", "get", "https://zen odo.org/", message="spaces"),
    Case("crlf-injection", "get", "https://zenodo.org/\r\nHost: 127.0.0.1", message="control characters"),
    Case("no-host", "get", "https://", message="no host"),
    Case("bad-bracket", "get", "https://[::1/", message="malformed URL"),
    Case("bad-port", "get", "https://zenodo.org:99999/", message="malformed URL"),
    # redirects answered by the (trusted) replay server into untrusted places
    Case("redir-canary-downgrade", "redirect", "{canary}/stolen", message="downgrade"),
    Case("redir-canary-https", "redirect", "https://127.0.0.1:{cport}/", message="loopback"),
    Case("redir-localhost", "redirect", "https://localhost:{cport}/", message="names this machine"),
    Case("redir-decimal", "redirect", "https://2130706433:{cport}/", message="loopback"),
    Case("redir-mapped", "redirect", "https://[::ffff:127.0.0.1]:{cport}/", message="embeds 127.0.0.1"),
    Case("redir-userinfo", "redirect", "https://u:p@zenodo.org/api/records/1", message="credentials"),
    Case("redir-file", "redirect", "file:///etc/passwd", message="downgrade"),
    Case("redir-gopher", "redirect", "gopher://127.0.0.1:{cport}/", message="downgrade"),
    Case("redir-protocol-relative", "redirect", "//127.0.0.1:{cport}/x", message="downgrade"),
    Case("redir-loop", "redirect", "https://zenodo.org/api/records/redir-redir-loop", message="more than 5 redirects"),
    Case("redir-http-loopback", "redirect_http", "{canary}/x", message="loopback"),
    Case("redir-http-localhost", "redirect_http", "http://localhost:{cport}/x", message="names this machine"),
    Case("redir-http-0", "redirect_http", "http://0:{cport}/x", message="unspecified"),
    # git: option injection, local and command transports, policy on hosts
    Case("git-upload-pack", "git_ls", "--upload-pack=touch {marker}", message="command-line option"),
    Case("git-short-option", "git_ls", "-u touch {marker}", message="command-line option"),
    Case("git-config-option", "git_ls", "--config=core.sshCommand=touch {marker}", message="command-line option"),
    Case("git-ext", "git_ls", "ext::sh -c touch% {marker}", message="'ext::'"),
    Case("git-EXT", "git_ls", "EXT::sh -c touch% {marker}", message="'ext::'"),
    Case("git-fd", "git_ls", "fd::17", message="'ext::'"),
    Case("git-file-url", "git_ls", "file:///etc", message="local repositories"),
    Case("git-file-tmp", "git_ls", "file:///tmp", message="local repositories"),
    Case("git-abs-path", "git_ls", "/etc", message="local repositories"),
    Case("git-rel-path", "git_ls", "./repo", message="local repositories"),
    Case("git-parent-path", "git_ls", "../repo", message="local repositories"),
    Case("git-scp-ssh-off", "git_ls", "git@github.com:owner/repo.git", message="ssh is not enabled"),
    Case("git-ssh-off", "git_ls", "ssh://git@github.com/owner/repo.git", message="scheme 'ssh'"),
    Case("git-git-protocol", "git_ls", "git://github.com/owner/repo", message="scheme 'git'"),
    Case("git-http-default", "git_ls", "http://127.0.0.1:{cport}/r.git", message="scheme 'http'"),
    Case("git-loopback", "git_ls", "https://127.0.0.1:{cport}/r.git", message="loopback"),
    Case("git-localhost", "git_ls", "https://localhost:{cport}/r.git", message="names this machine"),
    Case("git-credentials", "git_ls", "https://u:p@github.com/r.git", message="credentials"),
    Case("git-ssh-option-host", "git_ls_ssh", "ssh://git@-oProxyCommand=touch/r", message="invalid host"),
    Case("git-ssh-loopback", "git_ls_ssh", "ssh://git@127.0.0.1:{cport}/r", message="loopback"),
    Case("git-scp-localhost", "git_ls_ssh", "git@localhost:r.git", message="names this machine"),
    Case("git-ssh-decimal", "git_ls_ssh", "ssh://git@2130706433/r", message="loopback"),
    Case("rewrite-dotdot", "get", "https://zenodo.org/api/../../canary/x", message="path segments"),
    Case("rewrite-dotdot-encoded", "get", "https://zenodo.org/api/%2e%2e/%2E%2E/x", message="path segments"),
    Case("git-commit-option", "git_clone", "--upload-pack=touch {marker}", message="full 40/64-hex"),
    Case("git-commit-branch", "git_clone", "main", message="full 40/64-hex"),
    Case("git-commit-short", "git_clone", "0123456", message="full 40/64-hex"),
    Case("git-commit-head", "git_clone", "HEAD", message="full 40/64-hex"),
    Case("ref-option", "check_ref", "--upload-pack=touch {marker}", message="not a valid git ref"),
    Case("ref-dash", "check_ref", "-x", message="not a valid git ref"),
    Case("ref-dotdot", "check_ref", "a..b", message="not a valid git ref"),
    Case("ref-space", "check_ref", "a b", message="not a valid git ref"),
    Case("ref-colon", "check_ref", "refs/heads/x:refs/heads/y", message="not a valid git ref"),
    Case("ref-newline", "check_ref", "main\n--upload-pack=x", message="not a valid git ref"),
]

NETNS: list[Case] = [
    *_get(
        ("private-10", "http://10.0.0.1/", "private network"),
        ("private-172", "http://172.16.5.4/", "private network"),
        ("private-192", "http://192.168.1.1/", "private network"),
        ("cgnat", "http://100.64.0.1/", "not a public address"),
        ("metadata", "http://169.254.169.254/latest/meta-data/", "link-local"),
        ("metadata-decimal", "http://2852039166/", "link-local"),
        ("metadata-hex", "http://0xa9fea9fe/", "link-local"),
        ("metadata-octal", "http://0251.0376.0251.0376/", "link-local"),
        ("metadata-mixed", "http://169.254.43518/", "link-local"),
        ("metadata-mapped", "http://[::ffff:169.254.169.254]/", "embeds 169.254.169.254"),
        ("metadata-mapped-hex", "http://[::ffff:a9fe:a9fe]/", "embeds 169.254.169.254"),
        ("metadata-nat64", "http://[64:ff9b::a9fe:a9fe]/", "embeds 169.254.169.254"),
        ("metadata-6to4", "http://[2002:a9fe:a9fe::1]/", "embeds 169.254.169.254"),
        ("metadata-v4compat", "http://[::a9fe:a9fe]/", "embeds 169.254.169.254"),
        ("metadata-gce-name", "http://metadata.google.internal/computeMetadata/v1/", "internal zone"),
        ("metadata-aws-v6", "http://[fd00:ec2::254]/latest/", "private network"),
        ("ula", "http://[fd12:3456::1]/", "private network"),
        ("link-local-v6", "http://[fe80::1]/", "link-local"),
        ("multicast-v4", "http://224.0.0.251/", "multicast"),
        ("multicast-v6", "http://[ff02::1]/", "multicast"),
        ("broadcast", "http://255.255.255.255/", "reserved"),
        ("reserved-240", "http://240.0.0.1/", "reserved"),
        ("this-network", "http://0.1.2.3/", "private network"),
        ("test-net", "http://192.0.2.10/", "private network"),
        ("benchmark-net", "http://198.18.0.1/", "private network"),
        ("private-mapped", "http://[::ffff:10.0.0.1]/", "embeds 10.0.0.1"),
        ("mdns-local", "http://printer.local/", "internal zone"),
    ),
    Case("https-private", "get", "https://10.0.0.1/api", message="private network"),
    # host NAMES resolving to internal addresses (the namespace's /etc/hosts)
    Case("name-private", "get", "https://private.nfdi.test/", message="resolves to 10.1.2.3 (private network)"),
    Case("name-metadata", "get", "https://metadata.nfdi.test/latest/", message="resolves to 169.254.169.254"),
    Case("name-mixed-answers", "get", "https://mixed.nfdi.test/", message="resolves to 10.0.0.7"),
    Case("name-ula", "get", "https://ula.nfdi.test/", message="resolves to fd00::7"),
    Case("name-loopback", "get", "https://loopback.nfdi.test/", message="resolves to 127.0.0.1 (loopback)"),
    Case("name-mapped", "get", "https://mapped.nfdi.test/", message="embeds 169.254.169.254"),
    Case("redir-name-metadata", "redirect", "https://metadata.nfdi.test/", message="resolves to 169.254.169.254"),
    Case("redir-name-mixed", "redirect", "https://mixed.nfdi.test/", message="resolves to 10.0.0.7"),
    Case("git-name-private", "git_ls", "https://private.nfdi.test/r.git", message="resolves to 10.1.2.3"),
    Case("git-name-mixed", "git_ls", "https://mixed.nfdi.test/r.git", message="resolves to 10.0.0.7"),
    # a public name passes the policy; the namespace then has no route (nothing leaves)
    Case("name-public-passes-policy", "get", "https://public.nfdi.test/", exc="UpstreamError", message="did not answer"),
    Case("redir-metadata", "redirect", "https://169.254.169.254/latest/meta-data/", message="link-local"),
    Case("redir-private", "redirect", "https://10.0.0.1/", message="private network"),
    Case("redir-ula", "redirect", "https://[fd00::1]/", message="private network"),
    Case("redir-metadata-decimal", "redirect", "https://2852039166/", message="link-local"),
    Case("redir-http-metadata", "redirect_http", "http://169.254.169.254/", message="link-local"),
    Case("git-private", "git_ls", "https://10.0.0.1/r.git", message="private network"),
    Case("git-metadata", "git_ls", "https://169.254.169.254/r.git", message="link-local"),
    Case("git-ssh-private", "git_ls_ssh", "ssh://git@10.0.0.1/r.git", message="private network"),
    Case("git-scp-private", "git_ls_ssh", "git@192.168.0.1:r.git", message="private network"),
]


def _fill(text: str, canary: Canary, marker: Path) -> str:
    return text.replace("{canary}", canary.url).replace("{cport}", str(canary.port)) \
        .replace("{marker}", str(marker))


def run_case(case: Case, replay: ReplayServer, canary: Canary, workdir: Path) -> tuple[str, str]:
    """Run one case; returns (exception class name or "none", message)."""
    marker = workdir / "pwned"
    arg = _fill(case.arg, canary, marker)
    base = {"url_rewrites": replay.rewrites(), "retries": 0, "git_timeout": 30.0, "timeout": 5.0}
    try:
        if case.op in ("get", "get_http"):
            HttpClient(NetConfig(allow_http=case.op == "get_http", **base)).get(arg)
        elif case.op == "redirect":
            start = f"https://zenodo.org/api/records/redir-{case.id}"
            replay.add(start, status=302, headers={"Location": arg})
            HttpClient(NetConfig(**base)).get(start)
        elif case.op == "redirect_http":  # http -> http: no downgrade, the address is refused
            start = f"http://legacy.example/redir-{case.id}"
            replay.add(start, status=302, headers={"Location": arg})
            rewrites = {**replay.rewrites(), "http://legacy.example/": f"{replay.url}/legacy.example/"}
            HttpClient(NetConfig(allow_http=True, **{**base, "url_rewrites": rewrites})).get(start)
        elif case.op in ("git_ls", "git_ls_ssh"):
            Git(NetConfig(git_allow_ssh=case.op == "git_ls_ssh", **base)).ls_remote(arg)
        elif case.op == "git_clone":
            Git(NetConfig(**base)).clone_at("https://github.com/o/r.git", arg, workdir / "clone")
        elif case.op == "check_ref":
            check_ref(arg)
        else:
            raise AssertionError(case.op)
    except ResolveError as err:
        return type(err).__name__, str(err)
    return "none", ""


def run_batch(ids: list[str]) -> None:
    """Entry point inside the network namespace: print {id: [exc, msg, canary hits]}."""
    by_id = {c.id: c for c in NETNS + LOCAL}
    replay, results = ReplayServer(), {}
    try:
        for cid in ids:
            canary = Canary()
            with tempfile.TemporaryDirectory() as tmp:
                exc, msg = run_case(by_id[cid], replay, canary, Path(tmp))
                results[cid] = [exc, msg, len(canary.requests), (Path(tmp) / "pwned").exists()]
            canary.close()
    finally:
        replay.close()
    sys.stdout.write(json.dumps(results) + "\n")
