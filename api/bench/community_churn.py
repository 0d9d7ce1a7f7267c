"""Community ids under churn: generate, analyze, add a share of relations, reload, analyze, diff.

This is the measurement behind issue 21's target (customers keeping their community id after
1% more relations): the second analysis warm-starts from the first run's communities and
matches its communities to them, and ``communities_diff`` reports the kept share, the NMI of
the two partitions and the lineage. It also reports what a cold Leiden rerun of the second
graph would agree with (NMI), for comparison.

``python -m api.bench.community_churn --customers 100000 --dir /tmp/churn`` prints one JSON
document.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from api import usecases
from graph.store import open_store

if TYPE_CHECKING:
    from loaders.generate import GeneratedData

__all__ = ["added_relations", "measure", "write_with_added_relations"]


def added_relations(
    relations: pa.Table, truth: pa.Table, *, share: float, seed: int, within: float = 0.8
) -> pa.Table:
    """``share`` x the relation count of new rows, shaped like the generator's.

    Each new row starts at a random existing relation's source customer; with probability
    ``within`` its target is a random member of the source's planted community (how ties
    grow), else any customer. Type, channel, amount and time are copied from another random
    relation, so the time-decay reference (the newest timestamp) does not move.
    """
    rng = np.random.default_rng(seed)
    n_new = max(1, round(share * relations.num_rows))
    ids = truth.column("customer_id").to_numpy(zero_copy_only=False).astype(object)
    comm = truth.column("planted_community").to_numpy(zero_copy_only=False)
    order = np.argsort(comm, kind="stable")
    bounds = np.searchsorted(comm[order], np.unique(comm), side="left")
    sizes = np.diff(np.append(bounds, comm.size))
    where = {c: (s, z) for c, s, z in zip(np.unique(comm), bounds, sizes, strict=True)}
    position = {c: i for i, c in enumerate(ids)}
    src_all = relations.column("src_id").to_numpy(zero_copy_only=False).astype(object)
    src = src_all[rng.integers(0, relations.num_rows, n_new)]
    dst = np.empty(n_new, dtype=object)
    for i, s in enumerate(src):
        if rng.random() < within:
            start, size = where[comm[position[s]]]
            dst[i] = ids[order[start + rng.integers(0, size)]]
        else:
            dst[i] = ids[rng.integers(0, ids.size)]
    keep = dst != src
    template = relations.take(pa.array(rng.integers(0, relations.num_rows, n_new)))
    cols = {name: template.column(name) for name in relations.column_names}
    cols["src_id"] = pa.array(src.tolist(), pa.string())
    cols["dst_id"] = pa.array(dst.tolist(), pa.string())
    return pa.table(cols).filter(pa.array(keep))


def write_with_added_relations(
    data: GeneratedData, folder: Path, *, share: float, seed: int
) -> int:
    """Rewrite ``folder/relations.csv`` as the generated relations plus :func:`added_relations`.

    Reloading the folder then inserts only the new rows (loads are idempotent). Returns how
    many rows were added to the file.
    """
    from loaders.generate import write_table

    extra = added_relations(data.relations, data.truth, share=share, seed=seed)
    both = pa.concat_tables([data.relations, extra.cast(data.relations.schema)])
    write_table(both, folder / "relations.csv")
    return extra.num_rows


def measure(
    customers: int,
    *,
    work_dir: Path,
    seed: int = 7,
    share: float = 0.01,
    params_overrides: dict | None = None,
) -> dict:
    """Run the churn experiment in ``work_dir`` (a DuckDB store) and return the figures.

    ``params_overrides`` (e.g. ``{"community_objective": "cpm", "resolution": 0.02}``) go to
    both analyses.
    """
    from graph.communities import leiden_communities
    from loaders.generate import generate, write_dataset

    work_dir.mkdir(parents=True, exist_ok=True)
    data_dir = work_dir / "data"
    data = generate(customers, seed=seed)
    write_dataset(data, data_dir, fmt="csv")
    timings: dict[str, float] = {}
    with open_store(f"duckdb:///{work_dir / 'churn.duckdb'}") as store:
        t = time.perf_counter()
        usecases.load(store, data_dir, quarantine_dir=work_dir / "q")
        first = usecases.analyze(store, seed=seed, params_overrides=params_overrides).run
        timings["first_s"] = time.perf_counter() - t
        added = write_with_added_relations(data, data_dir, share=share, seed=seed + 1)
        t = time.perf_counter()
        usecases.load(store, data_dir, quarantine_dir=work_dir / "q")
        second = usecases.analyze(store, seed=seed, params_overrides=params_overrides).run
        timings["second_s"] = time.perf_counter() - t
        diff = usecases.communities_diff(store, first.run_id, second.run_id, limit=0)
        cold = _cold_nmi(store, first.run_id, second, leiden_communities)
    return {
        "customers": customers,
        "params": params_overrides or {},
        "relations_added": added,
        "from_run": first.run_id,
        "to_run": second.run_id,
        "kept_share": diff["kept_share"],
        "nmi": diff["nmi"],
        "cold_rerun_nmi": cold,
        "communities_from": diff["communities_from"],
        "communities_to": diff["communities_to"],
        "lineage_counts": diff["lineage_counts"],
        "moved_count": diff["moved_count"],
        "timings": {k: round(v, 1) for k, v in timings.items()},
    }


def _cold_nmi(store, first_run: str, second, leiden) -> float:
    """NMI between the first run and a cold (no warm start) Leiden of the second graph."""
    from api.engines.local import project_graph
    from graph.lineage import normalized_mutual_information
    from graph.params import AnalysisParams

    params = AnalysisParams.from_dict(second.params)
    g = project_graph(store, params).graph
    cold = leiden(
        g.undirected(),
        resolution=params.resolution,
        iterations=params.leiden_iterations,
        seed=params.seed,
        objective=params.community_objective,
    )
    before = store.read_membership(first_run).set_index("customer_id")["community_id"]
    prev = before.reindex(g.ids).to_numpy(dtype=object)
    known = ~before.reindex(g.ids).isna().to_numpy()
    return normalized_mutual_information(prev[known], cold.membership[known])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--share", type=float, default=0.01)
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("--objective", choices=("modularity", "cpm"), default=None)
    ap.add_argument("--resolution", type=float, default=None)
    args = ap.parse_args(argv)
    overrides = {
        k: v
        for k, v in {"community_objective": args.objective, "resolution": args.resolution}.items()
        if v is not None
    }
    res = measure(
        args.customers,
        work_dir=args.dir,
        seed=args.seed,
        share=args.share,
        params_overrides=overrides or None,
    )
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
