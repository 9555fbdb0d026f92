"""Closeness in a unit's network: the hand-written Dijkstra against networkx on random graphs."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.tables import UNIT_ROOT, Node, shortest_lengths

weights = st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])
edges = st.lists(st.tuples(st.integers(-1, 7), st.integers(0, 7), weights), max_size=20)


def _node(n: int) -> Node:
    return UNIT_ROOT if n < 0 else ("person", str(n))


@settings(max_examples=200, deadline=None)
@given(edges)
def test_lengths_equal_networkx_dijkstra(drawn: list[tuple[int, int, float]]) -> None:
    graph: dict[Node, dict[Node, float]] = {UNIT_ROOT: {}}
    reference = nx.Graph()
    reference.add_node(UNIT_ROOT)
    for a, b, weight in drawn:
        source, target = _node(a), _node(b)
        if source == target:
            continue
        if graph.get(source, {}).get(target, float("inf")) > weight:
            graph.setdefault(source, {})[target] = weight
            graph.setdefault(target, {})[source] = weight
            reference.add_edge(source, target, weight=weight)
    expected = nx.single_source_dijkstra_path_length(reference, UNIT_ROOT, weight="weight")
    assert shortest_lengths(graph, UNIT_ROOT) == expected


def test_a_person_reached_only_through_another_adds_both_weights() -> None:
    via = ("person", "p1")
    graph: dict[Node, dict[Node, float]] = {
        UNIT_ROOT: {via: 1.0},
        via: {UNIT_ROOT: 1.0, ("person", "p2"): 2.5},
        ("person", "p2"): {via: 2.5},
        ("person", "p3"): {},
    }
    lengths = shortest_lengths(graph, UNIT_ROOT)
    assert lengths == {UNIT_ROOT: 0.0, via: 1.0, ("person", "p2"): 3.5}
