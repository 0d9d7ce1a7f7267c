"""Sample data: the generator behind `guanxi generate` and the demo."""

from __future__ import annotations

import time
from pathlib import Path

from loaders.generate import DatasetWriter, generate_blocks
from loaders.referral_history import HISTORY_FILE, TRUTH_FILE, simulate_history


def generate_dataset(
    customers: int, *, seed: int, out: Path, fmt: str = "csv", campaigns: int = 24
) -> dict:
    """Write the four tables and ground truth, and with ``campaigns`` > 0 a simulated
    referral history (``referral_history``) with its hidden probabilities
    (``referral_truth``) for ``guanxi learn-probabilities``.

    Above :data:`loaders.generate.BLOCK_CUSTOMERS` customers the data are generated and
    written block by block (:func:`loaders.generate.generate_blocks`), so memory stays one
    block's; each block's customers run the same campaigns (a national campaign seeded in
    every region).
    """
    gen_s = write_s = 0.0
    rows: dict[str, int] = {}
    with DatasetWriter(out, fmt) as writer:
        t0 = time.perf_counter()
        for data in generate_blocks(customers, seed=seed):
            has_customers = data.customers.num_rows > 0
            history = (
                simulate_history(data, campaigns=campaigns, seed=seed)
                if campaigns > 0 and has_customers
                else None
            )
            t1 = time.perf_counter()
            tables = {**data.tables(), "ground_truth": data.truth}
            if history is not None:
                tables.update(zip((HISTORY_FILE, TRUTH_FILE), history, strict=True))
            for name, table in tables.items():
                writer.write(name, table)
                if name not in ("ground_truth", TRUTH_FILE):
                    rows[name] = rows.get(name, 0) + table.num_rows
            gen_s += t1 - t0
            t0 = time.perf_counter()
            write_s += t0 - t1
            del data, history, tables
    return {
        "out": str(out),
        "files": {k: str(v) for k, v in writer.paths.items()},
        "rows": rows,
        "generate_s": round(gen_s, 3),
        "write_s": round(write_s, 3),
    }
