"""Measure the engine contract once at a chosen size (not a test: the lead runs it quietly).

    python3 -m tests.api.engines.spark.measure_contract --customers 100000 --master 'local[2]'

Generates the dataset (with the generator's repeated keys and nothing removed), loads it
with the local loader and runs the local engine (the `analyze` use case on a DuckDB store),
runs the spark engine's stages on the same files, and prints every figure of the issue's
engine contract: validation counts and reasons, features, the assignments and reasons of
the tags that do not depend on community detection, PageRank's Spearman and maximum
relative difference, degree / strength / coreness / clustering / components, and label
propagation's modularity beside Leiden's; then each side's seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from api.engines import get_engine
from api.engines.spark.graphx_jar import build_jar
from api.engines.spark.session import start_session
from api.settings import Settings
from api.usecases import analyze
from graph.model import METRIC_COLUMNS
from graph.params import AnalysisParams
from graph.store import open_store
from loaders.generate import generate, write_dataset
from loaders.ingest import load_folder
from tagging import default_catalog

EXACT = ("in_degree", "out_degree", "degree", "coreness", "referrals_direct",
         "referral_downstream", "referral_depth", "neighbor_communities")  # fmt: skip
CLOSE = ("in_strength", "out_strength", "clustering", "betweenness", "constraint",
         "reach_2hop", "community_pagerank_pct", "influence")  # fmt: skip


def community_dependent(catalog) -> set[str]:
    """Tag ids (families as ``<id>:``) whose rule reads a community feature or group.

    A rule reading ``community_*`` (or a family over ``community_id``) depends on community
    detection, and so does every tag sharing an exclusive group with one.
    """

    def reads(*exprs) -> bool:
        return any(e is not None and "communit" in str(e.text) for e in exprs)

    tags = {t.id for t in catalog.tags if reads(t.when, t.score)}
    tags |= {
        f"{f.id}:" for f in catalog.families if reads(f.when, f.score) or "communit" in f.source
    }
    groups = {t.group for t in catalog.tags if t.id in tags and t.group}
    return tags | {t.id for t in catalog.tags if t.group in groups}


def depends(tag_id: str, dependent: set[str]) -> bool:
    """Whether ``tag_id`` is (or belongs to a family) in ``dependent``."""
    return tag_id in dependent or any(d.endswith(":") and tag_id.startswith(d) for d in dependent)


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    if not len(a):
        return 0.0
    return float(np.nanmax(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _components(store) -> tuple[int, int]:
    """Connected components of the stored relations (scipy): count and largest size."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids = store.read_table("customers", ["customer_id"]).column(0).to_pandas()
    index = pd.Series(np.arange(len(ids)), index=ids)
    rel = store.read_table("relations", ["src_id", "dst_id"]).to_pandas()
    rel = rel[rel["src_id"].isin(index.index) & rel["dst_id"].isin(index.index)]
    a, b = index[rel["src_id"]].to_numpy(), index[rel["dst_id"]].to_numpy()
    m = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(ids), len(ids)))
    n, labels = connected_components(m, directed=False)
    return int(n), int(np.bincount(labels).max()) if len(labels) else 0


def _kept_rows(src: Path, store) -> None:
    """How many repeated relation keys the load kept another row of than the file's first."""
    import pyarrow.parquet as pq

    key = ["src_id", "dst_id", "type", "occurred_at"]
    cols = [*key, "amount", "count", "channel"]
    raw = pq.read_table(src / "relations.parquet", columns=cols).to_pandas()
    first = raw[raw.duplicated(key, keep=False)].drop_duplicates(key, keep="first")
    kept = store.read_table("relations", cols).to_pandas()
    for df in (first, kept):
        df["occurred_at"] = pd.to_datetime(df["occurred_at"]).astype("datetime64[us]")
    m = first.merge(kept, on=key, suffixes=("_f", "_k"))
    other = np.zeros(len(m), bool)
    for c in ("amount", "count", "channel"):
        other |= ~((m[f"{c}_f"] == m[f"{c}_k"]) | (m[f"{c}_f"].isna() & m[f"{c}_k"].isna()))
    print(
        f"repeated relation keys: {len(first):,}; the local load kept another row than the "
        f"file's first for {int(other.sum()):,} (spark keeps the file's first)"
    )


def _validation(report, spark_report) -> None:
    want = report.as_dict()
    print("\n## validation (guanxi load vs spark validation)\n")
    print("| table | read | loaded | quarantined | inserted (first per key) | same |")
    print("|---|---|---|---|---|---|")
    for name, w in want["tables"].items():
        g = spark_report["tables"].get(name, {})
        same = all(g.get(k) == w[k] for k in ("read", "loaded", "quarantined", "inserted"))
        print(
            f"| {name} | {w['read']:,} | {w['loaded']:,} | {w['quarantined']:,} | "
            f"{w['inserted']:,} | {'identical' if same else f'DIFFERS: spark {g}'} |"
        )
    same = want["reasons"] == spark_report["reasons"]
    print(f"\nreasons: {want['reasons'] or 'none'}: {'identical' if same else 'DIFFER'}")
    if not same:
        print(f"spark reasons: {spark_report['reasons']}")


def _features(local: pd.DataFrame, got: pd.DataFrame) -> None:
    print("\n## features (local engine vs spark SQL)\n")
    local = local.sort_values("customer_id").reset_index(drop=True)
    got = got.sort_values("customer_id").reset_index(drop=True)
    same_ids = got["customer_id"].tolist() == local["customer_id"].tolist()
    cols = [c for c in local.columns if c != "customer_id"]
    missing = sorted(set(cols) - set(got.columns))
    exact, close, differ = [], [], []
    for c in cols:
        if c in missing:
            continue
        a, b = got[c], local[c]
        if a.dtype.kind in "fiub" and b.dtype.kind in "fiub":
            a, b = a.to_numpy(float), b.to_numpy(float)
            if np.array_equal(a, b, equal_nan=True):
                exact.append(c)
            elif np.array_equal(np.isnan(a), np.isnan(b)) and _rel(a, b) <= 1e-9:
                close.append((c, _rel(a, b)))
            else:
                differ.append((c, _rel(a, b), float(np.mean(~np.isclose(a, b, equal_nan=True)))))
        elif (
            a.astype(object).where(a.notna(), None).tolist()
            == b.astype(object).where(b.notna(), None).tolist()
        ):
            exact.append(c)
        else:
            differ.append((c, float("nan"), float((a.astype(str) != b.astype(str)).mean())))
    metric = set(METRIC_COLUMNS) | {"community_id", "community_size"}
    print(f"customers: {len(local):,}, same ids: {same_ids}; columns: {len(cols)}")
    print(f"exact: {len(exact)}; within 1e-9 relative: {len(close)}; differ: {len(differ)}")
    if missing:
        print(f"missing from spark: {missing}")
    for c, r in close:
        print(f"| {c} | max rel diff {r:.1e} |{' (metric)' if c in metric else ''}")
    for c, r, share in differ:
        kind = " (from a metric or the communities)" if c in metric else ""
        print(f"| {c} | DIFFERS on {share:.3%} of customers, max rel diff {r:.1e} |{kind}")


def _tags(local: pd.DataFrame, got: pd.DataFrame) -> None:
    print("\n## tags not depending on community detection (local rules vs compiled SQL)\n")
    dependent = community_dependent(default_catalog())
    key = ["customer_id", "tag_id"]
    keep = [~df["tag_id"].map(lambda t: depends(t, dependent)) for df in (local, got)]
    want = local[keep[0]].sort_values(key).reset_index(drop=True)
    have = got[keep[1]].sort_values(key).reset_index(drop=True)
    m = want.merge(have, on=key, how="outer", suffixes=("_l", "_s"), indicator=True)
    both = m[m["_merge"] == "both"]
    print(f"tags compared: {want['tag_id'].nunique()} (left out as community-dependent: "
          f"{sorted(dependent)})")  # fmt: skip
    print(f"assignments: local {len(want):,}, spark {len(have):,}, "
          f"only local {int((m['_merge'] == 'left_only').sum())}, "
          f"only spark {int((m['_merge'] == 'right_only').sum())}")  # fmt: skip
    score = np.abs(both["score_l"].to_numpy(float) - both["score_s"].to_numpy(float))
    print(f"scores: max abs diff {np.nanmax(score) if len(score) else 0:.1e}")
    bad = both[both["reason_l"] != both["reason_s"]]
    print(f"reasons: {len(both) - len(bad):,} identical, {len(bad)} differ")
    for _, r in bad.head(5).iterrows():
        print(f"  {r['customer_id']} {r['tag_id']}: local {r['reason_l']!r} / spark "
              f"{r['reason_s']!r}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--budget-mb", type=int, default=Settings().spark_driver_budget_mb)
    ap.add_argument("--driver-memory", default="3g")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    d = args.dir or Path(tempfile.mkdtemp(prefix="guanxi-contract-"))
    src = d / "input"
    write_dataset(generate(args.customers, seed=3), src, fmt="parquet")

    t = time.perf_counter()
    ref = open_store(f"duckdb:///{d / 'local.duckdb'}")
    report = load_folder(ref, src, quarantine_dir=d / "q")
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    run = analyze(ref, seed=7).run
    t_local = time.perf_counter() - t
    local = ref.read_metrics(run.run_id).sort_values("customer_id").reset_index(drop=True)
    lengine = get_engine("local")
    t = time.perf_counter()
    lfeat = lengine.features(ref, ref.read_metrics(run.run_id), as_of=run.params["as_of"])
    ltags = lengine.tags(lfeat, default_catalog(), run_id=run.run_id).assignments
    t_local_tags = time.perf_counter() - t

    jar, _ = build_jar(Settings().spark_cache_dir)
    spark = start_session(args.master, {"spark.driver.memory": args.driver_memory}, jars=[jar])
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
    t = time.perf_counter()
    sfeat = eng.features(target, res.metrics, as_of=proj.params.as_of)
    stags = eng.tags(sfeat, default_catalog(), run_id=run.run_id).assignments.toPandas()
    sfeat = sfeat.toPandas()
    t_spark_tags = time.perf_counter() - t

    print(f"customers {args.customers:,}, ties {res.stats['n_edges']:,}, master {args.master}")
    _validation(report, eng.validation_report())
    _kept_rows(src, ref)
    _features(lfeat, sfeat)
    _tags(ltags, stags)
    print("\n## graph metrics (local engine vs spark)\n")
    print("| metric | agreement |\n|---|---|")
    for col in EXACT:
        same = bool((got[col].to_numpy() == local[col].to_numpy()).all())
        print(f"| {col} | {'exact' if same else 'DIFFERS'} |")
    for col in CLOSE:
        a, b = got[col].to_numpy(float), local[col].to_numpy(float)
        exact = " (exact)" if np.array_equal(a, b) else ""
        print(f"| {col} | max rel diff {_rel(a, b):.2e}{exact} |")
    pr, ref_pr = got["pagerank"].to_numpy(), local["pagerank"].to_numpy()
    print(
        f"| pagerank | Spearman {spearmanr(pr, ref_pr).statistic:.6f}, max rel diff "
        f"{np.max(np.abs(pr - ref_pr) / ref_pr):.2e}, {res.stats['pagerank_iterations']} steps |"
    )
    n_comp, largest = _components(ref)
    comp = (res.stats["n_components"], res.stats["largest_component"]) == (n_comp, largest)
    print(
        f"| components | {res.stats['n_components']:,} (largest {res.stats['largest_component']:,})"
        f" {'exact' if comp else f'DIFFERS: scipy {n_comp:,} (largest {largest:,})'} |"
    )
    same_comm = float((got["community_id"] == local["community_id"]).mean())
    print(f"| communities ({res.stats['method']}) | {same_comm:.4%} of customers same id |")
    print(
        f"| modularity | leiden {run.stats['modularity']:.4f}, label propagation "
        f"{res.stats['label_propagation_modularity']:.4f} |"
    )
    print(
        f"\nlocal: load {t_load:.1f}s, analyze {t_local:.1f}s, features+tags {t_local_tags:.1f}s;"
        f" spark validate+project+metrics {t_spark:.1f}s, features+tags {t_spark_tags:.1f}s"
    )
    print("spark graph stages:", res.stats["timings"])
    print("left out:", res.stats["left_out"] or "none")
    spark.stop()


if __name__ == "__main__":
    main()
