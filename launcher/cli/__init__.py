"""The ``nfdi-launcher`` command line: one module per subcommand."""
