// A community's leaders and the other communities its members are tied to (latest complete run).
// Set first, e.g.  :param community_id => "c0000"
// Communities carry their run id; a run being written has its own next to this one.
MATCH (run:Run) WHERE coalesce(run.complete, true)
WITH run ORDER BY run.created_at DESC LIMIT 1
MATCH (k:Community {run_id: run.run_id, community_id: $community_id})<-[:IN_COMMUNITY]-(leader)
WITH run, k, leader,
  CASE run.run_id WHEN leader.metrics_run_id THEN leader.influence
    ELSE leader.prev_influence END AS influence
WITH run, k, leader ORDER BY influence DESC, leader.customer_id LIMIT 5
OPTIONAL MATCH (leader)-[r]-(n:Customer)-[:IN_COMMUNITY]->(other:Community {run_id: run.run_id})
WHERE other <> k AND NOT EXISTS { MATCH (l:Load {load_id: r._load}) WHERE NOT l.committed }
RETURN k, leader, r, n, other
LIMIT 100
