"""Operator knobs of the Outpost (traitlets; ``c.OutpostConfig.*`` in the config file)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from traitlets import Bool, Float, Integer, List, Type, Unicode
from traitlets.config import Configurable

from outpost.backends.base import Backend
from outpost.backends.docker import DockerBackend


class OutpostConfig(Configurable):
    """Where the Outpost listens, whom it trusts and what it may start."""

    ip = Unicode(
        "127.0.0.1",
        help="Address to listen on. Keep loopback unless a TLS proxy is in front of it.",
    ).tag(config=True)

    port = Integer(8080, help="TCP port of the REST API.").tag(config=True)

    base_path = Unicode(
        "/",
        help="URL prefix of every endpoint (like upstream's OUTPOST_BASE_PATH), e.g. /outpost/.",
    ).tag(config=True)

    flavors_path = Unicode(
        "",
        help="""Path of flavors.yaml (keys flavors, hubs, users). Re-read on every request,
        so edits apply without a restart. Empty or missing: no flavor rules, every start
        is accepted.""",
    ).tag(config=True)

    db_path = Unicode(
        "outpost.sqlite",
        help="""SQLite file holding the started services and their spawner state, so
        that a restarted Outpost still polls and stops them. Created with mode 0600;
        tokens are never stored.""",
    ).tag(config=True)

    credentials_file = Unicode(
        "",
        help="""YAML/JSON file mapping hub name -> password for HTTP Basic auth (the
        user name is the hub's identity). Also read: the environment variable
        OUTPOST_CREDENTIALS (same JSON) and upstream's ``usernames``/``passwords``
        (semicolon-separated, matched by position). Passwords are never logged.""",
    ).tag(config=True)

    allowed_image_prefixes = List(
        Unicode(),
        ["127.0.0.1:*/", "localhost:*/", "local/"],
        help="""Image reference prefixes a user may start (``*`` = any characters except
        '/'). Everything else is refused with 419 before a container is created.""",
    ).tag(config=True)

    default_image = Unicode(
        "",
        help="Image to start when user_options name none (empty: an image is required).",
    ).tag(config=True)

    backend_class = Type(
        DockerBackend,
        klass=Backend,
        help="The backend that wraps a JupyterHub spawner (default: DockerSpawner).",
    ).tag(config=True)

    name_prefix = Unicode(
        "nfdi-outpost-",
        help="Prefix of container and volume names, so that they are easy to find and clean.",
    ).tag(config=True)

    check_interval = Float(
        60.0,
        help="Seconds between checks that stop servers whose flavor runtime has expired.",
    ).tag(config=True)

    send_events = Bool(
        True,
        help="POST spawn progress to the hub's JUPYTERHUB_EVENTS_URL with the server's token.",
    ).tag(config=True)

    event_timeout = Float(5.0, help="Seconds one progress POST to the hub may take.").tag(
        config=True)

    ready_check_interval = Float(
        0.05,
        help="""Seconds between checks that a starting server answers at the URL the hub will
        check; the start is answered right after the first success. Each check is one
        HTTP request over the path the hub uses (usually loopback or the cluster network).""",
    ).tag(config=True)

    exit_check_interval = Float(
        0.5,
        help="""Seconds between asking the backend, while waiting for a server to answer,
        whether it has exited (then the start fails at once with its last log lines).""",
    ).tag(config=True)

    def load_credentials(self) -> dict[str, str]:
        """hub name -> password, merged from the file and the environment."""
        creds: dict[str, str] = {}
        if self.credentials_file:
            data = yaml.safe_load(Path(self.credentials_file).read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"{self.credentials_file}: expected a mapping hub -> password")
            creds.update({str(k): str(v) for k, v in data.items()})
        if os.environ.get("OUTPOST_CREDENTIALS"):
            creds.update({str(k): str(v) for k, v in
                          json.loads(os.environ["OUTPOST_CREDENTIALS"]).items()})
        names = [n for n in os.environ.get("usernames", "").split(";") if n]
        passwords = os.environ.get("passwords", "").split(";")
        creds.update(dict(zip(names, passwords, strict=False)))
        return creds
