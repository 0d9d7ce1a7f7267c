"""Leiden's resolution against the generator's planted communities: NMI and community counts.

The defaults of :attr:`graph.params.AnalysisParams.community_objective` and ``resolution``
are chosen from this table: for each size, objective (modularity, CPM) and resolution,
Leiden (the analysis' iterations and seed) on the weighted undirected projection of
generated data, scored by the NMI against the planted communities (all customers, and the
customers with at least one tie, since an isolated customer is its own community in any
partition) and by the number of communities found (all, and those of 5 or more customers)
against the number planted.

``python -m api.bench.community_resolution --sizes 5000,20000,100000`` prints the table and
one JSON document.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from graph.build import build_interaction_graph, newest_timestamp
from graph.communities import leiden_communities
from graph.lineage import normalized_mutual_information
from graph.params import AnalysisParams
from loaders.generate import generate

__all__ = ["RESOLUTIONS", "evaluate"]

#: Resolutions tried per objective (CPM's is a tie weight per pair of members).
RESOLUTIONS: dict[str, tuple[float, ...]] = {
    "modularity": (0.5, 1.0, 2.0, 4.0, 8.0),
    "cpm": (0.005, 0.01, 0.02, 0.05, 0.1),
}


def evaluate(
    customers: int, *, resolutions: dict[str, tuple[float, ...]] | None = None, seed: int = 7
) -> list[dict]:
    """One row per objective and resolution for a generated dataset of ``customers``."""
    grid = [(obj, r) for obj, rs in (resolutions or RESOLUTIONS).items() for r in rs]
    data = generate(customers, seed=seed)
    params = AnalysisParams()
    g = build_interaction_graph(
        data.customers.column("customer_id"),
        data.relations,
        type_weights=params.type_weights,
        half_life_days=params.half_life_days,
        as_of=newest_timestamp(data.relations, data.transactions, data.events),
    )
    truth = dict(
        zip(
            data.truth.column("customer_id").to_pylist(),
            data.truth.column("planted_community").to_pylist(),
            strict=True,
        )
    )
    planted = np.array([truth[c] for c in g.ids])
    und = g.undirected()
    tied = np.asarray(und.degree()) > 0
    rows = []
    for objective, res in grid:
        t = time.perf_counter()
        c = leiden_communities(
            und,
            resolution=res,
            iterations=params.leiden_iterations,
            seed=params.seed,
            objective=objective,
        )
        took = time.perf_counter() - t
        sizes = np.bincount(c.membership)
        rows.append(
            {
                "customers": customers,
                "objective": objective,
                "resolution": res,
                "planted": int(np.unique(planted).size),
                "found": c.count,
                "found_5plus": int((sizes >= 5).sum()),
                "nmi": normalized_mutual_information(planted, c.membership),
                "nmi_tied": normalized_mutual_information(planted[tied], c.membership[tied]),
                "modularity": c.modularity,
                "seconds": round(took, 2),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="5000,20000,100000")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    rows = [r for n in args.sizes.split(",") for r in evaluate(int(n), seed=args.seed)]
    head = ["customers", "objective", "resolution", "planted", "found", "found_5plus", "nmi"]
    print(" | ".join(head))
    for r in rows:
        print(" | ".join(f"{r[k]:.4f}" if isinstance(r[k], float) else str(r[k]) for k in head))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
