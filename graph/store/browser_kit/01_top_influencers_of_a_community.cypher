// Top influencers of a community with their 2-hop network.
// Set first, e.g.  :param community_id => "c0000"
MATCH (c:Customer {community_id: $community_id})
WITH c ORDER BY c.influence DESC LIMIT 5
MATCH p = (c)-[*1..2]-(:Customer)
RETURN p
LIMIT 150
