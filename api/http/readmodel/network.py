"""A customer's ego network shaped for a graph visualisation: nodes with hop and community,
edges with type, weight and the communities at both ends.

The network is read from the store per request (`GraphStore.ego_network`, bounded by `hops`
and `limit`); nothing of it is held in memory, since any customer can be asked for and a
2-hop neighbourhood of a hub is large.
"""

from __future__ import annotations

from api.usecases.encoding import records
from graph.store import GraphStore


def ego_network(
    store: GraphStore, customer_id: str, *, hops: int, limit: int, run_id: str | None
) -> dict:
    """The ego network of `customer_id` as the API shows it.

    Parameters
    ----------
    run_id
        The run the communities and influence come from (reported as is).

    Raises
    ------
    CustomerNotFound
    """
    ego = store.ego_network(customer_id, hops=hops, limit=limit)
    nodes = records(ego.nodes)
    community = {
        n["customer_id"]: (None if n.get("community_id") is None else str(n["community_id"]))
        for n in nodes
    }
    return {
        "customer_id": customer_id,
        "hops": hops,
        "run_id": run_id,
        "nodes": [
            {
                "id": str(n["customer_id"]),
                "hop": int(n["hop"]),
                "community_id": community[n["customer_id"]],
                "influence": n.get("influence"),
            }
            for n in nodes
        ],
        "edges": [
            {
                "source": str(e["src_id"]),
                "target": str(e["dst_id"]),
                "type": str(e["type"]),
                "weight": float(e["weight"] or 0.0),
                "interactions": int(e["interactions"] or 0),
                "source_community": community.get(e["src_id"]),
                "target_community": community.get(e["dst_id"]),
            }
            for e in records(ego.edges)
        ],
    }


__all__ = ["ego_network"]
