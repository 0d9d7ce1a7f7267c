"""A customer's ego network shaped for a graph visualisation: nodes with hop and community,
edges with type, weight and the communities at both ends.

The network is assembled per request (bounded by `hops` and `limit`), from the served run's
relations held in memory (`api.http.readmodel.neighbours`) once they are read, from the
store (`GraphStore.ego_network`) before that.
"""

from __future__ import annotations

from api.http.readmodel.neighbours import NeighbourIndex
from api.usecases.encoding import records
from graph.store import GraphStore
from graph.store.common import assemble_ego_network


def ego_network(
    store: GraphStore,
    customer_id: str,
    *,
    hops: int,
    limit: int,
    run_id: str | None,
    neighbours: NeighbourIndex | None = None,
) -> dict:
    """The ego network of `customer_id` as the API shows it.

    Parameters
    ----------
    run_id
        The run the communities and influence come from (reported as is).
    neighbours
        The served run's relations in memory: the neighbour queries are answered from them
        instead of the store (same answer, no scan); customers without relations, or when
        None, are asked of the store.

    Raises
    ------
    CustomerNotFound
    """
    if neighbours is not None and neighbours.knows(customer_id):
        ego = assemble_ego_network(
            customer_id,
            hops=hops,
            limit=limit,
            first_hop=neighbours.first_hop,
            second_hop=neighbours.second_hop,
            edges_among=neighbours.edges_among,
            runs=store,
        )
    else:
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
