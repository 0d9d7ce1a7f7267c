"""Validation with only the required columns and any subset of the optional ones (pure half).

Why: `validate_table` builds its SQL from the columns present; a table with no column besides
its id once produced ``hash()`` with no argument. Hypothesis draws the subsets; the reference
is the validation of the same rows with every column, restricted to the drawn ones.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.model import REQUIRED, SCHEMAS, TABLES
from loaders.generate import generate
from loaders.specs import contract_columns
from loaders.validate import validate_table

DATA = generate(60, seed=11)


def _text(name: str) -> pa.Table:
    t = DATA.tables()[name]
    cols = {c: t.column(c).cast(pa.string()) for c in t.column_names}
    rows = pa.array(range(1, t.num_rows + 1), pa.int64())
    return pa.table({**cols, "_row": rows})


TEXT = {n: _text(n) for n in TABLES}
KNOWN = DATA.customers.column("customer_id").combine_chunks()
FULL = {n: validate_table(n, TEXT[n], file=f"{n}.csv", known_customers=KNOWN) for n in TABLES}


@st.composite
def table_and_subset(draw) -> tuple[str, list[str]]:
    name = draw(st.sampled_from(TABLES))
    optional = [c for c in TEXT[name].column_names if c not in (*REQUIRED[name], "_row")]
    keep = draw(st.lists(st.sampled_from(optional), unique=True)) if optional else []
    return name, keep


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table_and_subset())
def test_any_optional_subset_validates_like_the_full_table(case) -> None:
    name, keep = case
    raw = TEXT[name].select([*REQUIRED[name], *keep, "_row"])
    res = validate_table(name, raw, file=f"{name}.csv", known_customers=KNOWN)
    assert FULL[name].quarantined.num_rows == 0
    assert res.quarantined.num_rows == 0
    assert res.valid.schema == SCHEMAS[name].append(pa.field("_pos", pa.int64()))
    present = [c for c in contract_columns(name) if c in (*REQUIRED[name], *keep)]
    # validation keeps no row order, so both sides are sorted on every compared column
    order = [(c, "ascending") for c in present]
    got = res.valid.select(present).sort_by(order)
    want = FULL[name].valid.select(present).sort_by(order)
    assert got.equals(want)
    for c in contract_columns(name):
        if c not in present:
            assert res.valid.column(c).null_count == res.valid.num_rows, c


@pytest.mark.parametrize(
    ("header", "rows", "quarantined"),
    [
        # the id alone: a repeated id is the same row again, never a conflict
        (["customer_id"], [["C1"], ["C2"], ["C1"]], []),
        # with one more column, a repeat with another value conflicts
        (["customer_id", "city"], [["C1", "a"], ["C2", "b"], ["C1", "c"]], [3]),
        (["customer_id", "city"], [["C1", "a"], ["C2", "b"], ["C1", "a"]], []),
    ],
)
def test_repeated_ids_with_and_without_content_columns(header, rows, quarantined) -> None:
    cols = {h: [r[i] for r in rows] for i, h in enumerate(header)}
    raw = pa.table({**cols, "_row": pa.array(range(1, len(rows) + 1), pa.int64())})
    res = validate_table("customers", raw, file="customers.csv")
    assert res.quarantined.column("row").to_pylist() == quarantined
    assert res.read == len(rows)
