"""Resolver plug-ins, one module per provider, behind :class:`~fdo.resolvers.base.Resolver`.

The order in which they are tried is ``ResolverConfig.resolvers`` (import strings),
like repo2docker's ``content_providers``.
"""

from fdo.resolvers.base import Outcome, ResolveContext, Resolver

DEFAULT_RESOLVERS = [
    "fdo.resolvers.forge_api.GitHubApiResolver",
    "fdo.resolvers.forge_api.GitLabApiResolver",
    "fdo.resolvers.git.GitResolver",
    "fdo.resolvers.dataverse.DataverseResolver",
    "fdo.resolvers.hydroshare.HydroshareResolver",
    "fdo.resolvers.doi.DoiResolver",
    "fdo.resolvers.handle.HandleResolver",
    "fdo.resolvers.invenio.ZenodoResolver",
    "fdo.resolvers.invenio.InvenioResolver",
    "fdo.resolvers.figshare.FigshareResolver",
    "fdo.resolvers.ckan.CkanResolver",
    "fdo.resolvers.swh.SwhResolver",
    "fdo.resolvers.rocrate.RoCrateResolver",
    "fdo.resolvers.rsd.RsdResolver",
    "fdo.resolvers.landing.LandingPageResolver",
]

__all__ = ["DEFAULT_RESOLVERS", "Outcome", "ResolveContext", "Resolver"]
