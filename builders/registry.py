"""Where images live: an OCI distribution registry, or the local engine's store.

:class:`RegistryStore` speaks the OCI distribution API with ``requests``: manifest
``HEAD``/``GET`` with the OCI and Docker media types in ``Accept`` (without them a
2.x registry converts to schema1 or hides OCI manifests), HTTP basic auth and bearer
tokens obtained from the ``WWW-Authenticate`` challenge, credentials from config or
a Docker ``config.json``. :class:`LocalEngineStore` asks the Docker engine instead
(the one-machine setup without a registry). Both are blocking; the manager calls
them in a thread.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(MANIFEST_TYPES)
INDEX_TYPES = MANIFEST_TYPES[0], MANIFEST_TYPES[2]


class RegistryError(Exception):
    """The registry failed or refused; ``str()`` is a one-line message for the log."""

    reason = "registry_unavailable"


class EngineError(RegistryError):
    """The local engine's image store (no registry configured) cannot be asked."""

    reason = "engine_unavailable"


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes = b""


def split_reference(ref: str) -> tuple[str, str, str]:
    """``host/repo:tag`` -> (host, repo, tag). Host is "" when the first part is not one."""
    name, _, digest = ref.partition("@")
    head, sep, rest = name.partition("/")
    host = head if sep and ("." in head or ":" in head or head == "localhost") else ""
    repo_tag = rest if host else name
    repo, _, tag = repo_tag.rpartition(":") if ":" in repo_tag else (repo_tag, "", "latest")
    return host, repo, digest or tag


class ImageStore(ABC):
    """Answers "does this image exist?" and copies images under another name."""

    #: registry host ("127.0.0.1:5000"), or "" for the local engine
    host: str = ""

    @abstractmethod
    def lookup(self, ref: str) -> str | None:
        """Digest of image ``ref`` (``sha256:...``) or None when it does not exist."""

    @abstractmethod
    def copy(self, src: str, dst: str) -> str:
        """Make ``dst`` name the same image as ``src`` (no rebuild); returns its digest."""

    def pinned(self, ref: str, digest: str) -> str:
        """The reference users get: ``ref@digest`` for registries."""
        return f"{ref}@{digest}"

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`RegistryError` if the store cannot be reached (blocking)."""


def _docker_config_auth(path: Path, host: str) -> tuple[str, str] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    for key, entry in (data.get("auths") or {}).items():
        if key.split("://", 1)[-1].rstrip("/") == host and isinstance(entry, dict):
            if entry.get("auth"):
                user, _, pw = base64.b64decode(entry["auth"]).decode().partition(":")
                return user, pw
            if entry.get("username"):
                return str(entry["username"]), str(entry.get("password", ""))
    return None


class RegistryStore(ImageStore):
    """OCI distribution API client for one registry."""

    def __init__(
        self,
        url: str,
        username: str = "",
        password: str = "",
        docker_config: Path | None = None,
        timeout: float = 15.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(url if "://" in url else f"https://{url}")
        self.base = f"{parsed.scheme}://{parsed.netloc}"
        self.host = parsed.netloc
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # a registry on loopback must not go via a proxy
        creds: tuple[str, str] | None = (username, password) if username else None
        if creds is None and docker_config is not None:
            creds = _docker_config_auth(docker_config, self.host)
        self.credentials = creds
        self._tokens: dict[str, str] = {}

    # -- auth -------------------------------------------------------------------
    def _token(self, challenge: str, scope: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.pop("realm", "")
        if not realm:
            raise RegistryError(f"registry {self.host}: bearer challenge without realm")
        # the challenge names every scope the request needs (a blob mount needs two)
        scopes = (params.pop("scope", "") or scope).split()
        query: list[tuple[str, str]] = [*params.items(), *(("scope", s) for s in scopes)]
        resp = self.session.get(realm, params=query, auth=self.credentials, timeout=self.timeout)
        if resp.status_code != 200:
            raise RegistryError(f"registry {self.host}: token request failed ({resp.status_code})")
        body = resp.json()
        return str(body.get("token") or body.get("access_token") or "")

    def _request(self, method: str, repo: str, path: str, push: bool = False, **kw: Any) -> requests.Response:
        scope = f"repository:{repo}:{'pull,push' if push else 'pull'}"
        url = f"{self.base}/v2/{repo}/{path}" if repo else f"{self.base}/v2/{path}"
        headers = dict(kw.pop("headers", {}))
        try:
            for _attempt in range(2):
                auth = None
                if scope in self._tokens:
                    headers["Authorization"] = f"Bearer {self._tokens[scope]}"
                elif self.credentials:
                    auth = self.credentials
                resp = self.session.request(
                    method, url, headers=headers, auth=auth, timeout=self.timeout, **kw
                )
                challenge = resp.headers.get("WWW-Authenticate", "")
                if resp.status_code != 401 or not challenge.lower().startswith("bearer"):
                    break
                self._tokens[scope] = self._token(challenge[len("bearer") :].strip(), scope)
        except requests.RequestException as err:
            raise RegistryError(f"registry {self.host} unreachable: {type(err).__name__}") from err
        if resp.status_code == 401:
            raise RegistryError(f"registry {self.host}: authentication failed for {repo}")
        if resp.status_code >= 500:
            raise RegistryError(f"registry {self.host}: server error {resp.status_code}")
        return resp

    def ping(self) -> None:
        try:
            resp = self.session.get(f"{self.base}/v2/", timeout=self.timeout)
        except requests.RequestException as err:
            raise RegistryError(f"registry {self.host} unreachable: {type(err).__name__}") from err
        if resp.status_code >= 500:
            raise RegistryError(f"registry {self.host}: server error {resp.status_code}")

    # -- manifests --------------------------------------------------------------
    def manifest(self, repo: str, reference: str, with_body: bool = False) -> Manifest | None:
        """HEAD (or GET) ``/v2/<repo>/manifests/<reference>``; None when absent."""
        method = "GET" if with_body else "HEAD"
        resp = self._request(method, repo, f"manifests/{reference}", headers={"Accept": ACCEPT})
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise RegistryError(f"registry {self.host}: manifest {repo}:{reference} -> {resp.status_code}")
        digest = resp.headers.get("Docker-Content-Digest", "")
        media = resp.headers.get("Content-Type", "").split(";")[0]
        return Manifest(digest=digest, media_type=media, body=resp.content if with_body else b"")

    def lookup(self, ref: str) -> str | None:
        _host, repo, tag = split_reference(ref)
        found = self.manifest(repo, tag)
        return found.digest if found else None

    def copy(self, src: str, dst: str) -> str:
        _h, src_repo, src_tag = split_reference(src)
        _h, dst_repo, dst_tag = split_reference(dst)
        return self._copy_manifest(src_repo, src_tag, dst_repo, dst_tag)

    def _copy_manifest(self, src_repo: str, ref: str, dst_repo: str, dst_ref: str) -> str:
        found = self.manifest(src_repo, ref, with_body=True)
        if found is None:
            raise RegistryError(f"registry {self.host}: {src_repo}:{ref} disappeared")
        doc = json.loads(found.body)
        if found.media_type in INDEX_TYPES:
            for child in doc.get("manifests", []):
                self._copy_manifest(src_repo, child["digest"], dst_repo, child["digest"])
        else:
            blobs = [doc["config"], *doc.get("layers", [])]
            for blob in blobs:
                self._mount(blob["digest"], src_repo, dst_repo)
        resp = self._request(
            "PUT", dst_repo, f"manifests/{dst_ref}", push=True,
            data=found.body, headers={"Content-Type": found.media_type},
        )
        if resp.status_code not in (200, 201):
            raise RegistryError(f"registry {self.host}: cannot tag {dst_repo}:{dst_ref} ({resp.status_code})")
        return resp.headers.get("Docker-Content-Digest", found.digest)

    def _mount(self, digest: str, src_repo: str, dst_repo: str) -> None:
        query = urllib.parse.urlencode({"mount": digest, "from": src_repo})
        resp = self._request("POST", dst_repo, f"blobs/uploads/?{query}", push=True)
        if resp.status_code == 201:
            return
        # 202 = the registry started a normal upload instead: cancel it, report clearly
        if resp.status_code == 202 and resp.headers.get("Location"):
            self.session.delete(urllib.parse.urljoin(self.base, resp.headers["Location"]), timeout=self.timeout)
        raise RegistryError(f"registry {self.host}: cannot mount blob {digest[:19]} into {dst_repo}")


class LocalEngineStore(ImageStore):
    """The local Docker engine's image store (no registry configured)."""

    host = ""

    def __init__(self, docker_host: str = "") -> None:
        self.docker_host = docker_host

    def _client(self) -> Any:
        import docker

        try:  # creating a client already asks the engine for its API version
            return docker.DockerClient(base_url=self.docker_host) if self.docker_host \
                else docker.from_env()
        except docker.errors.DockerException as err:
            raise EngineError(f"docker engine: {err}") from err

    def ping(self) -> None:
        import docker.errors

        client = self._client()
        try:
            client.ping()
        except docker.errors.DockerException as err:
            raise EngineError(f"docker engine: {err}") from err
        finally:
            client.close()

    def lookup(self, ref: str) -> str | None:
        import docker.errors

        client = self._client()
        try:
            return str(client.images.get(ref).id)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.DockerException as err:
            raise EngineError(f"docker engine: {err}") from err
        finally:
            client.close()

    def copy(self, src: str, dst: str) -> str:
        import docker.errors

        client = self._client()
        try:
            image = client.images.get(src)
            repo, _, tag = dst.rpartition(":")
            image.tag(repo, tag)
            return str(image.id)
        except docker.errors.DockerException as err:
            raise EngineError(f"docker engine: {err}") from err
        finally:
            client.close()

    def pinned(self, ref: str, digest: str) -> str:
        # a local image id is not a manifest digest: ``name@<id>`` would not resolve
        return ref
