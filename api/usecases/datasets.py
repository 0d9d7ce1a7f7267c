"""Sample data: the generator behind `guanxi generate` and the demo."""

from __future__ import annotations

import time
from pathlib import Path

from loaders.generate import generate, write_dataset


def generate_dataset(customers: int, *, seed: int, out: Path, fmt: str = "csv") -> dict:
    t0 = time.perf_counter()
    data = generate(customers, seed=seed)
    t1 = time.perf_counter()
    paths = write_dataset(data, out, fmt=fmt)
    t2 = time.perf_counter()
    rows = {name: t.num_rows for name, t in data.tables().items()}
    return {
        "out": str(out),
        "files": {k: str(v) for k, v in paths.items()},
        "rows": rows,
        "generate_s": round(t1 - t0, 3),
        "write_s": round(t2 - t1, 3),
    }
