"""Sample data: the generator behind `guanxi generate` and the demo."""

from __future__ import annotations

import time
from pathlib import Path

from loaders.generate import generate, write_dataset, write_table
from loaders.referral_history import HISTORY_FILE, TRUTH_FILE, simulate_history


def generate_dataset(
    customers: int, *, seed: int, out: Path, fmt: str = "csv", campaigns: int = 24
) -> dict:
    """Write the four tables and ground truth, and with ``campaigns`` > 0 a simulated
    referral history (``referral_history``) with its hidden probabilities
    (``referral_truth``) for ``guanxi learn-probabilities``."""
    t0 = time.perf_counter()
    data = generate(customers, seed=seed)
    history = simulate_history(data, campaigns=campaigns, seed=seed) if campaigns > 0 else None
    t1 = time.perf_counter()
    paths = write_dataset(data, out, fmt=fmt)
    if history is not None:
        for name, table in zip((HISTORY_FILE, TRUTH_FILE), history, strict=True):
            paths[name] = write_table(table, out / f"{name}.{fmt}")
    t2 = time.perf_counter()
    rows = {name: t.num_rows for name, t in data.tables().items()}
    if history is not None:
        rows[HISTORY_FILE] = history[0].num_rows
    return {
        "out": str(out),
        "files": {k: str(v) for k, v in paths.items()},
        "rows": rows,
        "generate_s": round(t1 - t0, 3),
        "write_s": round(t2 - t1, 3),
    }
