// A community's leaders and the other communities its members are tied to.
// Set first, e.g.  :param community_id => "c0000"
MATCH (k:Community {community_id: $community_id})<-[:IN_COMMUNITY]-(leader:Customer)
WITH k, leader ORDER BY leader.influence DESC LIMIT 5
OPTIONAL MATCH (leader)-[r]-(n:Customer)-[:IN_COMMUNITY]->(other:Community)
WHERE other <> k
RETURN k, leader, r, n, other
LIMIT 100
