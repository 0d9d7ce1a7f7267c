// One customer's referral tree (who they brought in, and who those brought in).
// Set first, e.g.  :param customer_id => "C0000001"
MATCH p = (root:Customer {customer_id: $customer_id})-[:REFERRAL*1..4]->(:Customer)
RETURN p
LIMIT 200
