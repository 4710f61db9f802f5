"""Any request body gets a success or a 400 whose body maps fields to messages — never a crash,
and the state keeps its invariants (one application per provider, outposts naming providers
that exist, names and slugs unique)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops_lifecycle.simulation.authentik import (
    AuthentikError,
    SimulatedAuthentik,
    applications,
    outposts,
    providers,
    schema,
)

# Flow pks are new UUIDs in each instance: bodies name them by this placeholder.
FLOW = "<a flow of this instance>"
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 5), st.sampled_from(
    ["", "a", "p1", "proxy", "forward_single", "forward_domain", "https://a.example.com",
     "http://svc.ns:80", "not a url", "no spaces", "00000000-0000-4000-8000-000000000000",
     FLOW]))
_VALUES = st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3),
                    st.dictionaries(st.sampled_from(["a", "b"]), _SCALARS, max_size=2))


# Values that pass each field's own checks, so that writes get past them and reach the rules
# between objects (uniqueness, links); `_VALUES` then breaks some of them.
_PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from(["seed", "a", "b", "authentik Embedded Outpost"]),
    "slug": st.sampled_from(["seed", "a", "b"]),
    "provider": st.sampled_from([1, 2, None, 3]),
    "providers": st.lists(st.sampled_from([1, 2, 3]), max_size=3),
    "external_host": st.sampled_from(["https://a.example.com", "http://b.ns:8080"]),
    "internal_host": st.sampled_from(["", "http://svc.ns:80"]),
    "authorization_flow": st.just(FLOW),
    "invalidation_flow": st.just(FLOW),
    "mode": st.sampled_from(["proxy", "forward_single", "forward_domain"]),
    "type": st.sampled_from(["proxy", "ldap"]),
    "config": st.just({}),
}


def _bodies(names: tuple[str, ...],
            required: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    optional = {name: _PLAUSIBLE[name] for name in names
                if name in _PLAUSIBLE and name not in required}
    complete = st.fixed_dictionaries({name: _PLAUSIBLE[name] for name in required},
                                     optional=optional)
    partial = st.fixed_dictionaries({}, optional={**optional, **{
        name: _PLAUSIBLE[name] for name in required}})
    junk = st.dictionaries(st.sampled_from([*names, "pk", "unknown"]), _VALUES, max_size=2)
    return st.builds(lambda good, bad: {**good, **bad}, st.one_of(complete, partial),
                     st.one_of(st.just({}), junk))


_WRITES = st.one_of(
    st.tuples(st.just("proxy"), st.sampled_from(["POST", "PUT", "PATCH"]),
              _bodies(providers.WRITABLE, providers.REQUIRED)),
    st.tuples(st.just("applications"), st.sampled_from(["POST", "PUT", "PATCH"]),
              _bodies(applications.WRITABLE, applications.REQUIRED)),
    st.tuples(st.just("outposts"), st.sampled_from(["PUT", "PATCH"]),
              _bodies(outposts.WRITABLE, outposts.REQUIRED)),
)
_WRITERS = {"proxy": providers, "applications": applications, "outposts": outposts}


def _write(authentik: SimulatedAuthentik, endpoint: str, method: str,
           body: dict[str, Any]) -> None:
    state, module = authentik.state, _WRITERS[endpoint]
    flow = next(iter(state.flows))
    body = {name: flow if value == FLOW else value for name, value in body.items()}
    errors = schema.check(endpoint, method, body)
    if method == "POST":
        module.create(state, body, errors)
        return
    targets = {"proxy": state.providers, "applications": state.applications,
               "outposts": state.outposts}[endpoint]
    if targets:
        # The embedded outpost while it is recognisable as such (a PUT may rewrite `managed`).
        embedded = authentik.state.embedded_outpost() if endpoint == "outposts" else None
        current = embedded or next(iter(targets.values()))
        module.update(state, current, body, partial=method == "PATCH", errors=errors)


def _check_invariants(authentik: SimulatedAuthentik) -> None:
    state = authentik.state
    linked = [a["provider"] for a in state.applications.values() if a["provider"] is not None]
    assert len(linked) == len(set(linked))
    assert all(pk in state.providers for pk in linked)
    assert all(pk in state.providers for o in state.outposts.values() for pk in o["providers"])
    names = [p["name"] for p in state.providers.values()]
    assert len(names) == len(set(names))
    slugs = [a["slug"] for a in state.applications.values()]
    assert len(slugs) == len(set(slugs))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_WRITES, min_size=1, max_size=6))
def test_any_body_is_accepted_or_refused_with_field_messages(
    writes: list[tuple[str, str, dict[str, Any]]]
) -> None:
    authentik = SimulatedAuthentik(validate_schema="on")
    authentik.create_provider("seed", "https://seed.example.com")
    authentik.create_provider("other", "https://other.example.com")
    authentik.create_application("seed", provider="seed")
    refusals: list[AuthentikError] = []
    for endpoint, method, body in writes:
        try:
            _write(authentik, endpoint, method, body)
        except AuthentikError as exc:
            refusals.append(exc)
        _check_invariants(authentik)
    assert all(_field_messages(refusal) for refusal in refusals)


def _field_messages(refusal: AuthentikError) -> bool:
    return refusal.status == 400 and bool(refusal.body) and all(
        isinstance(name, str) and messages and all(isinstance(m, str) for m in messages)
        for name, messages in refusal.body.items())
