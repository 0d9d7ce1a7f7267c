"""Randomised contract-shaped tables with planted truth, for coverage and speed tests.

Vectorised (numpy + Arrow), so a million customers take seconds. Planted:

- super-referrers (0.5%): 10-20 direct referrals, 20-80 downstream;
- fraud rings (about 1% of customers) of 4-8 accounts sharing 1-2 devices;
- churners (8%): several purchases and logins, then nothing for the last 190-400 days.

Ordinary customers also share devices in households (2 accounts) and public kiosks
(100 accounts), which must not look like fraud.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

AS_OF = datetime(2025, 1, 1)
_US = 1_000_000
_DAY = 86400 * _US
CATEGORIES = np.array(
    ["wealth_management", "insurance", "credit_card", "fund", "deposit", "loan", "gold", "forex"]
)
TOPICS = np.array(["investment", "retirement", "education", "travel", "insurance", "tech"])
BRANDS = np.array([f"brand_{i:02d}" for i in range(30)])


@dataclass
class Synthetic:
    customers: pa.Table
    transactions: pa.Table
    events: pa.Table
    metrics: pd.DataFrame
    super_referrers: set[str]
    fraud: set[str]
    churners: set[str]


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype("int64"), type=pa.timestamp("us"))


def make_synthetic(
    n: int, *, seed: int = 0, txn_per_customer: float = 8.0, events_per_customer: float = 14.0
) -> Synthetic:
    rng = np.random.default_rng(seed)
    as_of_us = int((AS_OF - datetime(1970, 1, 1)).total_seconds()) * _US
    ids_np = np.char.add("C", np.char.zfill(np.arange(n).astype(str), 7))
    ids = pa.array(ids_np, type=pa.string())

    churn = rng.random(n) < 0.08
    potential = (rng.random(n) < 0.12) & ~churn
    registered = as_of_us - (rng.uniform(1, 1100, n) * _DAY).astype("int64")
    registered[churn] = as_of_us - (rng.uniform(450, 1100, churn.sum()) * _DAY).astype("int64")
    end = np.full(n, as_of_us, dtype="int64")
    end[churn] = as_of_us - (rng.uniform(190, 400, churn.sum()) * _DAY).astype("int64")

    intensity = rng.lognormal(0.0, 0.7, n)
    levels = np.array(["standard", "silver", "gold", "platinum"])
    incomes = np.array(["low", "medium", "high", "very_high"])
    marital = np.array(["single", "married", "divorced"])
    customers = pa.table(
        {
            "customer_id": ids,
            "age": pa.array(rng.integers(18, 86, n), type=pa.int32()),
            "member_level": pa.array(levels[rng.choice(4, n, p=[0.6, 0.25, 0.1, 0.05])]),
            "income_level": pa.array(incomes[rng.choice(4, n, p=[0.3, 0.45, 0.2, 0.05])]),
            "marital_status": pa.array(marital[rng.choice(3, n, p=[0.4, 0.5, 0.1])]),
            "aum": pa.array(rng.lognormal(11, 1.5, n)),
            "registered_at": _ts(registered),
        }
    )

    # transactions
    k = rng.poisson(txn_per_customer * intensity)
    k[potential] = 0
    k[churn] = np.maximum(k[churn], 4)
    owner = np.repeat(np.arange(n), k)
    m = owner.size
    start = registered[owner]
    t = start + (rng.random(m) * (end[owner] - start)).astype("int64")
    fav = rng.integers(0, len(CATEGORIES), n)
    cat = np.where(rng.random(m) < 0.6, fav[owner], rng.integers(0, len(CATEGORIES), m))
    fav_brand = rng.integers(0, len(BRANDS), n)
    brand = np.where(rng.random(m) < 0.5, fav_brand[owner], rng.integers(0, len(BRANDS), m))
    promo_p = rng.beta(1.5, 4, n)
    channels = np.array(["mobile", "branch", "web"])
    mobile_p = rng.random(n)
    ch = np.where(rng.random(m) < mobile_p[owner], 0, rng.integers(1, 3, m))
    transactions = pa.table(
        {
            "customer_id": ids.take(pa.array(owner)),
            "occurred_at": _ts(t),
            "amount": pa.array(np.round(rng.lognormal(6, 1.2, m), 2)),
            "category": pa.array(CATEGORIES).take(pa.array(cat)),
            "brand": pa.array(BRANDS).take(pa.array(brand)),
            "promo": pa.array(rng.random(m) < promo_p[owner]),
            "channel": pa.array(channels).take(pa.array(ch)),
        }
    )

    # events: logins / page views / content views, some complaints and overdue notices
    ke = rng.poisson(events_per_customer * intensity)
    ke[churn] = np.maximum(ke[churn], 5)
    eo = np.repeat(np.arange(n), ke)
    me = eo.size
    et_start = registered[eo]
    et = et_start + (rng.random(me) * (end[eo] - et_start)).astype("int64")
    types = np.array(["login", "page_view", "content_view"])
    etype = rng.choice(3, me, p=[0.5, 0.3, 0.2])
    fav_topic = rng.integers(0, len(TOPICS), n)
    topic_idx = np.where(rng.random(me) < 0.7, fav_topic[eo], rng.integers(0, len(TOPICS), me))
    topic = np.where(etype == 2, TOPICS[topic_idx], None)
    # devices: own device, households share one (2 accounts), fraud rings share 1-2 devices
    device = eo.astype("int64")
    household = rng.random(n) < 0.05
    partner = np.where(household, np.arange(n) ^ 1, np.arange(n))  # pairs (2i, 2i+1)
    device = np.minimum(device, partner[eo])
    ring_member = np.zeros(n, dtype=bool)
    ring_device = np.full(n, -1, dtype="int64")
    ring_device2 = np.full(n, -1, dtype="int64")
    n_rings = max(1, n // 600)
    pool = rng.permutation(np.flatnonzero(~household))
    pos = 0
    sizes = rng.integers(4, 9, n_rings)
    for r, size in enumerate(sizes):
        members = pool[pos : pos + size]
        pos += size
        ring_member[members] = True
        ring_device[members] = n + 2 * r
        ring_device2[members] = np.where(rng.random(members.size) < 0.5, n + 2 * r + 1, -1)
    on_ring = ring_member[eo]
    use2 = on_ring & (ring_device2[eo] >= 0) & (rng.random(me) < 0.5)
    device = np.where(on_ring, np.where(use2, ring_device2[eo], ring_device[eo]), device)
    # ring accounts must actually use the ring device at least once: force first event
    first_of_owner = np.r_[True, eo[1:] != eo[:-1]]
    device = np.where(on_ring & first_of_owner, ring_device[eo], device)
    kiosk = rng.random(me) < 0.002
    device = np.where(kiosk & ~on_ring, 10 * n + rng.integers(0, max(1, n // 2000), me), device)
    dev_type = np.where(rng.random(me) < mobile_p[eo], "mobile", "desktop")

    risk = rng.random(n)
    extra_o = np.concatenate([np.flatnonzero(risk < 0.03), np.flatnonzero(risk > 0.96)])
    extra_t = np.where(np.arange(extra_o.size) < (risk < 0.03).sum(), "complaint", "overdue")
    extra_time = as_of_us - (rng.uniform(1, 300, extra_o.size) * _DAY).astype("int64")
    dev_ids = np.char.add("D", device.astype(str))
    events = pa.table(
        {
            "customer_id": pa.concat_arrays(
                [ids.take(pa.array(eo)), ids.take(pa.array(extra_o.astype("int64")))]
            ),
            "occurred_at": _ts(np.concatenate([et, extra_time])),
            "event_type": pa.array(np.concatenate([types[etype], extra_t])),
            "device_id": pa.array(
                np.concatenate([dev_ids, np.full(extra_o.size, None)]), type=pa.string()
            ),
            "device_type": pa.array(
                np.concatenate([dev_type, np.full(extra_o.size, None)]), type=pa.string()
            ),
            "topic": pa.array(
                np.concatenate([topic, np.full(extra_o.size, None)]), type=pa.string()
            ),
        }
    )

    # graph metrics
    deg = rng.poisson(4 * intensity)
    deg[rng.random(n) < 0.15] = 0
    indeg = rng.binomial(deg, 0.5)
    comm = rng.integers(0, max(1, n // 50), n).astype(str)
    pagerank = (0.15 + indeg * rng.uniform(0.5, 1.5, n)) / n
    direct = rng.poisson(0.3, n)
    downstream = direct + rng.poisson(direct * 0.7)
    sr = rng.random(n) < 0.005
    direct[sr] = rng.integers(10, 21, sr.sum())
    downstream[sr] = direct[sr] + rng.integers(10, 61, sr.sum())
    hub = rng.random(n) < 0.01
    indeg[hub] += rng.integers(10, 60, hub.sum())
    deg[hub] += indeg[hub]
    pagerank[hub] *= 5
    metrics = pd.DataFrame(
        {
            "customer_id": ids_np,
            "community_id": comm,
            "in_degree": indeg,
            "out_degree": deg - indeg,
            "degree": deg,
            "in_strength": indeg * rng.uniform(0.5, 3, n),
            "out_strength": (deg - indeg) * rng.uniform(0.5, 3, n),
            "pagerank": pagerank,
            "betweenness": np.where(deg > 0, rng.lognormal(0, 2, n), 0.0),
            "coreness": np.minimum(deg, rng.integers(0, 6, n)),
            "clustering": np.where(deg > 1, rng.random(n), np.nan),
            "constraint": np.where(deg > 0, rng.random(n), np.nan),
            "reach_2hop": deg * rng.integers(1, 10, n),
            "neighbor_communities": np.minimum(deg, rng.integers(0, 6, n)),
            "referrals_direct": direct,
            "referral_downstream": downstream,
            "referral_depth": np.where(downstream > direct, 2, np.sign(direct)),
            "community_pagerank_pct": rng.uniform(0, 100, n),
            "influence": pagerank * n * rng.uniform(0.5, 1.5, n) + downstream,
        }
    )
    return Synthetic(
        customers,
        transactions,
        events,
        metrics,
        super_referrers=set(ids_np[sr]),
        fraud=set(ids_np[ring_member]),
        churners=set(ids_np[churn]),
    )
