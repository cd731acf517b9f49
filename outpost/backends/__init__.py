"""Backends: each wraps a real JupyterHub Spawner behind :class:`outpost.backends.base.Backend`."""
