"""The vectorised core against an independent row-by-row implementation (geodesic, loops)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.rank import metric_boundary, same_result
from matcher.rank import Matcher
from models.synthetic import SyntheticSpec, generate_dataset
from tests.factories import AS_OF
from tests.oracles.naive_rank import naive_rank


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), families=st.integers(0, 80), institutions=st.integers(0, 15))
def test_core_agrees_with_the_naive_loop(schools, seed, families, institutions) -> None:
    ds = generate_dataset(SyntheticSpec(12, families, institutions, seed), schools)
    m = Matcher(ds)
    for child in ds.children:
        ours = m.rank(child.child_id, top=10, as_of=AS_OF)
        naive = naive_rank(ds, m.policies, child.child_id, AS_OF)
        assert same_result(ours, naive, metric_boundary(m, child.child_id)), child.child_id
        # The km a caseworker sees: ours on the ellipsoid, rounded to 0.1; naive geopy's.
        geodesic = {p.option_id: p.distance_km for p in naive.proposals}
        for p in ours.proposals:
            if p.option_id in geodesic:
                for where, km in p.distance_km.items():
                    exact = geodesic[p.option_id][where]
                    assert (km is None) == (exact is None), (child.child_id, where)
                    if km is not None and exact is not None:
                        assert abs(km - exact) <= 0.051, (child.child_id, where)
