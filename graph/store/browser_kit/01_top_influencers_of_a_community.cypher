// Top influencers of a community with their 2-hop network (latest complete run).
// Set first, e.g.  :param community_id => "c0000"
// A customer's metrics are its plain properties, or its prev_* ones while a newer run is
// being written: selecting by run id keeps a half-written run out of the answer. Only the
// relations between customers are walked (a path through a :Tag or :Community is no tie),
// and none a load is still writing (its :Load not committed).
MATCH (run:Run) WHERE coalesce(run.complete, true)
WITH run ORDER BY run.created_at DESC LIMIT 1
MATCH (c:Customer) WHERE c.metrics_run_id = run.run_id OR c.prev_run_id = run.run_id
WITH c, CASE WHEN c.metrics_run_id = run.run_id THEN '' ELSE 'prev_' END AS v
WHERE c[v + 'community_id'] = $community_id
WITH c ORDER BY c[v + 'influence'] DESC, c.customer_id LIMIT 5
MATCH p = (c)-[:REFERRAL|TRANSFER|LIKE|COMMENT|SHARE|MESSAGE|FAMILY|COLLEAGUE*1..2]-(:Customer)
WHERE all(r IN relationships(p) WHERE NOT EXISTS { MATCH (l:Load {load_id: r._load}) WHERE NOT l.committed })
RETURN p
LIMIT 150
