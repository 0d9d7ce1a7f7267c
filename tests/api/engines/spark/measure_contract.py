"""Measure the engine contract once at a chosen size (not a test: the lead runs it quietly).

    python3 -m tests.api.engines.spark.measure_contract --customers 100000 --master 'local[2]'

Generates the dataset, runs the local engine (the `analyze` use case on a DuckDB store) and
the spark engine's projection and metrics on the same files, and prints one table: the
agreement of every metric (exact / max relative difference / Spearman for PageRank), label
propagation's modularity beside Leiden's, and the seconds of each side's stages.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from api.engines import get_engine
from api.engines.spark.graphx_jar import build_jar
from api.engines.spark.session import start_session
from api.settings import Settings
from api.usecases import analyze
from graph.params import AnalysisParams
from graph.store import open_store
from loaders.generate import generate, write_dataset
from loaders.ingest import load_folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--budget-mb", type=int, default=Settings().spark_driver_budget_mb)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    d = args.dir or Path(tempfile.mkdtemp(prefix="guanxi-contract-"))
    src = d / "input"
    write_dataset(generate(args.customers, seed=3), src, fmt="parquet")

    t = time.perf_counter()
    ref = open_store(f"duckdb:///{d / 'local.duckdb'}")
    load_folder(ref, src, quarantine_dir=d / "q")
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    run = analyze(ref, seed=7).run
    t_local = time.perf_counter() - t
    local = ref.read_metrics(run.run_id).sort_values("customer_id").reset_index(drop=True)

    jar, _ = build_jar(Settings().spark_cache_dir)
    spark = start_session(args.master, {"spark.driver.memory": "2g"}, jars=[jar])
    eng = get_engine(
        "spark",
        source=str(src),
        out_dir=str(d / "runs"),
        session=spark,
        driver_budget_mb=args.budget_mb,
    )
    t = time.perf_counter()
    target = open_store(f"duckdb:///{d / 'spark.duckdb'}")
    proj = eng.project(target, AnalysisParams(seed=7))
    res = eng.metrics(proj)
    got = res.metrics.toPandas().sort_values("customer_id").reset_index(drop=True)
    t_spark = time.perf_counter() - t

    print(f"customers {args.customers:,}, ties {res.stats['n_edges']:,}, master {args.master}")
    print("| metric | agreement |\n|---|---|")
    for col in (
        "in_degree",
        "out_degree",
        "degree",
        "coreness",
        "referrals_direct",
        "referral_downstream",
        "referral_depth",
        "neighbor_communities",
    ):
        same = bool((got[col].to_numpy() == local[col].to_numpy()).all())
        print(f"| {col} | {'exact' if same else 'DIFFERS'} |")
    for col in (
        "in_strength",
        "out_strength",
        "clustering",
        "betweenness",
        "constraint",
        "reach_2hop",
        "community_pagerank_pct",
        "influence",
    ):
        a, b = got[col].to_numpy(float), local[col].to_numpy(float)
        rel = np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)) if len(a) else 0.0
        print(f"| {col} | max rel diff {rel:.2e} |")
    pr, ref_pr = got["pagerank"].to_numpy(), local["pagerank"].to_numpy()
    print(
        f"| pagerank | Spearman {spearmanr(pr, ref_pr).statistic:.6f}, max rel diff "
        f"{np.max(np.abs(pr - ref_pr) / ref_pr):.2e}, {res.stats['pagerank_iterations']} steps |"
    )
    same_comm = float((got["community_id"] == local["community_id"]).mean())
    print(f"| communities ({res.stats['method']}) | {same_comm:.4%} of customers same id |")
    print(
        f"| modularity | leiden {run.stats['modularity']:.4f}, label propagation "
        f"{res.stats['label_propagation_modularity']:.4f} |"
    )
    print(
        f"local: load {t_load:.1f}s, analyze {t_local:.1f}s; spark project+metrics {t_spark:.1f}s"
    )
    print("spark stages:", res.stats["timings"])
    print("left out:", res.stats["left_out"] or "none")


if __name__ == "__main__":
    main()
