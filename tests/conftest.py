"""Test harness: real services on loopback, one plug-in module each.

Fixtures (see each module's docstring):

- ``tests.harness.hub``: a real JupyterHub 6 + configurable-http-proxy on loopback.

Each harness module has a self-test ``tests/harness/test_<name>.py``.
"""

pytest_plugins = [
    "tests.harness.hub",
]
