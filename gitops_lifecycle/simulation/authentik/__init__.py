"""A simulated Authentik: the REST API a proxy-provider controller talks to.

It stands in for a system we do not own, so it is written from Authentik's own serializers
and published schema, never from our client: pagination that ends with `next: 0`, field
errors as DRF sends them, 403 for a bad token, provider names unique across types, the
refusal of a proxy-provider PATCH without `mode`, outposts whose `providers` a PATCH
replaces. With the test dependency `authentik-client` installed, every request body is also
validated with its generated models.
"""

from gitops_lifecycle.simulation.authentik import applications, outposts, providers, schema
from gitops_lifecycle.simulation.authentik.errors import AuthentikError
from gitops_lifecycle.simulation.authentik.faults import AuthentikFaults, AuthentikRequest
from gitops_lifecycle.simulation.authentik.server import SimulatedAuthentik

__all__ = ["AuthentikError", "AuthentikFaults", "AuthentikRequest", "SimulatedAuthentik",
           "applications", "outposts", "providers", "schema"]
