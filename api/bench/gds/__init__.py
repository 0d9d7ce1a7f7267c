"""guanxi against Neo4j Graph Data Science on the same graph, both reading the same Neo4j.

What is compared
----------------
Both sides compute, for every customer, the same measures on the same weighted graph:
weighted PageRank (damping 0.85), weighted degree, modularity communities (resolution 1),
k-core number, local clustering coefficient and betweenness estimated from 64 source pivots.

* **The same weighted graph.** guanxi's tie weight is ``Σ type_weight × count ×
  0.5^(age / half_life)`` per ordered (src, dst) pair (:mod:`graph.build`). That weight is
  written into Neo4j once, before any timing, as one ``:GX_WEIGHTED {weight}`` relationship
  per pair between ``:Customer`` nodes, and removed at the end, so GDS projects exactly the
  edges and weights guanxi computes on. The ``as_of`` of the decay is the one ``analyze``
  uses (the newest event of the data).
* **GDS side (timed):** the customer-id map (``id(c)`` → ``customer_id``, needed to make
  any streamed value usable), two native projections of ``Customer`` + ``GX_WEIGHTED``
  (NATURAL for PageRank; UNDIRECTED with the weights of both directions summed, like
  guanxi's undirected view, for the rest), then ``gds.pageRank.stream`` (dampingFactor
  0.85, weighted, tolerance 1e-7, maxIterations 100), ``gds.degree.stream`` (weighted, on
  the undirected projection = in + out strength), ``gds.leiden.stream`` (gamma 1, weighted,
  randomSeed), ``gds.kcore.stream``, ``gds.localClusteringCoefficient.stream`` and
  ``gds.betweenness.stream`` (samplingSize 64, samplingSeed). Every stream is collected into
  a numpy array aligned with the customers, because both sides must end with per-customer
  values a caller can use (``.stats``/``.mutate`` would skip that last step for GDS only).
* **guanxi side (timed):** the projection from the same store (``customer_ids`` +
  ``read_table("relations")`` + :func:`graph.build.build_interaction_graph` + the undirected
  view), then :mod:`graph.centrality` / :mod:`graph.communities` for the same measures with
  the parameters ``analyze`` uses (Leiden with 2 iterations). The full ``analyze`` (which
  also computes constraint, 2-hop reach, referral metrics, tags, and writes the run back)
  is timed separately and reported as ``guanxi_full_analyze_s``.

Runs: each side runs ``repeats`` times (default 2), alternating, and its fastest run counts:
GDS's first call of each procedure in a fresh JVM loads and JIT-compiles code, a cost a
long-running server does not pay per analysis; the first run's times are kept as well.

Agreement: Spearman rank correlation of the two PageRanks (average ranks for ties), the
weighted modularity of each side's communities computed the same way (igraph
``modularity`` on guanxi's undirected weighted graph, resolution 1), and the overlap of the
two top-100 PageRank sets (plus guanxi's top-100 by influence score, for reference).

Memory: resident set size (psutil) of the Neo4j server before, at peak during and after the
GDS side, and of this process before and at peak during the guanxi side (sampled every
0.1 s). The server's RSS is only known when the server runs on this machine.

Modules: ``runner`` (:func:`run_gds_bench`: the server, the store, clean-up), ``data``
(generate and load), ``compare`` (set-up, alternating runs, agreement and memory figures),
``gds_side`` and ``guanxi_side`` (the timed measures), ``agreement`` (:func:`spearman`,
:func:`top_k_overlap`), ``table`` (:func:`gds_table`), ``params`` and ``measure``.
"""

from api.bench.gds.agreement import spearman, top_k_overlap
from api.bench.gds.runner import run_gds_bench
from api.bench.gds.table import gds_table

__all__ = ["gds_table", "run_gds_bench", "spearman", "top_k_overlap"]
