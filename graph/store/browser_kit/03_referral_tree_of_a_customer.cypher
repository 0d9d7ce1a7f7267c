// One customer's referral tree (who they brought in, and who those brought in).
// Set first, e.g.  :param customer_id => "C0000001"
// Referrals a load is still writing (its :Load not committed) are left out.
MATCH p = (root:Customer {customer_id: $customer_id})-[:REFERRAL*1..4]->(:Customer)
WHERE all(r IN relationships(p) WHERE NOT EXISTS { MATCH (l:Load {load_id: r._load}) WHERE NOT l.committed })
RETURN p
LIMIT 200
