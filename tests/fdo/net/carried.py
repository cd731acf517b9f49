"""Bad-input corpus, carried URLs (issue 17): records whose links point where the launcher
must never go. Every case must end in ``RefusedTarget`` (CLI: exit 2 and one ``error:``
line naming the record and the refused host), with no request to the refused place.

Records are CONSTRUCTED from the recordings in ``tests/fixtures/api``: each builder loads a
recording and changes only ids and the URLs under test, so the shape is the real one.

============  ==========================================  =================================
provider      recording the record is built from          what the case controls
============  ==========================================  =================================
zenodo        zenodo-record-7834392.json (InvenioRDM)     ``files[].links.self``
zenodo-legacy zenodo-record-7752775-legacy-github-...     ``files[].links.self``
figshare      none exists: Figshare's PublicFile shape     ``files[].download_url``, and
              (docs in shared reference §3.2), CONSTRUCTED ``url_public_html`` (the source)
ckan          ckan-depositar-activity_data_show-...json   ``resources[].url``
dataverse     dataverse-dataset-10.7910-DVN-TJCLKP.json   the host (file URLs are built as
                                                          ``https://<host>/api/access/...``)
hydroshare    hydroshare-scimeta-142c5975...json          what ``www.hydroshare.org``
                                                          resolves to (the bag URL is fixed)
rocrate       ro-crate-metadata-galaxy-sortchangecase     the ``.crate.zip`` URL, and the
                                                          ``codeRepository`` candidates
============  ==========================================  =================================

Dataverse and HydroShare records carry no URLs (the resolver builds them), so only the
address classes apply to them, through the host: Dataverse's metadata API is mirrored by
an operator rewrite of ``/api/datasets/`` only, so the download host is checked on its own;
HydroShare runs in the network namespace with ``www.hydroshare.org`` mapped to each class.
RO-Crate links must be http(s) by syntax, so of the schemes only ``http`` applies.

:data:`LOCAL` cases point at the loopback canary and run in the test process; :data:`NETNS`
cases name private, link-local or metadata addresses (or names resolving to them) and run
in the loopback-only namespace (:func:`run_batch`).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from traitlets.config import Config

from fdo.errors import ResolveError
from fdo.identifiers import web_url
from fdo.resolve import Resolution
from tests.harness.canary import Canary
from tests.harness.replay import FIXTURES, ReplayServer

CLI = str(Path(sys.executable).with_name("nfdi-launcher"))
#: the CLI flags every run uses: no ls-remote of a Zenodo record's GitHub tag
FLAGS = ["--ZenodoResolver.check_github_tag=False"]
HYDRO_ID = "142c59757ed54de1816777828c9716e7"
GOOD = 5  # good files beside the bad one in the mixed cases


@dataclass(frozen=True)
class Carried:
    id: str
    provider: str
    bad: str  # the refused URL (``{cport}``: the canary's port), or for dataverse/hydroshare an address or host
    host: str  # the host the error line must name
    reason: str  # fragment of the policy's reason
    mixed: bool = False
    cli: bool = False  # also run through ``nfdi-launcher resolve`` as a subprocess


def _json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# -- the refused URLs --------------------------------------------------------------------

#: every scheme the download policy refuses by default (https only), pointing at the canary
SCHEMES: list[tuple[str, str, str]] = [
    ("http", "http://127.0.0.1:{cport}/f.csv", "127.0.0.1"),
    ("ftp", "ftp://127.0.0.1:{cport}/f.csv", "127.0.0.1"),
    ("ftps", "ftps://127.0.0.1:{cport}/f.csv", "127.0.0.1"),
    ("sftp", "sftp://127.0.0.1:{cport}/f.csv", "127.0.0.1"),
    ("file", "file:///etc/passwd", "file:"),
    ("file-host", "file://localhost/etc/passwd", "localhost"),
    ("data", "data:text/plain;base64,aGVsbG8=", "data:"),
    ("gopher", "gopher://127.0.0.1:{cport}/_GET%20/", "127.0.0.1"),
    ("dict", "dict://127.0.0.1:{cport}/info", "127.0.0.1"),
    ("ldap", "ldap://127.0.0.1:{cport}/o", "127.0.0.1"),
    ("ssh", "ssh://git@127.0.0.1:{cport}/r", "127.0.0.1"),
    ("git", "git://127.0.0.1:{cport}/r", "127.0.0.1"),
    ("smb", "smb://127.0.0.1:{cport}/share/f", "127.0.0.1"),
    ("javascript", "javascript:alert(1)", "javascript:"),
    ("jar", "jar:https://127.0.0.1:{cport}/a.jar!/f", "jar:"),
]

#: loopback in every spelling (literals, checked without DNS) -- the canary listens there
LOOPBACK: list[tuple[str, str, str, str]] = [
    ("loopback", "https://127.0.0.1:{cport}/f.csv", "127.0.0.1", "loopback"),
    ("loopback-other", "https://127.9.9.9:{cport}/f.csv", "127.9.9.9", "loopback"),
    ("loopback-decimal", "https://2130706433:{cport}/f.csv", "2130706433", "loopback"),
    ("loopback-hex", "https://0x7f000001:{cport}/f.csv", "0x7f000001", "loopback"),
    ("loopback-hex-dotted", "https://0x7f.1:{cport}/f.csv", "0x7f.1", "loopback"),
    ("loopback-octal", "https://0177.0.0.1:{cport}/f.csv", "0177.0.0.1", "loopback"),
    ("loopback-short", "https://127.1:{cport}/f.csv", "127.1", "loopback"),
    ("loopback-v6", "https://[::1]:{cport}/f.csv", "::1", "loopback"),
    ("loopback-v6-long", "https://[0:0:0:0:0:0:0:1]:{cport}/f.csv", "0:0:0:0:0:0:0:1", "loopback"),
    ("loopback-mapped", "https://[::ffff:127.0.0.1]:{cport}/f.csv", "::ffff:127.0.0.1", "embeds 127.0.0.1"),
    ("loopback-mapped-hex", "https://[::ffff:7f00:1]:{cport}/f.csv", "::ffff:7f00:1", "embeds 127.0.0.1"),
    ("localhost", "https://localhost:{cport}/f.csv", "localhost", "names this machine"),
    ("localhost-sub", "https://files.localhost:{cport}/f.csv", "files.localhost", "names this machine"),
    ("unspecified", "https://0.0.0.0:{cport}/f.csv", "0.0.0.0", "unspecified"),
    ("unspecified-v6", "https://[::]:{cport}/f.csv", "::", "unspecified"),
]

#: private, link-local/metadata, multicast, reserved (literals) and names resolving to them
INTERNAL: list[tuple[str, str, str, str]] = [
    ("private-10", "https://10.0.0.1/f.csv", "10.0.0.1", "private network"),
    ("private-172", "https://172.16.5.4/f.csv", "172.16.5.4", "private network"),
    ("private-192", "https://192.168.1.1/f.csv", "192.168.1.1", "private network"),
    ("cgnat", "https://100.64.0.1/f.csv", "100.64.0.1", "not a public address"),
    ("test-net", "https://192.0.2.10/f.csv", "192.0.2.10", "private network"),
    ("metadata", "https://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
    ("metadata-decimal", "https://2852039166/f.csv", "2852039166", "link-local"),
    ("metadata-hex", "https://0xa9fea9fe/f.csv", "0xa9fea9fe", "link-local"),
    ("metadata-octal", "https://0251.0376.0251.0376/f.csv", "0251.0376.0251.0376", "link-local"),
    ("metadata-mapped", "https://[::ffff:169.254.169.254]/f.csv", "::ffff:169.254.169.254", "embeds 169.254.169.254"),
    ("metadata-mapped-hex", "https://[::ffff:a9fe:a9fe]/f.csv", "::ffff:a9fe:a9fe", "embeds 169.254.169.254"),
    ("metadata-nat64", "https://[64:ff9b::a9fe:a9fe]/f.csv", "64:ff9b::a9fe:a9fe", "embeds 169.254.169.254"),
    ("metadata-6to4", "https://[2002:a9fe:a9fe::1]/f.csv", "2002:a9fe:a9fe::1", "embeds 169.254.169.254"),
    ("metadata-aws-v6", "https://[fd00:ec2::254]/latest/", "fd00:ec2::254", "private network"),
    ("metadata-gce-name", "https://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal", "internal zone"),
    ("ula", "https://[fd12:3456::1]/f.csv", "fd12:3456::1", "private network"),
    ("link-local-v6", "https://[fe80::1]/f.csv", "fe80::1", "link-local"),
    ("multicast", "https://224.0.0.251/f.csv", "224.0.0.251", "multicast"),
    ("multicast-v6", "https://[ff02::1]/f.csv", "ff02::1", "multicast"),
    ("reserved", "https://240.0.0.1/f.csv", "240.0.0.1", "reserved"),
    ("broadcast", "https://255.255.255.255/f.csv", "255.255.255.255", "reserved"),
    # names: the namespace's /etc/hosts (tests/harness/netns.py) answers them
    ("name-loopback", "https://loopback.nfdi.test/f.csv", "loopback.nfdi.test", "resolves to 127.0.0.1 (loopback)"),
    ("name-private", "https://private.nfdi.test/f.csv", "private.nfdi.test", "resolves to 10.1.2.3"),
    ("name-metadata", "https://metadata.nfdi.test/f.csv", "metadata.nfdi.test", "resolves to 169.254.169.254"),
    ("name-mixed", "https://mixed.nfdi.test/f.csv", "mixed.nfdi.test", "resolves to 10.0.0.7"),
    ("name-ula", "https://ula.nfdi.test/f.csv", "ula.nfdi.test", "resolves to fd00::7"),
    ("name-mapped", "https://mapped.nfdi.test/f.csv", "mapped.nfdi.test", "embeds 169.254.169.254"),
]

#: what ``www.hydroshare.org`` resolves to in the HydroShare cases (netns /etc/hosts)
HYDRO_ADDRESSES: list[tuple[str, list[str], str]] = [
    ("loopback", ["127.0.0.1"], "resolves to 127.0.0.1 (loopback)"),
    ("loopback-v6", ["::1"], "resolves to ::1 (loopback)"),
    ("private", ["10.1.2.3"], "resolves to 10.1.2.3 (private network)"),
    ("metadata", ["169.254.169.254"], "resolves to 169.254.169.254 (link-local"),
    ("ula", ["fd00::7"], "resolves to fd00::7 (private network)"),
    ("mapped", ["::ffff:169.254.169.254"], "embeds 169.254.169.254"),
    ("mixed", ["93.184.216.34", "10.0.0.7"], "resolves to 10.0.0.7"),
]

URL_PROVIDERS = ("zenodo", "zenodo-legacy", "figshare", "ckan")
#: a representative set that also runs through the console script
CLI_IDS = {f"{p}-{c}" for p in (*URL_PROVIDERS, "rocrate")
           for c in ("ftp", "http", "loopback", "loopback-hex", "metadata", "private-10", "name-loopback")} \
    | {"dataverse-metadata", "dataverse-name-private", "dataverse-loopback", "hydroshare-metadata",
       "hydroshare-loopback", "zenodo-mixed-metadata", "ckan-mixed-loopback"}


def _parses(url: str) -> bool:
    """RO-Crate and Dataverse URLs are identifiers: hosts the parser refuses never get here."""
    try:
        web_url(url.replace("{cport}", "1"))
    except ResolveError:
        return False
    return True


def _cases() -> tuple[list[Carried], list[Carried]]:
    local: list[Carried] = []
    netns: list[Carried] = []
    for provider in URL_PROVIDERS:
        local += [Carried(f"{provider}-{i}", provider, url, host, f"scheme '{i.split('-')[0]}'")
                  for i, url, host in SCHEMES]
        local += [Carried(f"{provider}-{i}", provider, u, h, r) for i, u, h, r in LOOPBACK]
        netns += [Carried(f"{provider}-{i}", provider, u, h, r) for i, u, h, r in INTERNAL]
        local.append(Carried(f"{provider}-mixed-loopback", provider, LOOPBACK[0][1], "127.0.0.1", "loopback", True))
        netns.append(Carried(f"{provider}-mixed-metadata", provider, INTERNAL[5][1], "169.254.169.254", "link-local", True))
    zips = [(i, f"https://{urlsplit(u).netloc}/c.crate.zip", h, r) for i, u, h, r in LOOPBACK + INTERNAL]
    local.append(Carried("rocrate-http", "rocrate", "http://127.0.0.1:{cport}/c.crate.zip", "127.0.0.1", "scheme 'http'"))
    local += [Carried(f"rocrate-{i}", "rocrate", u, h, r) for i, u, h, r in zips[: len(LOOPBACK)] if _parses(u)]
    netns += [Carried(f"rocrate-{i}", "rocrate", u, h, r) for i, u, h, r in zips[len(LOOPBACK):] if _parses(u)]
    local.append(Carried("rocrate-choices-loopback", "rocrate-choices", "https://127.0.0.1:{cport}/o/r.git",
                         "127.0.0.1", "loopback"))
    netns.append(Carried("rocrate-choices-private", "rocrate-choices", "https://10.0.0.1/o/r.git",
                         "10.0.0.1", "private network"))
    local += [Carried(f"dataverse-{i}", "dataverse", u, h, r) for i, u, h, r in LOOPBACK
              if _parses(u) and ":" not in h]
    netns += [Carried(f"dataverse-{i}", "dataverse", u, h, r) for i, u, h, r in INTERNAL
              if _parses(u) and ":" not in h]
    netns += [Carried(f"hydroshare-{i}", "hydroshare", ",".join(a), "www.hydroshare.org", r)
              for i, a, r in HYDRO_ADDRESSES]
    # metadata URLs the target shows (Figshare's url_public_html becomes its source)
    local += [Carried("figshare-page-javascript", "figshare-page", "javascript:alert(1)", "javascript:",
                      "scheme 'javascript'"),
              Carried("figshare-page-loopback", "figshare-page", "https://127.0.0.1:{cport}/x", "127.0.0.1",
                      "loopback")]
    netns.append(Carried("figshare-page-metadata", "figshare-page", "https://169.254.169.254/x",
                         "169.254.169.254", "link-local"))
    for group in (local, netns):
        group[:] = [Carried(c.id, c.provider, c.bad, c.host, c.reason, c.mixed, c.id in CLI_IDS)
                    for c in group]
    return local, netns


LOCAL, NETNS = _cases()
BY_ID = {c.id: c for c in LOCAL + NETNS}


# -- records in the recorded shapes ------------------------------------------------------

class Corpus:
    """A replay server holding the constructed records, plus the operator rewrites that
    send the providers' metadata APIs to it (a rewritten destination is trusted)."""

    def __init__(self, replay: ReplayServer, port: int) -> None:
        self.replay, self.port = replay, port
        self.rewrites = replay.rewrites(REPLAYED)

    def mirror(self, prefix: str) -> None:
        self.rewrites[prefix] = self.replay.url_for(prefix)

    def bad(self, case: Carried) -> str:
        return case.bad.replace("{cport}", str(self.port))

    def file_urls(self, case: Carried, good: str) -> list[str]:
        if not case.mixed:
            return [self.bad(case)]
        urls = [good.format(i=i) for i in range(GOOD)]
        urls.insert(GOOD // 2, self.bad(case))
        return urls


#: the hosts the replay server stands in for (HydroShare and Dataverse: only their APIs)
REPLAYED = ("zenodo.org", "api.figshare.com", "figshare.com", "ndownloader.figshare.com",
            "data.depositar.io", "gitlab.com", "github.com")


def _zenodo(srv: Corpus, case: Carried, n: int) -> str:
    legacy = case.provider == "zenodo-legacy"
    record = copy.deepcopy(_json("zenodo-record-7752775-legacy-github-release.json" if legacy
                                 else "zenodo-record-7834392.json"))
    recid = 9_100_000 + n
    record["id"] = recid
    if "recid" in record:
        record["recid"] = str(recid)
    template = record["files"][0]
    urls = srv.file_urls(case, f"https://zenodo.org/api/records/{recid}/files/good-{{i}}.csv/content")
    record["files"] = [dict(copy.deepcopy(template), key=f"file-{i}.csv", links={"self": url})
                       for i, url in enumerate(urls)]
    srv.replay.add(f"https://zenodo.org/api/records/{recid}", body=record)
    return f"https://zenodo.org/records/{recid}"


def _figshare(srv: Corpus, case: Carried, n: int) -> str:
    article = 9_200_000 + n
    page = f"https://figshare.com/articles/dataset/x/{article}"
    if case.provider == "figshare-page":  # the record's own landing page URL is the bad one
        page, urls = srv.bad(case), [f"https://ndownloader.figshare.com/files/{article}"]
    else:
        urls = srv.file_urls(case, "https://ndownloader.figshare.com/files/{i}")
    srv.replay.add(f"https://api.figshare.com/v2/articles/{article}/versions/1", body={
        "id": article, "title": "constructed", "doi": f"10.6084/m9.figshare.{article}.v1",
        "url_public_html": page,
        "files": [{"id": i, "name": f"file-{i}.csv", "size": 1, "is_link_only": False,
                   "download_url": url, "supplied_md5": "", "computed_md5": "a" * 32,
                   "mimetype": "text/csv"} for i, url in enumerate(urls)]})
    return f"https://figshare.com/articles/dataset/x/{article}/1"


def _ckan(srv: Corpus, case: Carried, n: int) -> str:
    answer = copy.deepcopy(_json("ckan-depositar-activity_data_show-93df7fd0.json"))
    name = f"constructed-{n}"
    template = answer["result"]["resources"][0]
    urls = srv.file_urls(case, f"https://data.depositar.io/dataset/{name}/resource/{{i}}/download/f.csv")
    answer["result"]["name"] = name
    answer["result"]["resources"] = [dict(copy.deepcopy(template), name=f"file-{i}", url=url)
                                     for i, url in enumerate(urls)]
    srv.replay.add(f"https://data.depositar.io/api/3/action/package_show?id={name}", body=answer)
    return f"https://data.depositar.io/dataset/{name}"


def _rocrate(srv: Corpus, case: Carried, n: int) -> str:
    return "rocrate/" + quote(srv.bad(case), safe="")


def _rocrate_choices(srv: Corpus, case: Carried, n: int) -> str:
    crate = copy.deepcopy(_json("ro-crate-metadata-galaxy-sortchangecase.json"))
    root = next(e for e in crate["@graph"] if e.get("@id") == "./")
    root["codeRepository"] = [{"@id": "https://gitlab.com/o/good"}, {"@id": srv.bad(case)}]
    url = f"https://zenodo.org/records/1/files/crate-{n}/ro-crate-metadata.json"
    srv.replay.add(url, body=crate)
    return url


def _dataverse(srv: Corpus, case: Carried, n: int) -> str:
    version = copy.deepcopy(_json("dataverse-dataset-10.7910-DVN-TJCLKP.json")["data"]["latestVersion"])
    api = f"https://{case.host}/api/datasets/"  # the resolver drops the port of the page URL
    srv.replay.add(f"{api}:persistentId/versions/4.0?persistentId=doi:10.7910/DVN/TJCLKP",
                   body={"status": "OK", "data": version})
    srv.mirror(api)
    netloc = urlsplit(srv.bad(case)).netloc
    return f"https://{netloc}/dataset.xhtml?persistentId=doi:10.7910/DVN/TJCLKP&version=4.0"


def _hydroshare(srv: Corpus, case: Carried, n: int) -> str:
    srv.replay.add(f"https://www.hydroshare.org/hsapi/resource/{HYDRO_ID}/scimeta/elements",
                   body=_json(f"hydroshare-scimeta-{HYDRO_ID}.json"))
    srv.mirror("https://www.hydroshare.org/hsapi/")
    return f"hydroshare/{HYDRO_ID}"


BUILDERS = {"zenodo": _zenodo, "zenodo-legacy": _zenodo, "figshare": _figshare,
            "figshare-page": _figshare, "ckan": _ckan,
            "rocrate": _rocrate, "rocrate-choices": _rocrate_choices, "dataverse": _dataverse,
            "hydroshare": _hydroshare}


def resolve_in_process(identifier: str, srv: Corpus) -> tuple[str, str]:
    config = Config()
    config.NetConfig.url_rewrites = dict(srv.rewrites)
    config.NetConfig.retries = 0
    config.ZenodoResolver.check_github_tag = False
    try:
        Resolution(config).resolve(identifier)
    except ResolveError as err:
        return type(err).__name__, str(err)
    return "none", ""


def resolve_cli(identifier: str, srv: Corpus) -> tuple[int, str, str]:
    env = dict(os.environ, NFDI_LAUNCHER_URL_REWRITES=json.dumps(srv.rewrites))
    proc = subprocess.run([CLI, "resolve", *FLAGS, identifier], capture_output=True, text=True,
                          timeout=60, env=env)
    return proc.returncode, proc.stdout, proc.stderr


def install(case: Carried, replay: ReplayServer, port: int) -> tuple[str, dict[str, str]]:
    """Serve the case's record; returns (identifier to resolve, operator rewrites to use)."""
    srv = Corpus(replay, port)
    identifier = BUILDERS[case.provider](srv, case, zlib.crc32(case.id.encode()) % 100_000)
    return identifier, srv.rewrites


def run_case(case: Carried, replay: ReplayServer, canary: Canary) -> dict[str, Any]:
    """Resolve one case in-process (and through the CLI if ``case.cli``)."""
    srv = Corpus(replay, canary.port)
    identifier = BUILDERS[case.provider](srv, case, zlib.crc32(case.id.encode()) % 100_000)
    exc, message = resolve_in_process(identifier, srv)
    out: dict[str, Any] = {"identifier": identifier, "exc": exc, "message": message}
    if case.cli:
        out["exit"], out["stdout"], out["stderr"] = resolve_cli(identifier, srv)
    out["canary"] = len(canary.requests)
    return out


def run_batch(ids: list[str]) -> None:
    """Entry point inside the network namespace: print ``{id: result}`` as one JSON line."""
    hosts = Path("/etc/hosts")
    original = hosts.read_text()
    replay, results = ReplayServer(), {}
    try:
        for cid in ids:
            case, canary = BY_ID[cid], Canary()
            try:
                if case.provider == "hydroshare":  # the bag's host resolves to the case's class
                    hosts.write_text(original + "".join(f"{a} www.hydroshare.org\n" for a in case.bad.split(",")))
                results[cid] = run_case(case, replay, canary)
            finally:
                hosts.write_text(original)
                canary.close()
    finally:
        replay.close()
    sys.stdout.write(json.dumps(results) + "\n")
