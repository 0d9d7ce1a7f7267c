"""Shared fixture graphs for the graph-analytics tests: networkx originals + igraph twins."""

from __future__ import annotations

from pathlib import Path

import igraph as ig
import networkx as nx
import numpy as np
import pytest

EMAIL_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "email-eu-core"


def to_igraph(gx: nx.Graph) -> ig.Graph:
    """igraph copy of a networkx graph on vertices 0..n-1, carrying edge weights."""
    n = gx.number_of_nodes()
    assert sorted(gx.nodes) == list(range(n))
    edges = list(gx.edges())
    g = ig.Graph(n=n, edges=edges, directed=gx.is_directed())
    g.es["weight"] = [float(gx[u][v].get("weight", 1.0)) for u, v in edges]
    return g


def undirected_sum(gx: nx.DiGraph) -> nx.Graph:
    """Undirected simple view of a weighted digraph, weights of both directions summed."""
    und = nx.Graph()
    und.add_nodes_from(gx.nodes)
    for u, v, w in gx.edges(data="weight"):
        if und.has_edge(u, v):
            und[u][v]["weight"] += w
        else:
            und.add_edge(u, v, weight=w)
    return und


@pytest.fixture(scope="session")
def karate() -> nx.Graph:
    return nx.karate_club_graph()


@pytest.fixture(scope="session")
def weighted_digraph() -> nx.DiGraph:
    """2,000-vertex weighted digraph: scale_free_graph (heavy tail) plus random ties,
    collapsed to simple with weights summed, self-loops removed."""
    multi = nx.scale_free_graph(2000, seed=11)
    extra = nx.gnm_random_graph(2000, 6000, directed=True, seed=12)
    rng = np.random.default_rng(11)
    gx = nx.DiGraph()
    gx.add_nodes_from(range(2000))
    for u, v in [*multi.edges(), *extra.edges()]:
        if u != v:
            w = float(rng.uniform(0.1, 5.0))
            if gx.has_edge(u, v):
                gx[u][v]["weight"] += w
            else:
                gx.add_edge(u, v, weight=w)
    return gx
