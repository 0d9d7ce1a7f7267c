// Customers holding a tag in the latest complete run: any tag, through c.tags; the tag node
// and its score and reason (HAS_TAG) for the graph's tag categories (social and risk by
// default), strongest first. Set first, e.g.  :param tag_id => "opinion_leader"
MATCH (run:Run) WHERE coalesce(run.complete, true)
WITH run ORDER BY run.created_at DESC LIMIT 1
MATCH (c:Customer) WHERE $tag_id IN c.tags
OPTIONAL MATCH (c)-[h:HAS_TAG {run_id: run.run_id}]->(t:Tag {tag_id: $tag_id})
RETURN c, h, t
ORDER BY coalesce(h.score, -1.0) DESC, c.customer_id
LIMIT 50
