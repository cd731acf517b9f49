"""Test harness: real services on loopback, one plug-in module each.

Fixtures (see each module's docstring):

- ``tests.harness.hub``: a real JupyterHub 6 + configurable-http-proxy on loopback.
- ``tests.harness.replay``: recorded API payloads under original URL paths (``replay``,
  ``replay_server``, ``rewrites_env``).
- ``tests.harness.canary``: loopback server that must get no request (``canary``).
- ``tests.harness.netns``: run code in a loopback-only network namespace (``netns_run``).

Each harness module has a self-test ``tests/harness/test_<name>.py``.
"""

pytest_plugins = [
    "tests.harness.replay",
    "tests.harness.canary",
    "tests.harness.netns",
    "tests.harness.hub",
    "tests.harness.registry",
    "tests.harness.gitserver",
]
