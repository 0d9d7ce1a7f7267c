// Bridge customers linking two communities, with the ties that make them bridges.
// Set first, e.g.  :param community_a => "c0000"  and  :param community_b => "c0001"
MATCH (b:Bridge)-[r]-(other:Customer)
WHERE b.community_id IN [$community_a, $community_b]
  AND other.community_id IN [$community_a, $community_b]
  AND other.community_id <> b.community_id
RETURN b, r, other
LIMIT 100
