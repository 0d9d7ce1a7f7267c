"""The GDS benchmark's data: generate the data set once and load it into the Neo4j store.

What it holds: the untimed preparation, which reuses a generated folder that matches and a
store that already holds the data set.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def ensure_data(customers: int, data_dir: Path, say: Callable[[str], None]) -> dict:
    """Generate ``customers`` (seed 7) into ``data_dir`` unless that exact set is there."""
    from loaders.generate import generate, write_dataset

    marker = data_dir / "generated.json"
    want = {"customers": int(customers), "seed": 7}
    if marker.is_file():
        with contextlib.suppress(ValueError):
            if json.loads(marker.read_text()) == want:
                return {"reused": True}
    say(f"generating {customers:,} customers into {data_dir}")
    t = time.perf_counter()
    write_dataset(generate(customers, seed=7), data_dir)
    marker.write_text(json.dumps(want))
    return {"reused": False, "generate_s": round(time.perf_counter() - t, 2)}


def ensure_loaded(
    store: Any, customers: int, data_dir: Path, *, own_server: bool, say: Callable[[str], None]
) -> dict:
    """Load ``data_dir`` into ``store`` when the store does not hold that data set."""
    from loaders.ingest import load_folder

    have = store.counts().get("customers", 0)
    if have == customers:
        return {"loaded": False, "customers_in_store": have}
    if have and not own_server:
        say(f"the store holds {have:,} customers (asked {customers:,}): using it as it is")
        return {"loaded": False, "customers_in_store": have}
    if have:
        say(f"the local server holds {have:,} customers: clearing it")
        store.clear()
    say(f"loading {data_dir} into Neo4j")
    t = time.perf_counter()
    report = load_folder(store, data_dir, quarantine_dir=data_dir / "quarantine")
    load_s = time.perf_counter() - t
    rows = {k: v.loaded for k, v in report.tables.items()}
    return {
        "loaded": True,
        "load_s": round(load_s, 2),
        "rows": rows,
        "customers_in_store": store.counts().get("customers", 0),
    }
