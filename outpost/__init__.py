"""An Outpost: the JupyterHub Outpost REST API in front of real JupyterHub spawners.

Deployed at a resource provider; imports nothing else of nfdi-launcher. The flow of a
start: ``handlers/`` (HTTP, Basic auth = hub identity) → ``body`` (validation) →
``flavors`` (rules of flavors.yaml, pure) → ``mapping`` (user_options → spawn settings,
pure) → ``backends/`` (a real spawner) → ``store`` (SQLite, survives restarts).
``manager`` runs these steps; ``app`` wires the tornado application.
"""
