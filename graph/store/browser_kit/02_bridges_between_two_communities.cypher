// Bridge customers linking two communities, with the ties that make them bridges.
// Set first, e.g.  :param community_a => "c0000"  and  :param community_b => "c0001"
// Bridges are the holders of the bridge tag in the latest complete run (the :Bridge label
// only styles them); communities are read by run id, as in 01.
MATCH (run:Run) WHERE coalesce(run.complete, true)
WITH run ORDER BY run.created_at DESC LIMIT 1
MATCH (b:Customer)-[:HAS_TAG {run_id: run.run_id}]->(:Tag {tag_id: "bridge"})
MATCH (b)-[r]-(other:Customer)
WHERE NOT EXISTS { MATCH (l:Load {load_id: r._load}) WHERE NOT l.committed }
WITH b, r, other,
  CASE run.run_id WHEN b.metrics_run_id THEN b.community_id
    WHEN b.prev_run_id THEN b.prev_community_id END AS bc,
  CASE run.run_id WHEN other.metrics_run_id THEN other.community_id
    WHEN other.prev_run_id THEN other.prev_community_id END AS oc
WHERE bc IN [$community_a, $community_b] AND oc IN [$community_a, $community_b] AND oc <> bc
RETURN b, r, other
ORDER BY b.customer_id, other.customer_id
LIMIT 100
