"""Test harness: real services on loopback, one plug-in module each.

Fixtures (see each module's docstring):

- ``tests.harness.hub``: a real JupyterHub 6 + configurable-http-proxy on loopback.
- ``tests.harness.replay``: recorded API payloads under original URL paths (``replay``,
  ``replay_server``, ``rewrites_env``).
- ``tests.harness.canary``: loopback server that must get no request (``canary``).
- ``tests.harness.netns``: run code in a loopback-only network namespace (``netns_run``).
- ``tests.harness.postgres``: a real PostgreSQL server in a temp dir (``postgres``).
- ``tests.harness.dockerd``: a private Docker engine tests may restart (``private_dockerd``).
- ``tests.harness.chromium``: Debian's headless Chromium through Playwright (``chromium``,
  ``chromium_page``).
- ``tests.harness.stack``: ``nfdi-launcher stack`` as a subprocess, as the README starts it
  (``stack_pool``, ``stack``).
- ``tests.harness.slurm``: a one-node Slurm cluster and Charliecloud storage (``slurm_cluster``,
  ``hpc_site``).
- ``tests.harness.sshd``: an OpenSSH login node on loopback with a forwarding-only key
  (``login_node``).
- ``tests.harness.oidc``: the local OpenID Provider and a scripted hub login
  (``provider_factory``).

Each harness module has a self-test ``tests/harness/test_<name>.py``.

Launchers made by tests keep their store (``LauncherConfig.state_dir``) in one temp dir
per session, never in the user's ~/.local/state.
"""

import os
import shutil
import tempfile

_STATE_DIR = tempfile.mkdtemp(prefix="nfdi-launcher-tests-")
os.environ.setdefault("NFDI_LAUNCHER_STATE_DIR", _STATE_DIR)


def pytest_sessionfinish() -> None:
    shutil.rmtree(_STATE_DIR, ignore_errors=True)


pytest_plugins = [
    "tests.harness.replay",
    "tests.harness.canary",
    "tests.harness.netns",
    "tests.harness.hub",
    "tests.harness.registry",
    "tests.harness.gitserver",
    "tests.harness.postgres",
    "tests.harness.dockerd",
    "tests.harness.chromium",
    "tests.harness.stack",
    "tests.harness.slurm",
    "tests.harness.sshd",
    "tests.harness.oidc",
]
