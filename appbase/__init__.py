"""appbase: what every nfdi-launcher command shares, and nothing else.

The command-line base class (:class:`appbase.app.LauncherApp`: the config file, logging
options, ``--help-all``) and logging with token scrubbing (:mod:`appbase.log`). It sits
*beside* the flow ``fdo -> builders -> launcher`` and ``outpost``: each of those packages
may import it, and it imports none of them. That is what lets the Outpost (deployed at a
resource provider) and ``fdo``'s commands run without the launcher.
"""

__version__ = "0.1.0"
