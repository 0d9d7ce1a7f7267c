"""The parameters both sides of the GDS benchmark use, and the measures it times.

What it holds: damping, resolution, betweenness pivots, GDS's PageRank tolerance and
iteration cap, the top-k of the overlap, the names of the two GDS projections, and the
measures in the order the table shows them.
"""

from __future__ import annotations

#: Parameters both sides use.
DAMPING = 0.85
RESOLUTION = 1.0
BETWEENNESS_SAMPLES = 64
PAGERANK_TOLERANCE = 1e-7
PAGERANK_MAX_ITERATIONS = 100
TOP_K = 100

G_NAT = "guanxi_bench_natural"
G_UND = "guanxi_bench_undirected"
MEASURES = (
    "projection",
    "pagerank",
    "weighted_degree",
    "communities",
    "kcore",
    "clustering",
    "betweenness",
)
