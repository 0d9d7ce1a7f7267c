"""Statements of the run side: write-back of a run, its reads, tags, ego networks, metadata.

Run history: ``:Run`` nodes are kept for every run (they are the provenance record). Metric
properties, ``IN_COMMUNITY`` membership, ``:Community`` nodes and the tag labels reflect the
latest run only; publishing a run replaces them. While a run is written, each customer's
values of the previous complete run move to ``prev_*`` properties (:data:`PREV`) before the
new ones overwrite the plain ones, so a run's metrics are read as "plain if
``metrics_run_id`` is the run, else ``prev_*`` if ``prev_run_id`` is".
"""

from __future__ import annotations

from graph.ranking import cypher_influence_order
from graph.store.neo4j.ingest_statements import vis
from graph.store.neo4j.statements import REL_TYPES, Registry

__all__ = ["PREV", "register"]

#: Prefix of the properties holding the previous complete run's metrics while a run is written.
PREV = "prev_"

ANY_REL = "|".join(REL_TYPES.values())


def register(reg: Registry) -> None:
    """Add the run-side statements to `reg`."""
    add = reg.add
    # --- runs: write-back ---
    add(
        "runs.merge",
        "MERGE (r:Run {run_id: $run_id}) SET r.created_at = $created_at, r.params = $params, "
        "r.input_counts = $input_counts, r.stats = $stats, r.metric_columns = $metric_columns, "
        "r.metric_dtypes = $metric_dtypes, r.community_columns = $community_columns, "
        "r.community_dtypes = $community_dtypes, r.metrics_kept = true, r.complete = false",
        run_id="r1",
        created_at="2025-01-01T00:00:00+00:00",
        params="{}",
        input_counts="{}",
        stats="{}",
        metric_columns=["customer_id"],
        metric_dtypes="{}",
        community_columns=["community_id"],
        community_dtypes="{}",
    )
    # The one transaction that makes a run visible: complete, and the only run whose metrics and
    # communities are served (the others' are marked gone in the same commit).
    add(
        "runs.publish",
        "MATCH (r:Run {run_id: $run_id}) SET r.complete = true "
        "WITH r OPTIONAL MATCH (o:Run) WHERE o.run_id <> r.run_id SET o.metrics_kept = false "
        "RETURN count(DISTINCT r) AS n",
        run_id="r1",
    )
    add(
        "runs.incomplete",
        "MATCH (r:Run) WHERE r.complete = false RETURN r.run_id AS run_id",
    )
    add(
        "runs.delete_incomplete",
        "MATCH (r:Run {run_id: $run_id}) WHERE r.complete = false DELETE r",
        run_id="r1",
    )
    add(
        "runs.metric_columns",
        "MATCH (r:Run) UNWIND coalesce(r.metric_columns, []) AS k RETURN collect(DISTINCT k) AS ks",
    )
    # Communities (and membership) of every run but those in $keep: before a write the previous
    # complete run's are kept (readers may still be served it), after its publish only the new.
    add(
        "communities.delete_membership_batch",
        "MATCH ()-[m:IN_COMMUNITY]->(k:Community) WHERE NOT k.run_id IN $keep "
        "WITH m LIMIT $batch DELETE m RETURN count(*) AS n",
        keep=["r1"],
        batch=10000,
    )
    add(
        "communities.delete_batch",
        "MATCH (k:Community) WHERE NOT k.run_id IN $keep "
        "WITH k LIMIT $batch DETACH DELETE k RETURN count(*) AS n",
        keep=["r1"],
        batch=10000,
    )
    add(
        "communities.create",
        "UNWIND $rows AS row CREATE (k:Community) SET k += row, k.run_id = $run_id",
        rows=[{"community_id": "0", "size": 3}],
        run_id="r1",
    )
    # Before a customer's metrics are overwritten, the values of the latest complete run ($keep)
    # move to prev_* properties, once (a customer already rewritten by an unpublished run keeps
    # them): readers of the complete run read live or prev_* by run id, whatever a crash left.
    add(
        "metrics.write",
        "UNWIND $rows AS row MATCH (c:Customer {customer_id: row.customer_id}) "
        "WITH c, row, coalesce(c.metrics_run_id = $keep AND $keep <> $run_id, false) AS shift "
        "FOREACH (k IN CASE WHEN shift THEN $keep_columns ELSE [] END | SET c[$prev + k] = c[k]) "
        "SET c.prev_run_id = CASE WHEN shift THEN $keep ELSE c.prev_run_id END "
        "SET c += row, c.metrics_run_id = $run_id "
        "WITH c, row MATCH (k:Community {run_id: $run_id, community_id: row.community_id}) "
        "CREATE (c)-[:IN_COMMUNITY]->(k)",
        rows=[{"customer_id": "C1", "community_id": "0", "pagerank": 0.1}],
        run_id="r2",
        keep="r1",
        keep_columns=["community_id", "pagerank"],
        prev=PREV,
    )
    add(
        "metrics.clear_stale_batch",
        "MATCH (c:Customer) WHERE c.metrics_run_id IS NOT NULL AND c.metrics_run_id <> $run_id "
        "WITH c LIMIT $batch SET c += $clear RETURN count(*) AS n",
        run_id="r1",
        batch=10000,
        clear={"pagerank": None, "metrics_run_id": None},
    )
    add(
        "runs.list",
        "MATCH (r:Run) WHERE coalesce(r.complete, true) "
        "RETURN r.run_id AS run_id, r.created_at AS created_at, r.params AS params, "
        "r.input_counts AS input_counts, r.stats AS stats "
        "ORDER BY r.created_at DESC, r.run_id DESC",
    )
    add(
        "runs.get",
        "MATCH (r:Run {run_id: $run_id}) RETURN r.metrics_kept AS metrics_kept, "
        "r.tags_kept AS tags_kept, r.metric_columns AS metric_columns, "
        "r.metric_dtypes AS metric_dtypes, r.community_columns AS community_columns, "
        "r.community_dtypes AS community_dtypes, r.catalog AS catalog, r.created_at AS created_at, "
        "coalesce(r.complete, true) AS complete",
        run_id="r1",
    )
    # A run's metrics are a customer's live properties or, while a newer run is being written
    # (or after it died unpublished), its prev_* ones; customer_id is never prefixed.
    _METRICS_OF_RUN = (
        "WHERE c.metrics_run_id = $run_id OR c.prev_run_id = $run_id "
        "WITH c, CASE WHEN c.metrics_run_id = $run_id THEN '' ELSE $prev END AS p "
    )
    _METRIC_VALUES = (
        "[k IN $columns | CASE k WHEN 'customer_id' THEN c.customer_id ELSE c[p + k] END]"
    )
    add(
        "metrics.read_all",
        "MATCH (c:Customer) "
        + _METRICS_OF_RUN
        + f"RETURN {_METRIC_VALUES} AS v ORDER BY c.customer_id",
        run_id="r1",
        columns=["customer_id", "pagerank"],
        prev=PREV,
    )
    add(
        "metrics.read_for",
        "UNWIND $customer_ids AS id MATCH (c:Customer {customer_id: id}) "
        + _METRICS_OF_RUN
        + f"RETURN {_METRIC_VALUES} AS v",
        run_id="r1",
        columns=["customer_id", "pagerank"],
        customer_ids=["C1"],
        prev=PREV,
    )
    add(
        "communities.read",
        "MATCH (k:Community {run_id: $run_id}) RETURN [x IN $columns | k[x]] AS v "
        "ORDER BY k.size DESC, k.community_id",
        run_id="r1",
        columns=["community_id", "size"],
    )
    add(
        "metrics.top_influencers",
        "MATCH (c:Customer) " + _METRICS_OF_RUN + "WHERE ($community_id IS NULL OR "
        "c[p + 'community_id'] = $community_id) "
        "AND ($holders IS NULL OR c.customer_id IN $holders) "
        f"RETURN {_METRIC_VALUES} AS v ORDER BY "
        + cypher_influence_order(influence="c[p + 'influence']", customer_id="c.customer_id")
        + " "
        "SKIP $offset LIMIT $limit",
        prev=PREV,
        run_id="r1",
        columns=["customer_id", "influence"],
        community_id=None,
        holders=None,
        offset=0,
        limit=10,
    )

    # --- community lineage: (:CommunityLineage {run_id, seq, event, from_ids, ...}) per event ---
    add(
        "lineage.create",
        "UNWIND $rows AS row CREATE (l:CommunityLineage) SET l += row, l.run_id = $run_id",
        rows=[
            {
                "seq": 0,
                "event": "split",
                "from_ids": ["c0000"],
                "to_ids": ["c0000", "c0001"],
                "from_sizes": [6],
                "to_sizes": [4, 2],
                "shared": 6,
                "jaccard": 1.0,
            }
        ],
        run_id="r1",
    )
    add(
        "lineage.delete_run_batch",
        "MATCH (l:CommunityLineage {run_id: $run_id}) WITH l LIMIT $batch DELETE l "
        "RETURN count(*) AS n",
        run_id="r1",
        batch=10000,
    )
    add(
        "lineage.read",
        "MATCH (l:CommunityLineage {run_id: $run_id}) "
        "RETURN l.event AS event, l.from_ids AS from_ids, l.to_ids AS to_ids, "
        "l.from_sizes AS from_sizes, l.to_sizes AS to_sizes, l.shared AS shared, "
        "l.jaccard AS jaccard ORDER BY l.seq",
        run_id="r1",
    )
    # Each customer's community in a run: the live value, or the prev_* one kept for the run
    # before it (see PREV); older runs have none left.
    add(
        "communities.membership",
        "MATCH (c:Customer) "
        + _METRICS_OF_RUN
        + "RETURN c.customer_id AS customer_id, c[p + 'community_id'] AS community_id "
        "ORDER BY customer_id",
        run_id="r1",
        prev=PREV,
    )

    # --- tags ---
    add(
        "tags.delete_run_batch",
        "MATCH ()-[h:HAS_TAG]->() WHERE h.run_id = $run_id WITH h LIMIT $batch DELETE h "
        "RETURN count(*) AS n",
        run_id="r1",
        batch=10000,
    )
    add(
        "tags.merge_definitions",
        "UNWIND $rows AS row MERGE (t:Tag {tag_id: row.tag_id}) SET t += row",
        rows=[{"tag_id": "bridge", "name_zh": "桥梁客户", "name_en": "Bridge"}],
    )
    add(
        "tags.create_assignments",
        "UNWIND range(0, size($customer_id) - 1) AS i "
        "MATCH (c:Customer {customer_id: $customer_id[i]}) MATCH (t:Tag {tag_id: $tag_id[i]}) "
        "CREATE (c)-[:HAS_TAG {run_id: $run_id, score: $score[i], reason: $reason[i]}]->(t)",
        customer_id=["C1"],
        tag_id=["bridge"],
        score=[1.0],
        reason=["r"],
        run_id="r1",
    )
    add(
        "runs.set_catalog",
        "MERGE (r:Run {run_id: $run_id}) SET r.catalog = $catalog, r.tags_kept = true",
        run_id="r1",
        catalog="[]",
    )
    add(
        "runs.with_tags",
        "MATCH (r:Run) WHERE r.tags_kept AND coalesce(r.complete, true) RETURN r.run_id AS run_id "
        "ORDER BY r.created_at DESC, r.run_id DESC",
    )
    add(
        "runs.mark_tags_gone",
        "MATCH (r:Run {run_id: $run_id}) SET r.tags_kept = false",
        run_id="r1",
    )
    add(
        "tags.delete_unused",
        "MATCH (t:Tag) WHERE NOT EXISTS { MATCH ()-[:HAS_TAG]->(t) } AND NOT t.tag_id IN $keep "
        "DETACH DELETE t",
        keep=["bridge"],
    )
    add(
        "labels.remove_batch",
        "MATCH (c:__LABEL__) WITH c LIMIT $batch REMOVE c:__LABEL__ RETURN count(*) AS n",
        batch=10000,
    )
    # c.tags: every tag id of the latest run, for Browser's filters; written where it changed
    add(
        "tags.set_lists",
        "UNWIND range(0, size($customer_id) - 1) AS i "
        "MATCH (c:Customer {customer_id: $customer_id[i]}) WITH c, $tags[i] AS t "
        "WHERE NOT coalesce(c.tags = t, c.tags IS NULL AND t IS NULL) SET c.tags = t",
        customer_id=["C1", "C2"],
        tags=[["bridge", "vip"], None],
    )
    add(
        "labels.set",
        "UNWIND $customer_ids AS id MATCH (c:Customer {customer_id: id}) SET c:__LABEL__",
        customer_ids=["C1"],
    )
    # --- ego network ---
    add(
        "ego.first_hop",
        f"MATCH (c:Customer {{customer_id: $customer_id}})-[r:{ANY_REL}]-(o:Customer) "
        f"WHERE {vis('r')} "
        "WITH o.customer_id AS other, sum(coalesce(r.count, 1)) AS w "
        "RETURN other, w ORDER BY w DESC, other LIMIT $limit",
        customer_id="C1",
        limit=10,
        pending=[],
    )
    add(
        "ego.second_hop",
        "UNWIND $frontier AS fid "
        f"MATCH (f:Customer {{customer_id: fid}})-[r:{ANY_REL}]-(o:Customer) "
        f"WHERE NOT o.customer_id IN $exclude AND {vis('r')} "
        "WITH o.customer_id AS other, sum(coalesce(r.count, 1)) AS w "
        "RETURN other, w ORDER BY w DESC, other LIMIT $limit",
        frontier=["C2"],
        exclude=["C1", "C2"],
        limit=10,
        pending=[],
    )
    add(
        "ego.edges",
        f"UNWIND $ids AS sid MATCH (a:Customer {{customer_id: sid}})-[r:{ANY_REL}]->(b:Customer) "
        f"WHERE b.customer_id IN $ids AND {vis('r')} "
        "RETURN a.customer_id AS src_id, b.customer_id AS dst_id, toLower(type(r)) AS type, "
        "count(*) AS interactions, sum(coalesce(r.count, 1)) AS weight "
        "ORDER BY weight DESC, src_id, dst_id, type",
        ids=["C1", "C2"],
        pending=[],
    )

    # --- store metadata: (:GuanxiMeta {key, value: [strings]}) ---
    add(
        "meta.add_values",
        "MERGE (m:GuanxiMeta {key: $key}) "
        "WITH m, coalesce(m.value, []) AS old "
        "SET m.value = old + [v IN $values WHERE NOT v IN old]",
        key="pii_columns",
        values=["email"],
    )
    add(
        "meta.get_values",
        "MATCH (m:GuanxiMeta {key: $key}) RETURN m.value AS value",
        key="pii_columns",
    )

    # --- maintenance ---
    add(
        "admin.delete_all_relationships_batch",
        "MATCH ()-[r]->() WITH r LIMIT $batch DELETE r RETURN count(*) AS n",
        batch=10000,
    )
    add(
        "admin.delete_all_batch",
        "MATCH (n) WITH n LIMIT $batch DETACH DELETE n RETURN count(*) AS n",
        batch=10000,
    )
