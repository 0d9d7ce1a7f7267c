"""The data contract: table schemas, relation and event types, result types.

All ids are strings; times are ISO-8601 on input and timestamps once loaded.
Columns not named here are kept as customer attributes (never dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa

TABLES: tuple[str, ...] = ("customers", "relations", "transactions", "events")


class RelationType(StrEnum):
    REFERRAL = "referral"
    TRANSFER = "transfer"
    LIKE = "like"
    COMMENT = "comment"
    SHARE = "share"
    MESSAGE = "message"
    FAMILY = "family"
    COLLEAGUE = "colleague"


class EventType(StrEnum):
    LOGIN = "login"
    PAGE_VIEW = "page_view"
    CONTENT_VIEW = "content_view"
    COMPLAINT = "complaint"
    OVERDUE = "overdue"


RELATION_TYPES: tuple[str, ...] = tuple(t.value for t in RelationType)
EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)

PII_COLUMNS: tuple[str, ...] = ("name", "phone", "id_number")

#: Run on every DuckDB connection guanxi opens: DuckDB's own progress bar writes to stdout
#: on long queries, where it would corrupt a command's ``--json`` output.
DUCKDB_QUIET = "SET enable_progress_bar = false"

#: Unicode's space separators (category Zs): what input text is trimmed of (DuckDB's
#: ``trim`` removes them; Spark's ``btrim(s, UNICODE_SPACES)`` does, by code point).
UNICODE_SPACES = "".join(
    chr(c) for c in (0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)
)

#: Typed schema of each table once loaded. ``attributes`` holds, as a JSON object, every
#: input column the contract does not name, so that nothing a user loads is dropped.
#: Columns listed in REQUIRED are mandatory in the input; the rest are optional.
SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("name", pa.string()),
            ("phone", pa.string()),
            ("id_number", pa.string()),
            ("gender", pa.string()),
            ("birth_date", pa.date32()),
            ("age", pa.int32()),
            ("city", pa.string()),
            ("occupation", pa.string()),
            ("income_level", pa.string()),
            ("member_level", pa.string()),
            ("marital_status", pa.string()),
            ("aum", pa.float64()),
            ("registered_at", pa.timestamp("us")),
            ("channel", pa.string()),
            ("marketing_consent", pa.bool_()),
            ("attributes", pa.string()),
        ]
    ),
    "relations": pa.schema(
        [
            ("src_id", pa.string()),
            ("dst_id", pa.string()),
            ("type", pa.string()),
            ("occurred_at", pa.timestamp("us")),
            ("amount", pa.float64()),
            ("count", pa.int64()),
            ("channel", pa.string()),
            ("attributes", pa.string()),
        ]
    ),
    "transactions": pa.schema(
        [
            ("customer_id", pa.string()),
            ("occurred_at", pa.timestamp("us")),
            ("amount", pa.float64()),
            ("category", pa.string()),
            ("brand", pa.string()),
            ("promo", pa.bool_()),
            ("channel", pa.string()),
            ("attributes", pa.string()),
        ]
    ),
    "events": pa.schema(
        [
            ("customer_id", pa.string()),
            ("occurred_at", pa.timestamp("us")),
            ("event_type", pa.string()),
            ("device_id", pa.string()),
            ("device_type", pa.string()),
            ("topic", pa.string()),
            ("detail", pa.string()),
            ("attributes", pa.string()),
        ]
    ),
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "relations": ("src_id", "dst_id", "type", "occurred_at"),
    "transactions": ("customer_id", "occurred_at", "amount"),
    "events": ("customer_id", "occurred_at", "event_type"),
}

#: Relation columns the interaction graph is built from: what a projection reads, so stores
#: can serve this read lean (a million relations without their attributes and amounts).
PROJECTION_COLUMNS: tuple[str, ...] = ("src_id", "dst_id", "type", "occurred_at", "count")

#: Columns whose values together identify a row, so a reload never duplicates it.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "relations": ("src_id", "dst_id", "type", "occurred_at"),
    "transactions": ("customer_id", "occurred_at", "amount", "category", "brand", "channel"),
    "events": ("customer_id", "occurred_at", "event_type", "device_id", "topic"),
}


#: Per-customer metric columns of an analysis run (after customer_id and community_id), in
#: order: the graph computes them, the store keeps them, tag rules read them.
METRIC_COLUMNS: tuple[str, ...] = (
    "in_degree",
    "out_degree",
    "degree",
    "in_strength",
    "out_strength",
    "pagerank",
    "betweenness",
    "coreness",
    "clustering",
    "constraint",
    "reach_2hop",
    "neighbor_communities",
    "referrals_direct",
    "referral_downstream",
    "referral_depth",
    "community_pagerank_pct",
    "influence",
)


@dataclass(frozen=True)
class TableCounts:
    read: int = 0
    loaded: int = 0
    quarantined: int = 0
    inserted: int = 0
    updated: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "inserted": self.inserted,
            "updated": self.updated,
        }


@dataclass(frozen=True)
class RunInfo:
    """One analysis run: what was computed, when, from how much data, with which parameters."""

    run_id: str
    created_at: str
    params: dict = field(default_factory=dict)
    input_counts: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
