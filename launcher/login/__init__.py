"""Login through OpenID Connect at the hub, and what a login entitles a user to.

Runs inside JupyterHub (configured by :func:`launcher.hubconfig.configure_oidc_login`):

- :mod:`launcher.login.entitlements` — pure: eduPersonEntitlement values -> groups and
  HPC resources (system, partition, project, account), by operator regexes;
- :mod:`launcher.login.idtoken` — the id_token's signature, issuer, audience and expiry;
- :mod:`launcher.login.discovery` — the provider's discovery document and keys;
- :mod:`launcher.login.rights` — the Outposts' ``POST /userflavors`` per system, and
  the checks a start must pass (a flavor and project the user holds, rights confirmed
  recently by the provider);
- :mod:`launcher.login.authenticator` — :class:`OIDCAuthenticator`, oauthenticator's
  ``GenericOAuthenticator`` configured from discovery, with a small ``auth_state``.
"""
