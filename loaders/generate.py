"""Realistic sample bank data: the four contract tables plus the planted ground truth.

The generator exists so that a newcomer can watch the product work, and so that later stages
can be scored against what was planted. It therefore plants the structures the product must
find, on top of a population that looks like a retail bank's customer base rather than
uniform noise:

- communities (sizes heavy-tailed) with homophily: members mostly share the community's city
  and age band, and most interactions stay inside the community;
- heavy-tailed degree: a few customers are very active senders, a few are very popular;
- referral trees, with a few planted super-referrers who each bring in dozens of customers;
- transactions with varied recency, frequency and amount, category and brand preference and
  promo behaviour; churned customers (activity stopped months ago) and declining ones;
- complainers, overdue credit, fraud rings (several accounts sharing devices and moving money
  among themselves), customers without marketing consent, and PII columns.

Everything is vectorised with numpy (one array per column), so a million customers and ten
million relations take well under a minute; the same seed gives byte-identical output.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Reference "today" of the generated world; fixed so that output never depends on the clock.
AS_OF = datetime(2026, 6, 30)
_DAY_US = 86_400 * 1_000_000

CITIES = np.array(
    [
        "上海", "北京", "深圳", "广州", "杭州", "成都", "南京", "武汉",
        "西安", "苏州", "天津", "重庆", "长沙", "青岛", "厦门", "合肥",
    ]
)  # fmt: skip
CITY_CODES = np.array(
    [
        "310101", "110101", "440301", "440101", "330102", "510104", "320102", "420102",
        "610102", "320502", "120101", "500101", "430102", "370202", "350203", "340102",
    ]
)  # fmt: skip
SURNAMES = np.array(
    list(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    )
)
GIVEN = np.array(
    list(
        "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红梅鹏飞宇浩然欣怡子涵梓轩雨桐"
    )
)
OCCUPATIONS = np.array(
    ["engineer", "teacher", "doctor", "civil_servant", "sales", "finance", "student",
     "self_employed", "worker", "designer", "manager", "retired"]
)  # fmt: skip
CATEGORIES = np.array(
    ["wealth_management", "insurance", "fund", "deposit", "credit_card", "loan",
     "dining", "travel", "shopping", "education"]
)  # fmt: skip
TOPICS = np.array(
    ["investment", "insurance", "travel", "education", "health", "retirement", "tech", "sports"]
)
BRANDS = np.array([f"{c}_brand_{b}" for c in CATEGORIES for b in range(4)])
CHANNELS_TX = np.array(["app", "branch", "web", "pos"])
REL_TYPES = np.array(["transfer", "like", "comment", "share", "message", "family", "colleague"])
REL_TYPE_P = np.array([0.15, 0.30, 0.14, 0.10, 0.22, 0.04, 0.05])
MOBILE_PREFIXES = np.array(["130", "131", "132", "135", "136", "137", "138", "139", "150", "151",
                            "158", "159", "177", "186", "187", "188", "189"])  # fmt: skip
AGE_BANDS = np.array([(18, 25), (25, 35), (35, 45), (45, 55), (55, 65), (65, 80)])
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))
#: Largest population generated in one piece; above it, :func:`generate_blocks` makes blocks.
BLOCK_CUSTOMERS = 1_000_000
#: Relations per customer between customers of different blocks (on top of ~10 inside).
BRIDGES_PER_CUSTOMER = 0.5


@dataclass(frozen=True)
class GeneratedData:
    """The four contract tables and the planted truth, as Arrow tables."""

    customers: pa.Table
    relations: pa.Table
    transactions: pa.Table
    events: pa.Table
    truth: pa.Table

    def tables(self) -> dict[str, pa.Table]:
        return {
            "customers": self.customers,
            "relations": self.relations,
            "transactions": self.transactions,
            "events": self.events,
        }


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(us.astype("int64"), type=pa.timestamp("us"))


def _iso(arr: pa.Array) -> pa.Array:
    # a cast is much cheaper than pc.strftime (no format parsing); ISO-8601 with a "T" separator
    text = pc.cast(pc.cast(arr, pa.timestamp("s"), safe=False), pa.string())
    return pc.replace_substring(text, " ", "T", max_replacements=1)


def _pick(values: np.ndarray, idx: np.ndarray) -> pa.Array:
    """values[idx] as an Arrow string array, gathered in C++ rather than as numpy unicode."""
    return pc.take(pa.array(values), pa.array(np.asarray(idx, dtype=np.int64)))


def _coded(prefix: str, nums: np.ndarray, width: int) -> pa.Array:
    """Strings like prefix + zero-padded number, built column-wise in Arrow."""
    digits = pc.utf8_lpad(
        pc.cast(pa.array(np.asarray(nums, dtype=np.int64)), pa.string()), width=width, padding="0"
    )
    return pc.binary_join_element_wise(prefix, digits, "")


def _digits(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """n strings of k random decimal digits, built column-wise (no per-row Python)."""
    d = rng.integers(0, 10, size=(n, k)).astype(np.uint8) + ord("0")
    return d.view(f"S{k}").ravel().astype(str)


def _weighted_pick_in_groups(
    rng: np.random.Generator,
    group: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    cum: np.ndarray,
) -> np.ndarray:
    """For each requested group, draw one member index weighted by popularity.

    Members are laid out contiguously by group; `cum` is the inclusive cumulative popularity.
    """
    lo = np.where(starts[group] > 0, cum[np.maximum(starts[group] - 1, 0)], 0.0)
    hi = cum[ends[group] - 1]
    target = lo + rng.random(len(group)) * (hi - lo)
    idx = np.searchsorted(cum, target, side="right")
    return np.clip(idx, starts[group], ends[group] - 1)


def generate(
    customers: int = 5000,
    *,
    seed: int = 7,
    relations_per_customer: float = 10.0,
) -> GeneratedData:
    """Generate a bank-like customer base with planted structure, in memory.

    Parameters
    ----------
    customers
        Number of customers (at least 50).
    seed
        Seed for every random draw; the same seed gives identical tables.
    relations_per_customer
        Average number of interaction rows per customer (referrals come on top).

    Returns
    -------
    GeneratedData
        Typed Arrow tables; `write_dataset` turns them into files.

    See Also
    --------
    generate_blocks : the same population in blocks, for sizes that do not fit in memory.
    """
    n = int(customers)
    if n < 50:
        raise ValueError("generate at least 50 customers")
    return _block(n, np.random.default_rng(seed), relations_per_customer, _Offsets(width=7))


def generate_blocks(
    customers: int,
    *,
    seed: int = 7,
    relations_per_customer: float = 10.0,
    block: int = BLOCK_CUSTOMERS,
) -> Iterator[GeneratedData]:
    """The population of :func:`generate`, one block of customers at a time.

    Up to ``block`` customers this yields exactly ``generate(customers, seed=seed)``. Above
    it, a generated bank is several regions (like a national bank's provinces) of at most
    ``block`` customers, each generated as :func:`generate` does with its own seed (so memory
    is one block's, ~6 GB per million customers, whatever the total), with ids, devices,
    communities and fraud rings numbered across blocks; then one last block holds only
    relations between customers of different regions (:data:`BRIDGES_PER_CUSTOMER` per
    customer), so the graph stays connected across them.

    Yields
    ------
    GeneratedData
        A block's tables; the last block of a multi-block population has relations only.
    """
    n = int(customers)
    if n <= block:
        yield generate(n, seed=seed, relations_per_customer=relations_per_customer)
        return
    k = -(-n // block)
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    at = _Offsets(width=len(str(n - 1)))
    for b, size in enumerate(sizes.tolist()):
        data = _block(size, np.random.default_rng([seed, b]), relations_per_customer, at)
        yield data
        truth = data.truth
        at = _Offsets(
            width=at.width,
            customers=at.customers + size,
            communities=int(pc.max(truth.column("planted_community")).as_py()) + 1,
            rings=int(pc.max(truth.column("fraud_ring")).as_py()) + 1,
        )
    rels = _bridges(n, np.random.default_rng([seed, k]), at.width)
    yield GeneratedData(
        *(t.schema.empty_table() for t in (data.customers,)),
        rels,
        *(t.schema.empty_table() for t in (data.transactions, data.events, data.truth)),
    )


@dataclass(frozen=True)
class _Offsets:
    """Where a block's numbering starts: ids, communities and fraud rings are global."""

    width: int  # digits of a customer id
    customers: int = 0
    communities: int = 0
    rings: int = 0


def _bridges(n: int, rng: np.random.Generator, width: int) -> pa.Table:
    """Relations between customers of different blocks, uniform over the population.

    A customer's id is ``C`` and their global number, so a uniform number is a uniform
    customer. Blocks are ranges of numbers; a pair inside one block is redrawn once and
    dropped if it lands in one block again.
    """
    as_of_us = int(AS_OF.timestamp() * 1_000_000)
    m = int(n * BRIDGES_PER_CUSTOMER)
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    m = src.size
    rtype = rng.choice(len(REL_TYPES), m, p=REL_TYPE_P)
    # contacts of the last few days (a referee may have registered yesterday: nothing checks)
    rel_us = as_of_us - (rng.exponential(2, m).clip(0, 4) * _DAY_US).astype(np.int64)
    amount = np.where(rtype == 0, np.round(rng.lognormal(7, 1.2, m), 2), np.nan)
    return pa.table(
        {
            "src_id": _coded("C", src, width),
            "dst_id": _coded("C", dst, width),
            "type": _pick(REL_TYPES, rtype),
            "occurred_at": _iso(_ts(rel_us)),
            "amount": pa.array(amount, from_pandas=True),
            "count": rng.geometric(0.6, m),
            "channel": _pick(np.array(["app", "wechat", "web", "branch"]), rng.choice(4, m)),
        }
    )


def _block(
    n: int, rng: np.random.Generator, relations_per_customer: float, at: _Offsets
) -> GeneratedData:
    """One population of ``n`` customers (see :func:`generate`), numbered from ``at``."""
    as_of_us = int(AS_OF.timestamp() * 1_000_000)

    # --- communities: heavy-tailed sizes, each with a home city and an age band -----------
    sizes = np.clip(rng.lognormal(mean=3.3, sigma=0.8, size=max(4, n // 20)), 8, 600).astype(int)
    sizes = sizes[np.cumsum(sizes) <= n]
    if sizes.sum() < n:
        sizes = np.append(sizes, n - sizes.sum())
    n_comm = len(sizes)
    comm = np.repeat(np.arange(n_comm), sizes)  # customers ordered by community
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ends = starts + sizes
    comm_city = rng.integers(0, len(CITIES), n_comm)
    comm_band = rng.choice(len(AGE_BANDS), n_comm, p=[0.12, 0.28, 0.25, 0.18, 0.11, 0.06])

    homophily = rng.random(n) < 0.75
    city_idx = np.where(homophily, comm_city[comm], rng.integers(0, len(CITIES), n))
    band = np.where(rng.random(n) < 0.75, comm_band[comm], rng.integers(0, len(AGE_BANDS), n))
    age = rng.integers(AGE_BANDS[band, 0], AGE_BANDS[band, 1])
    birth_us = as_of_us - (age * 365.25 + rng.integers(0, 365, n)) * _DAY_US

    # --- roles ------------------------------------------------------------------------------
    churner = rng.random(n) < 0.10
    decliner = (~churner) & (rng.random(n) < 0.10)
    complainer = rng.random(n) < 0.03
    overdue = rng.random(n) < 0.04
    consent = rng.random(n) < 0.85
    n_super = max(5, n // 1000)
    super_ref = np.zeros(n, dtype=bool)
    super_ref[rng.choice(n, n_super, replace=False)] = True

    # registration: most long-standing, some new; super-referrers are established customers
    tenure_days = rng.gamma(1.6, 420, n).clip(5, 3650)
    tenure_days[super_ref] = np.maximum(tenure_days[super_ref], 700)
    reg_us = as_of_us - (tenure_days * _DAY_US).astype(np.int64)

    # --- interactions: heavy-tailed senders and receivers, mostly within community --------
    activity = rng.pareto(1.8, n) + 0.2
    popularity = rng.pareto(1.6, n) + 0.2
    m = int(n * relations_per_customer)
    src = rng.choice(n, m, p=activity / activity.sum())
    inside = rng.random(m) < 0.85
    cum_pop = np.cumsum(popularity)
    dst = np.empty(m, dtype=np.int64)
    dst[inside] = _weighted_pick_in_groups(rng, comm[src[inside]], starts, ends, cum_pop)
    out = ~inside
    dst[out] = np.searchsorted(cum_pop, rng.random(out.sum()) * cum_pop[-1], side="right")
    dst = np.clip(dst, 0, n - 1)
    loop = src == dst
    dst[loop] = (dst[loop] + 1 + rng.integers(0, n - 1, loop.sum())) % n
    rtype = rng.choice(len(REL_TYPES), m, p=REL_TYPE_P)
    # recent interactions more frequent; churners' interactions stop ~8 months before as_of
    age_days = rng.exponential(160, m).clip(0, 720)
    age_days = np.where(churner[src], age_days + 240, age_days)
    rel_us = np.maximum(as_of_us - (age_days * _DAY_US).astype(np.int64), reg_us[src])
    is_transfer = rtype == 0
    amount = np.where(is_transfer, np.round(rng.lognormal(7, 1.2, m), 2), np.nan)
    count = rng.geometric(0.6, m)

    # --- fraud rings: 4-8 accounts sharing 1-2 devices, transferring among themselves ------
    n_rings = max(3, n // 5000)
    ring_of = np.full(n, -1)
    pool = rng.permutation(np.flatnonzero(~super_ref))
    pos = 0
    ring_members: list[np.ndarray] = []
    for r in range(n_rings):
        size = int(rng.integers(4, 9))
        members = pool[pos : pos + size]
        pos += size
        ring_of[members] = r
        ring_members.append(members)
    ring_src = np.concatenate([np.repeat(mem, len(mem) - 1) for mem in ring_members])
    ring_dst = np.concatenate(
        [np.array([b for a in mem for b in mem if a != b]) for mem in ring_members]
    )
    k_ring = len(ring_src)
    ring_us = as_of_us - (rng.exponential(40, k_ring) * _DAY_US).astype(np.int64)
    ring_us = np.maximum(ring_us, reg_us[ring_src])

    # --- referrals: ordinary ones inside the community, plus planted super-referrer trees ---
    referred = rng.random(n) < 0.12
    referrer = np.full(n, -1)
    r_idx = np.flatnonzero(referred)
    referrer[r_idx] = starts[comm[r_idx]] + (rng.random(len(r_idx)) * sizes[comm[r_idx]]).astype(
        int
    )
    for s in np.flatnonzero(super_ref):
        k = int(rng.integers(15, 40))
        own = np.arange(starts[comm[s]], ends[comm[s]])
        cand = rng.choice(own, min(k, len(own)), replace=False)
        extra = rng.choice(n, max(0, k - len(cand)), replace=False)
        kids = np.concatenate([cand, extra])
        kids = kids[(kids != s) & ~super_ref[kids]]
        referrer[kids] = s
        # the tree grows: some of their referees bring in one or two more each
        grand = rng.choice(n, len(kids) // 2, replace=False)
        grand = grand[~super_ref[grand] & (referrer[grand] == -1) & ~np.isin(grand, kids)]
        referrer[grand] = rng.choice(kids, len(grand)) if len(kids) else -1
    referrer[referrer == np.arange(n)] = -1
    ref_kids = np.flatnonzero(referrer >= 0)
    ref_src = referrer[ref_kids]
    # a referee registers after the referrer
    reg_us[ref_kids] = np.maximum(
        reg_us[ref_kids],
        np.minimum(
            reg_us[ref_src] + rng.integers(1, 90, len(ref_kids)) * _DAY_US, as_of_us - _DAY_US
        ),
    )
    tenure_days = (as_of_us - reg_us) / _DAY_US
    ref_us = reg_us[ref_kids]
    # a churned customer stopped long ago: keep their registration old enough for that
    churner &= tenure_days > 300
    new_customer = tenure_days < 90

    all_src = np.concatenate([src, ring_src, ref_src])
    all_dst = np.concatenate([dst, ring_dst, ref_kids])
    # codes into REL_TYPES, with "referral" appended after the interaction types
    all_type = np.concatenate(
        [rtype, np.zeros(k_ring, np.int64), np.full(len(ref_kids), len(REL_TYPES))]
    )
    all_us = np.concatenate([rel_us, ring_us, ref_us])
    all_amount = np.concatenate(
        [amount, np.round(rng.lognormal(8, 0.8, k_ring), 2), np.full(len(ref_kids), np.nan)]
    )
    all_count = np.concatenate([count, np.ones(k_ring, int), np.ones(len(ref_kids), int)])
    rel_channel = rng.choice(4, len(all_src), p=[0.55, 0.3, 0.1, 0.05])

    # --- customers ---------------------------------------------------------------------------
    # ids are shuffled so that nothing about a customer can be read from the id itself
    ids = _coded("C", at.customers + rng.permutation(n), at.width)
    surname = SURNAMES[rng.integers(0, len(SURNAMES), n)]
    given = np.char.add(
        GIVEN[rng.integers(0, len(GIVEN), n)],
        np.where(rng.random(n) < 0.6, GIVEN[rng.integers(0, len(GIVEN), n)], ""),
    )
    name = np.char.add(surname, given)
    phone = np.char.add(
        MOBILE_PREFIXES[rng.integers(0, len(MOBILE_PREFIXES), n)], _digits(rng, n, 8)
    )
    birth = _ts(birth_us)
    birth_str = pc.strftime(birth, format="%Y%m%d").to_numpy(zero_copy_only=False).astype(str)
    id17 = np.char.add(np.char.add(CITY_CODES[city_idx], birth_str), _digits(rng, n, 3))
    digits17 = np.frombuffer(id17.astype("S17").tobytes(), dtype=np.uint8).reshape(n, 17) - 48
    check = _ID_CHECK[(digits17.astype(int) * _ID_WEIGHTS).sum(axis=1) % 11]
    id_number = np.char.add(id17, check)
    gender = np.where(rng.random(n) < 0.5, "M", "F")
    income_score = rng.normal(0, 1, n) + (band >= 2) * 0.4 - (band == 0) * 0.6
    income_level = np.select(
        [income_score > 1.5, income_score > 0.5, income_score > -0.5],
        ["very_high", "high", "medium"],
        "low",
    )
    aum = np.round(np.exp(rng.normal(10.5 + income_score * 0.9, 1.0)), 2)
    member_level = np.select(
        [aum > 2_000_000, aum > 500_000, aum > 100_000], ["platinum", "gold", "silver"], "normal"
    )
    marital = np.where(
        age < 26,
        rng.choice(["single", "married"], n, p=[0.8, 0.2]),
        rng.choice(["single", "married", "divorced"], n, p=[0.2, 0.72, 0.08]),
    )
    working = OCCUPATIONS[:-1]  # "retired" comes from age, not chance
    occupation = np.where(age >= 62, "retired", working[rng.integers(0, len(working), n)])
    channel = np.where(
        referrer >= 0, "referral", rng.choice(["app", "branch", "web"], n, p=[0.55, 0.3, 0.15])
    )
    risk_grade = rng.choice(["A", "B", "C", "D"], n, p=[0.5, 0.3, 0.15, 0.05])
    risk_grade[overdue] = "D"

    customers_tbl = pa.table(
        {
            "customer_id": ids,
            "name": name,
            "phone": phone,
            "id_number": id_number,
            "gender": gender,
            "birth_date": pc.strftime(birth, format="%Y-%m-%d"),
            "city": _pick(CITIES, city_idx),
            "occupation": occupation,
            "income_level": income_level,
            "member_level": member_level,
            "marital_status": marital,
            "aum": aum,
            "registered_at": _iso(_ts(reg_us)),
            "channel": channel,
            "marketing_consent": consent,
            "risk_grade": risk_grade,  # an extra column: kept as an attribute
        }
    )
    relations_tbl = pa.table(
        {
            "src_id": pc.take(ids, all_src),
            "dst_id": pc.take(ids, all_dst),
            "type": _pick(np.append(REL_TYPES, "referral"), all_type),
            "occurred_at": _iso(_ts(all_us)),
            "amount": pa.array(all_amount, from_pandas=True),
            "count": all_count,
            "channel": _pick(np.array(["app", "wechat", "web", "branch"]), rel_channel),
        }
    )

    # --- transactions ------------------------------------------------------------------------
    freq = rng.lognormal(1.2, 0.9, n)  # transactions per customer, heavy-tailed
    freq[new_customer] = freq[new_customer] * 0.3
    n_tx = rng.poisson(freq).astype(np.int64)
    n_tx[super_ref] += 3
    cust = np.repeat(np.arange(n), n_tx)
    t = len(cust)
    window_start = reg_us
    window_end = np.where(churner, as_of_us - (rng.integers(200, 500, n) * _DAY_US), as_of_us)
    window_end = np.maximum(window_end, window_start + _DAY_US)
    u = rng.random(t)
    # decliners: activity concentrated early in their window
    u = np.where(decliner[cust], u**2.5, u)
    tx_us = window_start[cust] + (u * (window_end - window_start)[cust]).astype(np.int64)
    spend_level = rng.lognormal(5.5 + income_score * 0.5, 0.6, n)
    tx_amount = np.round(spend_level[cust] * rng.lognormal(0, 0.7, t), 2)
    fav_cat = np.where(
        rng.random(n) < 0.5, (comm % len(CATEGORIES)), rng.integers(0, len(CATEGORIES), n)
    )
    cat = np.where(rng.random(t) < 0.6, fav_cat[cust], rng.integers(0, len(CATEGORIES), t))
    loyal = rng.random(n) < 0.2
    fav_brand = rng.integers(0, 4, n)
    brand_i = np.where(loyal[cust] & (rng.random(t) < 0.9), fav_brand[cust], rng.integers(0, 4, t))
    promo_prop = rng.beta(1.2, 4, n)
    promo = rng.random(t) < promo_prop[cust]
    transactions_tbl = pa.table(
        {
            "customer_id": pc.take(ids, cust),
            "occurred_at": _iso(_ts(tx_us)),
            "amount": tx_amount,
            "category": _pick(CATEGORIES, cat),
            "brand": _pick(BRANDS, cat * 4 + brand_i),
            "promo": promo,
            "channel": _pick(CHANNELS_TX, rng.integers(0, len(CHANNELS_TX), t)),
        }
    )

    # --- events: logins and views (with devices), complaints, overdue ------------------------
    kinds_all = np.array(["login", "page_view", "content_view", "complaint", "overdue"])
    devices_per = 1 + (rng.random(n) < 0.3)
    mobile_share = rng.beta(2.5, 1.5, n)
    n_login = rng.poisson(np.clip(freq * 1.5, 0.5, None)).astype(np.int64)
    n_view = rng.poisson(np.clip(freq, 0.3, None)).astype(np.int64)
    ev_cust = np.concatenate([np.repeat(np.arange(n), n_login), np.repeat(np.arange(n), n_view)])
    kind = np.concatenate(
        [np.zeros(n_login.sum(), dtype=np.int64), np.where(rng.random(n_view.sum()) < 0.45, 1, 2)]
    )
    e = len(ev_cust)
    eu = rng.random(e)
    eu = np.where(decliner[ev_cust], eu**2.5, eu)
    ev_us = window_start[ev_cust] + (eu * (window_end - window_start)[ev_cust]).astype(np.int64)
    # every customer owns one or two devices; fraud rings log in from one or two shared ones,
    # numbered after all personal devices
    dev_num = np.arange(n)[ev_cust] * 2 + (rng.random(e) * devices_per[ev_cust]).astype(np.int64)
    ring_dev = 2 * n + ring_of[ev_cust] * 2 + (rng.random(e) < 0.3)
    dev_num = np.where((ring_of[ev_cust] >= 0) & (kind == 0), ring_dev, dev_num)
    is_pc = rng.random(e) >= mobile_share[ev_cust]
    fav_topic = rng.integers(0, len(TOPICS), n)
    topic = np.where(rng.random(e) < 0.7, fav_topic[ev_cust], rng.integers(0, len(TOPICS), e))
    # ring members each get one guaranteed login from the shared device
    ring_idx = np.flatnonzero(ring_of >= 0)
    ring_us_login = as_of_us - (rng.integers(1, 60, len(ring_idx)) * _DAY_US)
    comp_c = np.repeat(np.flatnonzero(complainer), rng.integers(2, 6, complainer.sum()))
    over_c = np.repeat(np.flatnonzero(overdue), rng.integers(1, 5, overdue.sum()))
    side_c = np.concatenate([comp_c, over_c])
    side_kind = np.concatenate([np.full(len(comp_c), 3), np.full(len(over_c), 4)])
    side_us = as_of_us - (rng.exponential(90, len(side_c)).clip(0, 700) * _DAY_US).astype(np.int64)
    side_us = np.maximum(side_us, reg_us[side_c])

    all_c = np.concatenate([ev_cust, ring_idx, side_c])
    all_kind = np.concatenate([kind, np.zeros(len(ring_idx), dtype=np.int64), side_kind])
    all_dev = np.concatenate([dev_num, 2 * n + ring_of[ring_idx] * 2, np.zeros(len(side_c), int)])
    no_device = all_kind >= 3
    dev_type = np.concatenate(
        [is_pc.astype(np.int64), np.zeros(len(ring_idx), np.int64), np.zeros(len(side_c), np.int64)]
    )
    all_topic = np.concatenate([topic, np.zeros(len(ring_idx) + len(side_c), np.int64)])
    details = np.array(["service complaint", "credit card payment overdue"])
    events_tbl = pa.table(
        {
            "customer_id": pc.take(ids, all_c),
            "occurred_at": _iso(_ts(np.concatenate([ev_us, ring_us_login, side_us]))),
            "event_type": _pick(kinds_all, all_kind),
            "device_id": pc.if_else(
                no_device, pa.scalar(None, pa.string()), _coded("D", 3 * at.customers + all_dev, 9)
            ),
            "device_type": pc.if_else(
                no_device, pa.scalar(None, pa.string()), _pick(np.array(["mobile", "pc"]), dev_type)
            ),
            "topic": pc.if_else(
                all_kind == 2, _pick(TOPICS, all_topic), pa.scalar(None, pa.string())
            ),
            "detail": pc.if_else(
                no_device, _pick(details, np.clip(all_kind - 3, 0, 1)), pa.scalar(None, pa.string())
            ),
        }
    )
    truth_tbl = pa.table(
        {
            "customer_id": ids,
            "planted_community": comm + at.communities,
            "super_referrer": super_ref,
            "fraud_ring": np.where(ring_of >= 0, ring_of + at.rings, -1),
            "churner": churner,
            "decliner": decliner,
            "complainer": complainer,
            "overdue": overdue,
            "marketing_consent": consent,
        }
    )
    return GeneratedData(customers_tbl, relations_tbl, transactions_tbl, events_tbl, truth_tbl)


def write_dataset(
    data: GeneratedData | Iterable[GeneratedData], out: Path, *, fmt: str = "csv"
) -> dict[str, Path]:
    """Write the four tables (and ground_truth) to `out` as CSV or Parquet files.

    ``data`` is one dataset or its blocks (:func:`generate_blocks`), appended file by file
    so that only one block is ever in memory. Empty strings are written as empty fields,
    which the loaders read as missing values.
    """
    blocks = [data] if isinstance(data, GeneratedData) else data
    with DatasetWriter(out, fmt) as writer:
        for block in blocks:
            for name, table in {**block.tables(), "ground_truth": block.truth}.items():
                writer.write(name, table)
    return writer.paths


class DatasetWriter:
    """Files of a dataset written table by table: each name's first table opens its file
    (CSV with a header, or Parquet with zstd), later ones append to it.

    Use as a context manager; ``paths`` maps each name to its file.
    """

    def __init__(self, out: Path, fmt: str = "csv") -> None:
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"format must be csv or parquet, not {fmt!r}")
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.fmt = out, fmt
        self.paths: dict[str, Path] = {}
        self._writers: dict[str, Any] = {}

    def write(self, name: str, table: pa.Table) -> Path:
        """Append ``table`` to the file of ``name`` (opening it on first use)."""
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        writer = self._writers.get(name)
        if writer is None:
            path = self.out / f"{name}.{self.fmt}"
            if self.fmt == "parquet":
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            else:
                options = pacsv.WriteOptions(quoting_style="needed")
                writer = pacsv.CSVWriter(path, table.schema, write_options=options)
            self._writers[name], self.paths[name] = writer, path
        if table.num_rows:
            writer.write_table(table)
        return self.paths[name]

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        for writer in self._writers.values():
            writer.close()


def write_table(table: pa.Table, path: Path) -> Path:
    """Write one table as CSV (quoting only where needed) or Parquet (zstd), by suffix."""
    with DatasetWriter(path.parent, path.suffix.lstrip(".")) as writer:
        writer.write(path.stem, table)
    return path
