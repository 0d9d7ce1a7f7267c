"""The sample data looks like a bank's customer base and plants what later stages must find."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from api.usecases import load, open_configured_store
from loaders.generate import generate, generate_blocks, write_dataset


def test_same_seed_same_output_and_different_seed_differs():
    a, b, c = generate(300, seed=5), generate(300, seed=5), generate(300, seed=6)
    for name in ("customers", "relations", "transactions", "events"):
        assert a.tables()[name].equals(b.tables()[name])
    assert not a.relations.equals(c.relations)


def test_files_are_byte_identical_for_the_same_seed(tmp_path):
    write_dataset(generate(300, seed=5), tmp_path / "a")
    write_dataset(generate(300, seed=5), tmp_path / "b")
    for name in ("customers", "relations", "transactions", "events", "ground_truth"):
        assert (tmp_path / "a" / f"{name}.csv").read_bytes() == (
            tmp_path / "b" / f"{name}.csv"
        ).read_bytes()


def test_degree_is_heavy_tailed(small_data):
    rel = small_data.relations.to_pandas()
    deg = pd.concat([rel.src_id, rel.dst_id]).value_counts()
    # a hub has many times the median degree, as in real interaction graphs
    assert deg.max() > 8 * deg.median()
    assert deg.quantile(0.99) > 3 * deg.median()


def test_communities_are_homophilous(small_data):
    cust = small_data.customers.to_pandas().set_index("customer_id")
    truth = small_data.truth.to_pandas().set_index("customer_id")
    rel = small_data.relations.to_pandas()
    rel = rel[rel.type != "referral"]
    same_comm = (
        truth.planted_community.loc[rel.src_id].to_numpy()
        == truth.planted_community.loc[rel.dst_id].to_numpy()
    )
    assert same_comm.mean() > 0.7
    # members share a city far more often than two random customers do
    city = cust.city
    within = (city.loc[rel.src_id].to_numpy() == city.loc[rel.dst_id].to_numpy())[same_comm]
    rng = np.random.default_rng(0)
    a, b = rng.choice(city.to_numpy(), 5000), rng.choice(city.to_numpy(), 5000)
    assert within.mean() > 2 * (a == b).mean()


def test_planted_roles_exist(small_data):
    t = small_data.truth.to_pandas()
    assert t.super_referrer.sum() >= 5
    assert (t.fraud_ring >= 0).sum() >= 12
    assert 0.03 < t.churner.mean() < 0.2
    assert 0.05 < (~t.marketing_consent).mean() < 0.3
    rel = small_data.relations.to_pandas()
    refs = rel[rel.type == "referral"].src_id.value_counts()
    supers = t.customer_id[t.super_referrer]
    assert refs.reindex(supers).fillna(0).min() >= 10
    ev = small_data.events.to_pandas()
    ring = t.customer_id[t.fraud_ring == 0]
    shared = ev[ev.customer_id.isin(ring) & ev.device_id.notna()]
    per_device = shared.groupby("device_id").customer_id.nunique()
    assert per_device.max() == len(ring)  # the whole ring logs in from one device


def test_pii_formats(small_data):
    c = small_data.customers.to_pandas()
    assert c.phone.str.fullmatch(r"1[3-9]\d{9}").all()
    assert c.id_number.str.fullmatch(r"\d{17}[\dX]").all()
    # the resident id check digit (ISO 7064 MOD 11-2) is valid
    w = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    digits = np.array([[int(ch) for ch in s[:17]] for s in c.id_number])
    check = np.array(list("10X98765432"))[(digits * w).sum(axis=1) % 11]
    assert (check == c.id_number.str[-1].to_numpy()).all()
    assert c.name.str.len().between(2, 3).all()


def test_blocks_up_to_the_block_size_are_the_one_piece_dataset():
    (only,) = generate_blocks(300, seed=5, block=300)
    whole = generate(300, seed=5)
    for name, table in whole.tables().items():
        assert only.tables()[name].equals(table)


def test_blocks_number_one_population_and_bridge_it(tmp_path):
    """Three blocks of ~1,000 and the bridge block: one population as the loader sees it."""
    blocks = list(generate_blocks(3100, seed=5, block=1100))
    assert [b.customers.num_rows for b in blocks] == [1034, 1033, 1033, 0]
    ids = pa.concat_tables([b.customers for b in blocks]).column("customer_id")
    assert len(pc.unique(ids)) == 3100
    assert set(ids.to_pylist()) == {f"C{i:04d}" for i in range(3100)}
    truth = pa.concat_tables([b.truth for b in blocks]).to_pandas()
    # communities and fraud rings are numbered across blocks, never shared by two
    block_of = np.repeat(np.arange(3), [1034, 1033, 1033])
    assert truth.groupby("planted_community").apply(lambda g: np.ptp(block_of[g.index])).max() == 0
    rings = truth[truth.fraud_ring >= 0]
    assert rings.groupby("fraud_ring").apply(lambda g: np.ptp(block_of[g.index])).max() == 0
    assert rings.fraud_ring.nunique() == 3 * 3  # max(3, n // 5000) per block
    # the bridges join customers of different blocks: whose ids fall in different ranges
    bridges = blocks[-1].relations.to_pandas()
    assert len(bridges) > 0.45 * 3100
    index = {c: i for i, c in enumerate(ids.to_pylist())}
    src_block = bridges.src_id.map(index).map(lambda i: block_of[i])
    dst_block = bridges.dst_id.map(index).map(lambda i: block_of[i])
    assert (src_block != dst_block).mean() > 0.5
    # written and loaded: every row of every block is good
    write_dataset(iter(blocks), tmp_path / "d", fmt="parquet")
    with open_configured_store(f"duckdb:///{tmp_path / 's.duckdb'}") as store:
        report = load(store, tmp_path / "d")
        assert store.counts()["customers"] == 3100
    for name, table in report.tables.items():
        expected = sum(b.tables()[name].num_rows for b in blocks)
        assert (table.read, table.quarantined) == (expected, 0), name
