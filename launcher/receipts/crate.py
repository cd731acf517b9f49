"""A receipt as an RO-Crate (ro-crate-py), zipped: schema.org + Workflow Run RO-Crate terms.

The crate conforms to the Process Run Crate profile (0.5) of Workflow Run RO-Crate: one
``CreateAction`` (the build or launch) whose ``instrument`` is the software (the
repository at its pinned ref), whose ``object`` is the identifier as given, whose
``result`` and ``containerImage`` are the image by digest (a ``ContainerImage``), with
start/end time. The signed receipt document is inside as ``receipt.json`` (so the crate
carries its own verifiable record) and the launcher's keys as ``jwks.json``.

The Workflow Run terms are given as extra context terms with their full IRIs (the same
IRIs the ``https://w3id.org/ro/terms/workflow-run/context`` document defines), so a
JSON-LD processor needs only the RO-Crate context to expand the crate.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

WFRUN = "https://w3id.org/ro/terms/workflow-run#"
PROCESS_RUN_CRATE = "https://w3id.org/ro/wfrun/process/0.5"
CC0 = "https://spdx.org/licenses/CC0-1.0"
EXTRA_TERMS = {
    "ContainerImage": WFRUN + "ContainerImage",
    "containerImage": WFRUN + "containerImage",
    "DockerImage": WFRUN + "DockerImage",
    "registry": WFRUN + "registry",
    "tag": WFRUN + "tag",
    "sha256": WFRUN + "sha256",
}


def iso(timestamp: str) -> str:
    """``2026-01-02T03:04:05Z`` -> ``2026-01-02T03:04:05+00:00`` (the profile's pattern)."""
    return timestamp[:-1] + "+00:00" if timestamp.endswith("Z") else timestamp


def image_entity(body: dict[str, Any]) -> dict[str, Any]:
    image = body.get("image") or {}
    name = str(image.get("name") or "")
    repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    host, sep, path = repo.partition("/")
    registry = host if sep and ("." in host or ":" in host or host == "localhost") else ""
    digest = str(image.get("digest") or "")
    entity: dict[str, Any] = {"@type": ["ContainerImage", "CreativeWork"],
                              "additionalType": {"@id": WFRUN + "DockerImage"},
                              "name": path if registry else repo, "tag": tag,
                              "description": f"Container image {name} (digest {digest or 'not reported'})"}
    if registry:
        entity["registry"] = registry
    if digest.startswith("sha256:"):
        entity["sha256"] = digest.removeprefix("sha256:")
    return entity


def build_crate(doc: dict[str, Any], links: dict[str, str], jwks: dict[str, Any] | None,
                workdir: Path) -> Any:
    """The :class:`rocrate.rocrate.ROCrate` of receipt document *doc*; its files are
    written into *workdir* (which must outlive the crate until it is written)."""
    from rocrate.rocrate import ROCrate

    body = doc["receipt"]
    crate = ROCrate()
    crate.metadata.extra_terms.update(EXTRA_TERMS)
    _describe_root(crate, body, links)
    software, image, source = _add_run_entities(crate, body)
    signed = _add_files(crate, doc, jwks, workdir)
    crate.root_dataset["mentions"] = _add_action(crate, body, software, image, source, signed)
    return crate


def _title(body: dict[str, Any]) -> Any:
    target = body.get("target") or {}
    return target.get("title") or target.get("source") or body["identifier"]


def _describe_root(crate: Any, body: dict[str, Any], links: dict[str, str]) -> None:
    """Name, licence, id, publisher and profile of the crate itself."""
    from rocrate.model.contextentity import ContextEntity

    target = body.get("target") or {}
    rid = str(body["id"])
    root = crate.root_dataset
    root["name"] = f"Reproducibility receipt {rid}: {_title(body)}"
    root["description"] = (f"Signed record of the {body['kind']} of {body['identifier']} "
                           f"(pinned to {target.get('ref')}) by nfdi-launcher.")
    root["datePublished"] = iso(str(body["created"]))
    root["license"] = crate.add(ContextEntity(crate, CC0, properties={
        "@type": "CreativeWork", "name": "CC0 1.0 Universal",
        "description": "No rights reserved: cite and reuse this record freely."}))
    root["identifier"] = crate.add(ContextEntity(crate, "#receipt-id", properties={
        "@type": "PropertyValue", "name": "receipt id", "propertyID": "nfdi-launcher receipt",
        "value": rid, "url": links.get("page", "")}))
    issuer = str((body.get("launcher") or {}).get("url") or "")
    if issuer:  # the launcher installation publishes the record (never the person who launched)
        root["publisher"] = crate.add(ContextEntity(crate, issuer, properties={
            "@type": "Organization", "name": f"nfdi-launcher at {issuer}", "url": issuer}))
    root["conformsTo"] = crate.add(ContextEntity(crate, PROCESS_RUN_CRATE, properties={
        "@type": ["CreativeWork", "Profile"], "name": "Process Run Crate", "version": "0.5"}))
    crate.add(ContextEntity(crate, WFRUN + "DockerImage", properties={
        "@type": "DefinedTerm", "name": "Docker image"}))


def _add_run_entities(crate: Any, body: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The run's instrument (the software at its ref), result (the image) and object (the
    identifier as given, with its resolution chain)."""
    from rocrate.model.contextentity import ContextEntity

    target = body.get("target") or {}
    software_id = str(target.get("ref_url") or target.get("source") or "#software")
    software = crate.add(ContextEntity(crate, software_id, properties={
        "@type": "SoftwareApplication", "name": str(_title(body)),
        "url": target.get("ref_url") or target.get("source"),
        "codeRepository": target.get("source"), "version": target.get("ref"),
        "identifier": body["identifier"]}))
    image = crate.add(ContextEntity(crate, "#image", properties=image_entity(body)))
    chain = " -> ".join([body["identifier"], *[str(h.get("to")) for h in body.get("chain") or []]])
    source = crate.add(ContextEntity(crate, "#identifier", properties={
        "@type": "PropertyValue", "name": "identifier as given", "value": body["identifier"],
        "description": f"resolution chain: {chain}"}))
    return software, image, source


def _add_files(crate: Any, doc: dict[str, Any], jwks: dict[str, Any] | None,
               workdir: Path) -> Any:
    """``receipt.json`` (the signed document) and ``jwks.json``; the receipt's entity."""
    (workdir / "receipt.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    signed = crate.add_file(str(workdir / "receipt.json"), "receipt.json", record_size=True, properties={
        "name": "Signed receipt", "encodingFormat": "application/json",
        "description": "The receipt document: its body and a detached Ed25519 JWS over the "
                       "body's canonical JSON (nfdi-launcher receipt verify checks it)."})
    if jwks is not None:
        (workdir / "jwks.json").write_text(json.dumps(jwks, indent=2) + "\n")
        crate.add_file(str(workdir / "jwks.json"), "jwks.json", record_size=True, properties={
            "name": "Public keys of the launcher (JWKS)", "encodingFormat": "application/jwk-set+json",
            "description": "The launcher's receipt keys when the crate was made: verifies "
                           "receipt.json offline."})
    return signed


def _add_action(crate: Any, body: dict[str, Any], software: Any, image: Any, source: Any,
                signed: Any) -> Any:
    """The ``CreateAction``: the build or launch itself."""
    launcher = body.get("launcher") or {}
    return crate.add_action(software, identifier=f"#{body['kind']}-{body['id']}", object=source,
                            result=image, properties={
        "name": f"{str(body['kind']).capitalize()} of {body['identifier']}",
        "description": f"nfdi-launcher {launcher.get('version', '')} {body['kind']} on system "
                       f"{body.get('system') or '-'}, flavor {body.get('flavor') or '-'}",
        "startTime": iso(str((body.get("build") or {}).get("built_at") or body["created"])),
        "endTime": iso(str(body["created"])),
        "actionStatus": "http://schema.org/CompletedActionStatus",
        "containerImage": {"@id": image.id},
        "subjectOf": {"@id": signed.id}})


def crate_zip(doc: dict[str, Any], links: dict[str, str], jwks: dict[str, Any] | None = None) -> bytes:
    """The RO-Crate of *doc* as zip bytes (blocking: run it in a thread)."""
    with tempfile.TemporaryDirectory(prefix="receipt-crate-") as tmp:
        work = Path(tmp) / "files"
        work.mkdir()
        crate = build_crate(doc, links, jwks, work)
        path = Path(tmp) / "crate.zip"
        crate.write_zip(str(path))
        return path.read_bytes()


def crate_metadata(data: bytes) -> dict[str, Any]:
    """``ro-crate-metadata.json`` of a crate zip (for tests and the verify command)."""
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return dict(json.loads(z.read("ro-crate-metadata.json")))
