"""Statements of the Graph Data Science comparison (`guanxi bench --peer gds`).

They go through the registry like every other statement, so the Cypher lint checks them
and ``guanxi neo4j statements`` lists them. The benchmark writes guanxi's weighted edges as
one ``:GX_WEIGHTED {weight}`` relationship per ordered pair, projects them twice (NATURAL for
PageRank; UNDIRECTED with both directions' weights summed for the rest), streams each
measure, and removes the edges and projections at the end. Procedure names cannot be
parameters, so each measure is its own statement (:data:`STREAMS`).
"""

from __future__ import annotations

from graph.store.neo4j.statements import Registry

__all__ = ["REL", "STREAMS", "register"]

#: The relationship type holding guanxi's weighted edges while the benchmark runs.
REL = "GX_WEIGHTED"

#: measure -> (procedure, the column it yields per node)
STREAMS: dict[str, tuple[str, str]] = {
    "pagerank": ("gds.pageRank.stream", "score"),
    "weighted_degree": ("gds.degree.stream", "score"),
    "communities": ("gds.leiden.stream", "communityId"),
    "kcore": ("gds.kcore.stream", "coreValue"),
    "clustering": ("gds.localClusteringCoefficient.stream", "localClusteringCoefficient"),
    "betweenness": ("gds.betweenness.stream", "score"),
}


def register(reg: Registry) -> None:
    """Add the GDS benchmark's statements to `reg`."""
    add = reg.add
    add("gds.version", "RETURN gds.version() AS version")
    add(
        "gds.customer_nodes",
        "MATCH (c:Customer) RETURN id(c) AS node_id, c.customer_id AS customer_id",
    )
    add(
        "gds.project_natural",
        "CALL gds.graph.project($name, 'Customer', "
        "{" + REL + ": {orientation: 'NATURAL', properties: 'weight'}}) "
        "YIELD nodeCount, relationshipCount RETURN nodeCount, relationshipCount",
        name="guanxi_bench_natural",
    )
    add(
        "gds.project_undirected",
        "CALL gds.graph.project($name, 'Customer', "
        "{" + REL + ": {orientation: 'UNDIRECTED', aggregation: 'SUM', "
        "properties: {weight: {property: 'weight', aggregation: 'SUM'}}}}) "
        "YIELD nodeCount, relationshipCount RETURN nodeCount, relationshipCount",
        name="guanxi_bench_undirected",
    )
    add(
        "gds.graph_sizes",
        "CALL gds.graph.list() YIELD graphName, sizeInBytes "
        "WHERE graphName IN $names RETURN graphName, sizeInBytes",
        names=["guanxi_bench_natural"],
    )
    add(
        "gds.drop_graph",
        "CALL gds.graph.drop($name, false) YIELD graphName RETURN graphName",
        name="guanxi_bench_natural",
    )
    add(
        "gds.write_weighted",
        "UNWIND range(0, size($s) - 1) AS i "
        "MATCH (a) WHERE id(a) = $s[i] MATCH (b) WHERE id(b) = $d[i] "
        f"CREATE (a)-[:{REL} {{weight: $w[i]}}]->(b)",
        s=[0],
        d=[1],
        w=[1.0],
    )
    # in transactions of its own: the edges of a large graph exceed one transaction's memory
    add(
        "gds.remove_weighted",
        f"MATCH ()-[r:{REL}]->() CALL {{ WITH r DELETE r }} IN TRANSACTIONS OF 50000 ROWS",
        autocommit=True,
    )
    for measure, (proc, col) in STREAMS.items():
        add(
            f"gds.stream.{measure}",
            f"CALL {proc}($graph, $config) YIELD nodeId, {col} RETURN nodeId, {col}",
            graph="guanxi_bench_undirected",
            config={},
        )
