"""Reproducibility receipts: every build and launch leaves a signed, citable record.

- :mod:`~launcher.receipts.model` — what a receipt says (pure): body, canonical bytes, citation;
- :mod:`~launcher.receipts.signing` — Ed25519 keys, JWKS, detached JWS, verification;
- :mod:`~launcher.receipts.table` — the ``receipts`` table of the launcher's store;
- :mod:`~launcher.receipts.book` — :class:`Receipts`: issue, look up, check for relaunch;
- :mod:`~launcher.receipts.stamp` — the pipeline's ready hook that issues them;
- :mod:`~launcher.receipts.relaunch` — start a receipt's image by digest (or rebuild it);
- :mod:`~launcher.receipts.crate` — the RO-Crate (Process Run Crate) of a receipt;
- :mod:`~launcher.receipts.handlers` — JWKS, JSON API, page, relaunch routes;
- :mod:`~launcher.receipts.cli` — ``nfdi-launcher receipt verify|keys`` and the build command.
"""
