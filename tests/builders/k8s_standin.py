"""A stand-in for the pod API calls of the Kubernetes executor; pods run under Docker.

THIS IS NOT A KUBERNETES API SERVER AND NOT A CLUSTER. No API server can run on this
machine and no recording of this conversation (pod create answered 409, log follow) was
found (see docs/kubernetes.md). What it is: an in-memory table of pods behind the same
six methods as :class:`builders.executors.kubernetes.PodApi`, with the API's documented
rule that a second create of an existing name is refused (409), and a tiny "kubelet" that
runs each pod's init container and then its main container for real with ``docker run``,
translating the manifest (command/args, env, emptyDir/hostPath/secret volumes, the
security context) as literally as Docker allows. Not emulated: scheduling, node
selectors, tolerations, resource limits, activeDeadlineSeconds, the API's own validation.
"""

from __future__ import annotations

import copy
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

ENGINE_SOCKET = "/var/run/docker.sock"


class DockerLog:
    """A following log stream (``docker logs -f``) with the response methods PodApi's caller uses."""

    def __init__(self, container: str) -> None:
        self.proc = subprocess.Popen(["docker", "logs", "-f", container], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)

    def stream(self, size: int) -> Any:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(size):
            yield chunk
        self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class DockerPods:
    """Pods by name; each created pod's containers run with Docker (host network)."""

    def __init__(self, secrets: dict[str, dict[str, bytes]], workdir: Path) -> None:
        self.secrets = secrets
        self.workdir = workdir
        self.pods: dict[str, dict[str, Any]] = {}
        self.create_calls: list[tuple[str, bool]] = []
        self.deleted: list[str] = []
        self.lock = threading.Lock()

    # -- the PodApi methods ---------------------------------------------------------------
    def create(self, manifest: dict[str, Any]) -> bool:
        name = manifest["metadata"]["name"]
        with self.lock:
            accepted = name not in self.pods
            self.create_calls.append((name, accepted))
            if not accepted:
                return False
            pod = copy.deepcopy(manifest)
            pod["status"] = {"phase": "Pending"}
            self.pods[name] = pod
        threading.Thread(target=self._kubelet, args=(pod,), daemon=True).start()
        return True

    def read(self, name: str) -> dict[str, Any] | None:
        with self.lock:
            pod = self.pods.get(name)
            return copy.deepcopy(pod) if pod is not None else None

    def delete(self, name: str) -> None:
        with self.lock:
            pod = self.pods.pop(name, None)
        if pod is not None:
            self.deleted.append(name)
            subprocess.run(["docker", "rm", "-f", f"{name}-init", f"{name}-main"], capture_output=True)

    def list_pods(self, selector: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            pods = [copy.deepcopy(p) for p in self.pods.values()]
        if not selector:
            return pods
        key, _, value = selector.partition("=")
        return [p for p in pods if p["metadata"].get("labels", {}).get(key) == value]

    def delete_collection(self, selector: str) -> list[str]:
        names = [p["metadata"]["name"] for p in self.list_pods(selector)]
        for name in names:
            self.delete(name)
        return names

    def log(self, name: str, container: str) -> DockerLog:
        return DockerLog(f"{name}-main" if container == "repo2docker" else f"{name}-init")

    # -- the "kubelet" ----------------------------------------------------------------------
    def _set(self, pod: dict[str, Any], **status: Any) -> None:
        with self.lock:
            if pod["metadata"]["name"] in self.pods:
                self.pods[pod["metadata"]["name"]]["status"].update(status)

    def _kubelet(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        volumes = self._volumes(pod)
        init = pod["spec"]["initContainers"][0]
        run = subprocess.run(["docker", "run", "--name", f"{name}-init", *self._options(init, volumes),
                              *self._image_and_command(init)], capture_output=True, text=True)
        code = run.returncode
        self._set(pod, initContainerStatuses=[_terminated(init["name"], code, run.stdout + run.stderr)])
        if code != 0:
            self._set(pod, phase="Failed")
            return
        main = pod["spec"]["containers"][0]
        subprocess.run(["docker", "run", "-d", "--name", f"{name}-main", *self._options(main, volumes),
                        *self._image_and_command(main)], capture_output=True, check=True)
        self._set(pod, phase="Running", containerStatuses=[{"name": main["name"], "state": {"running": {}}}])
        wait = subprocess.run(["docker", "wait", f"{name}-main"], capture_output=True, text=True)
        code = int(wait.stdout.strip() or 1)
        logs = subprocess.run(["docker", "logs", "--tail", "80", f"{name}-main"], capture_output=True, text=True)
        self._set(pod, phase="Succeeded" if code == 0 else "Failed",
                  containerStatuses=[_terminated(main["name"], code, logs.stdout + logs.stderr)])

    def _volumes(self, pod: dict[str, Any]) -> dict[str, tuple[str, str]]:
        """volume name -> (kind, host path) for docker -v."""
        out: dict[str, tuple[str, str]] = {}
        base = Path(tempfile.mkdtemp(prefix=f"{pod['metadata']['name']}-", dir=self.workdir))
        for vol in pod["spec"]["volumes"]:
            if "emptyDir" in vol:
                path = base / vol["name"]
                path.mkdir(mode=0o777)
                path.chmod(0o777)
                out[vol["name"]] = ("dir", str(path))
            elif "hostPath" in vol:
                out[vol["name"]] = ("socket", ENGINE_SOCKET)  # the engine's socket in that dir
            elif "secret" in vol:
                path = base / vol["name"]
                path.mkdir()
                data = self.secrets[vol["secret"]["secretName"]]
                for item in vol["secret"]["items"]:
                    (path / item["path"]).write_bytes(data[item["key"]])
                out[vol["name"]] = ("dir", str(path))
        return out

    @staticmethod
    def _options(c: dict[str, Any], volumes: dict[str, tuple[str, str]]) -> list[str]:
        sec = c.get("securityContext", {})
        opts = ["--network", "host", "--user", str(sec.get("runAsUser", 0))]
        if sec.get("readOnlyRootFilesystem"):
            opts.append("--read-only")
        if "ALL" in sec.get("capabilities", {}).get("drop", []):
            opts += ["--cap-drop", "ALL"]
        if sec.get("allowPrivilegeEscalation") is False:
            opts += ["--security-opt", "no-new-privileges"]
        for env in c.get("env", []):
            opts += ["-e", f"{env['name']}={env['value']}"]
        for mount in c.get("volumeMounts", []):
            kind, host = volumes[mount["name"]]
            target = mount["mountPath"] + ("/docker.sock" if kind == "socket" else "")
            opts += ["-v", f"{host}:{target}{':ro' if mount.get('readOnly') else ''}"]
        return opts

    @staticmethod
    def _image_and_command(c: dict[str, Any]) -> list[str]:
        if "command" in c:  # replaces the image's ENTRYPOINT, as in Kubernetes
            return ["--entrypoint", c["command"][0], c["image"], *c["command"][1:], *c.get("args", [])]
        return [c["image"], *c.get("args", [])]


def _terminated(name: str, code: int, output: str) -> dict[str, Any]:
    """A terminated container status; with FallbackToLogsOnError a failed container's
    message is the tail of its log (at most 2048 bytes or 80 lines, as the kubelet does)."""
    state: dict[str, Any] = {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}
    if code != 0:
        state["message"] = "\n".join(output.splitlines()[-80:])[-2048:]
    return {"name": name, "state": {"terminated": state}}
