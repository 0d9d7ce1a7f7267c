// Customers holding a tag of the graph's categories (social and risk by default) in the latest
// complete run, strongest first, with the tag node. Any tag of the latest run, without score:
// MATCH (c:Customer) WHERE $tag_id IN c.tags RETURN c
// Set first, e.g.  :param tag_id => "opinion_leader"
MATCH (run:Run) WHERE coalesce(run.complete, true)
WITH run ORDER BY run.created_at DESC LIMIT 1
MATCH (c:Customer)-[h:HAS_TAG {run_id: run.run_id}]->(t:Tag {tag_id: $tag_id})
RETURN c, h, t
ORDER BY h.score DESC, c.customer_id
LIMIT 50
