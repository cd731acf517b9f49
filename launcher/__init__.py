"""launcher: the web service, the command line and the hand-off to JupyterHub.

The top of the flow ``fdo -> builders -> launcher -> outpost``: it wires the
packages below it together and is the only one that imports all of them.
"""

from appbase import __version__

__all__ = ["__version__"]
