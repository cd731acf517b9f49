"""A real OCI registry (Debian's ``docker-registry``) on loopback, for tests and benchmarks.

Own config (never the package's /etc/docker/registry/config.yml), storage in a temp
dir, deletes enabled, 127.0.0.1:<free port>. Docker trusts 127.0.0.0/8 as an
insecure registry, so ``docker push 127.0.0.1:PORT/...`` works over plain http.

API::

    reg = start_registry(workdir)                 # or start_registry(workdir, auth=("user", "pw"))
    reg.url      # "http://127.0.0.1:PORT"
    reg.host     # "127.0.0.1:PORT"
    reg.stop(); reg.start()                       # same port and storage (fault tests)
    tls = start_tls_endpoint(reg, workdir2)       # https on another port, same storage

Fixtures: ``registry`` (session), ``auth_registry`` (session, htpasswd basic auth;
``.username``/``.password``), ``tls_registry`` (session: the TLS endpoint of ``registry``,
with the certificate of the CA that scripts/setup.sh made; Charliecloud pulls only over
https).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.harness.hub import free_port, wait_for

CONFIG = """\
version: 0.1
log: {{level: warn, fields: {{service: registry}}}}
storage:
  cache: {{blobdescriptor: inmemory}}
  filesystem: {{rootdirectory: {root}}}
  delete: {{enabled: true}}
http:
  addr: 127.0.0.1:{port}
  headers: {{X-Content-Type-Options: [nosniff]}}
{tls}{auth}"""
#: the local CA and the registry certificate (127.0.0.1, localhost) from scripts/setup.sh
TLS_DIR = Path(os.environ.get("NFDI_LAUNCHER_STATE", "/var/lib/nfdi-launcher")) / "tls"


@dataclass
class Registry:
    workdir: Path
    port: int
    username: str = ""
    password: str = ""
    ca: str = ""  # set for a TLS endpoint: the CA its certificate is signed by
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.ca else 'http'}://{self.host}"

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        log = (self.workdir / "registry.log").open("ab")
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", str(self.workdir / "config.yml")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
        log.close()

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {(self.workdir / 'registry.log').read_text()[-2000:]}")
            with self.session() as s:  # trust_env=False: no proxy from the environment
                r = s.get(f"{self.url}/v2/", timeout=2)
            return r.status_code in (200, 401)

        wait_for(ready, 20, f"registry on {self.host}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    def session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        if self.ca:
            s.verify = self.ca
        if self.username:
            s.auth = (self.username, self.password)
        return s


def start_registry(workdir: Path, auth: tuple[str, str] | None = None) -> Registry:
    """Configure and start a registry in ``workdir`` on a free loopback port."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth_yaml = ""
    reg = Registry(workdir=workdir, port=port)
    if auth is not None:
        import bcrypt

        user, pw = auth
        hashed = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(10)).decode()
        (workdir / "htpasswd").write_text(f"{user}:{hashed}\n")
        auth_yaml = f"auth:\n  htpasswd: {{realm: nfdi-test, path: {workdir / 'htpasswd'}}}\n"
        reg.username, reg.password = user, pw
    (workdir / "config.yml").write_text(
        CONFIG.format(root=workdir / "data", port=port, auth=auth_yaml, tls="")
    )
    reg.start()
    return reg


def start_tls_endpoint(base: Registry, workdir: Path) -> Registry:
    """A second ``docker-registry serve`` on *base*'s storage, speaking https only."""
    cert, key, ca = TLS_DIR / "registry.crt", TLS_DIR / "registry.key", TLS_DIR / "ca.crt"
    if not (cert.exists() and key.exists() and ca.exists()):
        pytest.fail(f"no registry certificate in {TLS_DIR}: run scripts/setup.sh")
    workdir.mkdir(parents=True, exist_ok=True)
    reg = Registry(workdir=workdir, port=free_port(), ca=str(ca))
    tls = f"  tls: {{certificate: {cert}, key: {key}}}\n"
    (workdir / "config.yml").write_text(
        CONFIG.format(root=base.workdir / "data", port=reg.port, auth="", tls=tls))
    reg.start()
    return reg


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """One plain-http registry for the whole session."""
    workdir = Path(tempfile.mkdtemp(prefix="nfdi-test-registry-"))
    reg = start_registry(workdir)
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def tls_registry(registry: Registry) -> Iterator[Registry]:
    """The session registry's content over https (the CA is ``tls_registry.ca``)."""
    workdir = Path(tempfile.mkdtemp(prefix="nfdi-test-registry-tls-"))
    reg = start_tls_endpoint(registry, workdir)
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def auth_registry() -> Iterator[Registry]:
    """A registry with htpasswd (bcrypt) basic auth: user ``builder``."""
    workdir = Path(tempfile.mkdtemp(prefix="nfdi-test-registry-auth-"))
    reg = start_registry(workdir, auth=("builder", "s3cret-pw"))
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# -- helpers to put content into a registry ------------------------------------------
def push_tiny_image(reg: Registry, repo: str, tag: str, content: str = "hello") -> str:
    """``docker import`` a one-file image, push it with docker; returns the pushed digest.

    The local image is removed again (names start with ``127.0.0.1:PORT/``).
    """
    import io
    import tarfile

    data = content.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    ref = f"{reg.host}/{repo}:{tag}"
    subprocess.run(["docker", "import", "-", ref], input=buf.getvalue(), check=True, capture_output=True)
    try:
        out = subprocess.run(["docker", "push", ref], check=True, capture_output=True, text=True).stdout
    finally:
        subprocess.run(["docker", "rmi", ref], capture_output=True)
    digest = [w for w in out.split() if w.startswith("sha256:")]
    assert digest, out
    return digest[-1]


def put_oci_manifest(reg: Registry, repo: str, tag: str, headers: dict[str, str] | None = None) -> str:
    """Upload a config + one layer and an OCI image manifest through the API; its digest.

    ``headers``: extra request headers (e.g. a bearer token for a token registry)."""
    import gzip
    import hashlib
    import io
    import json
    import tarfile

    s = reg.session()
    s.headers.update(headers or {})

    def upload(blob: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        r = s.post(f"{reg.url}/v2/{repo}/blobs/uploads/", timeout=10)
        assert r.status_code == 202, r.text
        loc = r.headers["Location"]
        loc = loc if loc.startswith("http") else reg.url + loc
        r = s.put(loc, params={"digest": digest}, data=blob, timeout=10,
                  headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        return digest

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("oci.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"oci"))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": upload(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": upload(layer), "size": len(layer)}],
    }).encode()
    r = s.put(f"{reg.url}/v2/{repo}/manifests/{tag}", data=manifest, timeout=10,
              headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status_code == 201, r.text
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


# -- token auth: a real bearer-token server in front of the registry -------------------
class TokenServer:
    """Docker registry token service (``auth: token`` in the registry config).

    Checks HTTP basic auth and answers ``GET /token?service=&scope=`` with an RS256 JWT
    carrying the ``x5c`` certificate the registry trusts (``rootcertbundle``).
    ``issued`` counts tokens handed out.
    """

    service = "nfdi-test-registry"
    issuer = "nfdi-test-token-issuer"

    def __init__(self, workdir: Path, username: str, password: str) -> None:
        import datetime
        import threading
        from http.server import ThreadingHTTPServer

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.username, self.password, self.issued = username, password, 0
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.cert_path = workdir / "token-cert.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, scope: str) -> str:
        import base64
        import json
        import time
        import uuid

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        access = []
        for part in scope.split():
            kind, _, rest = part.partition(":")
            repo, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": repo, "actions": actions.split(",")})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": self.issuer, "sub": self.username, "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        self.issued += 1
        return f"{signing_input}.{b64(sig)}"

    def _handler(self) -> type:
        import base64
        import json
        from http.server import BaseHTTPRequestHandler
        from urllib.parse import parse_qs, urlsplit

        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                expected = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
                if self.headers.get("Authorization", "") != f"Basic {expected}":
                    self.send_response(401)
                    self.end_headers()
                    return
                scope = " ".join(parse_qs(urlsplit(self.path).query).get("scope", []))
                body = json.dumps({"token": server.token(scope)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def start_token_registry(workdir: Path, username: str, password: str) -> tuple[Registry, TokenServer]:
    """A registry that requires bearer tokens from a :class:`TokenServer`."""
    workdir.mkdir(parents=True, exist_ok=True)
    tokens = TokenServer(workdir, username, password)
    port = free_port()
    auth_yaml = (f"auth:\n  token: {{realm: \"{tokens.url}\", service: {tokens.service}, "
                 f"issuer: {tokens.issuer}, rootcertbundle: {tokens.cert_path}}}\n")
    (workdir / "config.yml").write_text(CONFIG.format(root=workdir / "data", port=port,
                                                      auth=auth_yaml, tls=""))
    reg = Registry(workdir=workdir, port=port)
    reg.start()
    return reg, tokens


@pytest.fixture(scope="session")
def token_registry() -> Iterator[tuple[Registry, TokenServer]]:
    """A registry with bearer-token auth (``docker login`` style user ``builder``)."""
    workdir = Path(tempfile.mkdtemp(prefix="nfdi-test-registry-token-"))
    reg, tokens = start_token_registry(workdir, "builder", "t0ken-pw")
    try:
        yield reg, tokens
    finally:
        reg.stop()
        tokens.close()
        shutil.rmtree(workdir, ignore_errors=True)
