"""A local Neo4j server of the bulk-import tests' own, and the data they import.

Why a server of their own: `guanxi neo4j import --dir D` stops the server at D and replaces
its database, so it must never be the server the other Neo4j tests use (``NEO4J_URI``, CI's).
It lives in a fixed folder under pytest's base temporary directory, so the test modules that
import this fixture share one server per session (a start costs 30-60 s): `start` returns the
running server of a folder as it is. It is stopped at the end of the session.

The data: the generator's tables plus one known defect per bad row, so the quarantine counts
and reasons of the import can be compared with those of ``guanxi load`` on the same folder.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci import IN_CI

#: Customers of the imported data: a few thousand, as the brief of the import asks.
CUSTOMERS = 3000
#: Defective rows appended to the generated files, one known reason each.
BAD_ROWS = {
    "customers": [
        # the same id as a generated customer with other values: duplicate_customer_conflict
        '"C0000001","dup","1","2","F","1990-01-01","x","y","low","normal","single",1.0,'
        '"2026-01-16T20:25:52","app",false,"A"'
    ],
    "relations": [
        "C0000001,NOPE999,like,2026-01-01T00:00:00,,1,app",  # unknown_customer
        "C0000001,C0000001,like,2026-01-01T00:00:00,,1,app",  # self_relation
    ],
    "transactions": ["C0000001,not-a-date,10.0,,,,"],  # bad_timestamp
    "events": ["C0000002,2026-01-01T00:00:00,teleport,,,,"],  # unknown_event_type
}
#: The quarantine reasons `BAD_ROWS` must give, per table (the ground truth of the defects).
BAD_REASONS = {
    "customers": {"duplicate_customer_conflict": 1},
    "relations": {"unknown_customer": 1, "self_relation": 1},
    "transactions": {"bad_timestamp": 1},
    "events": {"unknown_event_type": 1},
}
#: Valid rows whose values test the importer files' quoting: a line break, quotes, a comma.
AWKWARD_ROWS = {
    "events": ['C0000003,2026-01-02T00:00:00,login,,,,"line1\nline2 ""quoted"", comma"'],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_import_data(folder: Path, *, customers: int = CUSTOMERS, seed: int = 11) -> Path:
    """Generated tables (CSV) with `BAD_ROWS` and `AWKWARD_ROWS` appended; returns `folder`."""
    from loaders.generate import generate, write_dataset

    write_dataset(generate(customers, seed=seed), folder, fmt="csv")
    for rows in (BAD_ROWS, AWKWARD_ROWS):
        for name, lines in rows.items():
            with (folder / f"{name}.csv").open("a", encoding="utf-8") as fh:
                fh.write("".join(r + "\n" for r in lines))
    return folder


def split_delta(data, *, fraction: float = 0.01, seed: int = 0) -> tuple:
    """(base, delta, combined) of a generated dataset, for a daily delta after a bulk import.

    ``combined`` is `data` with the changed customers' new values; ``base`` lacks the new
    customers (half of ``fraction`` of them, with their transactions, events and relations)
    and ``fraction`` of the other relations; ``delta`` holds exactly what ``base`` lacks and
    the changed customers (the other half, ``aum`` raised by 1) with their new values. So
    ``base`` then ``delta`` loaded is ``combined``, the ground truth the test compares with.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from loaders.generate import GeneratedData

    rng = np.random.default_rng(seed)
    customers = data.customers
    ids = customers.column("customer_id")
    k = max(2, int(len(ids) * fraction))
    pick = rng.choice(len(ids), size=k, replace=False)
    new = pc.take(ids, pa.array(pick[: k // 2]))
    changed = pc.is_in(ids, value_set=pc.take(ids, pa.array(pick[k // 2 :])))
    aum = pc.if_else(changed, pc.add(customers.column("aum"), 1.0), customers.column("aum"))
    combined_customers = customers.set_column(customers.schema.get_field_index("aum"), "aum", aum)
    is_new = pc.is_in(ids, value_set=new)
    rel = data.relations
    # of the other relations, only some whose natural key is unique move: of two rows with
    # one key the first loaded wins, which must be the same one in both orders
    key = ["src_id", "dst_id", "type", "occurred_at"]
    n = rel.select(key).group_by(key).aggregate([([], "count_all")])
    once = n.filter(pc.equal(n["count_all"], 1)).drop_columns(["count_all"])
    unique = pc.is_in(
        pc.binary_join_element_wise(*[pc.cast(rel[k], pa.string()) for k in key], "|"),
        value_set=pc.binary_join_element_wise(*[pc.cast(once[k], pa.string()) for k in key], "|"),
    )
    moved = pc.or_(
        pc.or_(pc.is_in(rel["src_id"], value_set=new), pc.is_in(rel["dst_id"], value_set=new)),
        pc.and_(pc.fill_null(unique, False), pa.array(rng.random(rel.num_rows) < fraction)),
    )

    def split(table: pa.Table) -> tuple[pa.Table, pa.Table]:
        mine = pc.is_in(table["customer_id"], value_set=new)
        return table.filter(pc.invert(mine)), table.filter(mine)

    tx, ev = split(data.transactions), split(data.events)
    base = GeneratedData(
        customers.filter(pc.invert(is_new)), rel.filter(pc.invert(moved)), tx[0], ev[0], data.truth
    )
    delta = GeneratedData(
        combined_customers.filter(pc.or_(is_new, changed)),
        rel.filter(moved),
        tx[1],
        ev[1],
        data.truth,
    )
    combined = GeneratedData(combined_customers, rel, data.transactions, data.events, data.truth)
    return base, delta, combined


@pytest.fixture(scope="session")
def import_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The import tests' own running local server: ``start``'s info (``dir`` included)."""
    missing = [t for t in ("java", "mvn") if shutil.which(t) is None]
    if missing:
        reason = f"{' and '.join(missing)} not on PATH: no local Neo4j for the import tests"
        if IN_CI:
            pytest.fail(f"CI=true requires the local Neo4j: {reason}")
        pytest.skip(reason)
    from graph.store import neo4j_local

    home = tmp_path_factory.getbasetemp() / "neo4j-import-server"
    info = neo4j_local.start(
        home,
        bolt_port=_free_port(),
        http_port=_free_port(),
        heap=os.environ.get("GUANXI_NEO4J_HEAP") or "1g",
        pagecache="256m",
        timeout=300,
    )
    try:
        yield info
    finally:
        neo4j_local.stop(home)
