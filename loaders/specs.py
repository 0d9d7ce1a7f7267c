"""Declarative checks of the data contract: what makes a row bad, and the stable reason codes.

Reason codes are a StrEnum with stable snake_case values because dashboards count them.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa

from graph.model import EVENT_TYPES, RELATION_TYPES, REQUIRED, SCHEMAS


class Reason(StrEnum):
    MALFORMED_ROW = "malformed_row"
    BAD_ENCODING = "bad_encoding"
    MISSING_VALUE = "missing_value"
    BAD_TIMESTAMP = "bad_timestamp"
    BAD_DATE = "bad_date"
    BAD_NUMBER = "bad_number"
    NON_FINITE_NUMBER = "non_finite_number"
    BAD_BOOLEAN = "bad_boolean"
    UNKNOWN_RELATION_TYPE = "unknown_relation_type"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    UNKNOWN_CUSTOMER = "unknown_customer"
    SELF_RELATION = "self_relation"
    DUPLICATE_CONFLICT = "duplicate_customer_conflict"


#: How each reason reads in a message, after "<file> row <n>: <column> '<value>' ".
PHRASES: dict[Reason, str] = {
    Reason.MALFORMED_ROW: "cannot be parsed as a row of the header's columns",
    Reason.BAD_ENCODING: "holds bytes that do not decode as",
    Reason.MISSING_VALUE: "is empty but required",
    Reason.BAD_TIMESTAMP: "is not an ISO-8601 timestamp",
    Reason.BAD_DATE: "is not a date (YYYY-MM-DD)",
    Reason.BAD_NUMBER: "is not a number",
    Reason.NON_FINITE_NUMBER: "is not a finite number (NaN or infinite)",
    Reason.BAD_BOOLEAN: "is not a boolean (true/false, yes/no, 1/0)",
    Reason.UNKNOWN_RELATION_TYPE: "is not a known relation type",
    Reason.UNKNOWN_EVENT_TYPE: "is not a known event type",
    Reason.UNKNOWN_CUSTOMER: "names no known customer",
    Reason.SELF_RELATION: "is the relation's own source (a self-relation)",
    Reason.DUPLICATE_CONFLICT: "appears on an earlier row with different values",
}

#: The reason a present-but-unparseable value gets, by the column's Arrow type.
PARSE_REASON: dict[pa.DataType, Reason] = {
    pa.timestamp("us"): Reason.BAD_TIMESTAMP,
    pa.date32(): Reason.BAD_DATE,
    pa.float64(): Reason.BAD_NUMBER,
    pa.int64(): Reason.BAD_NUMBER,
    pa.int32(): Reason.BAD_NUMBER,
    pa.bool_(): Reason.BAD_BOOLEAN,
}

#: Columns holding an enumerated value, and the allowed values.
ENUMS: dict[str, dict[str, tuple[tuple[str, ...], Reason]]] = {
    "relations": {"type": (RELATION_TYPES, Reason.UNKNOWN_RELATION_TYPE)},
    "events": {"event_type": (EVENT_TYPES, Reason.UNKNOWN_EVENT_TYPE)},
}

#: Columns that must name a known customer.
CUSTOMER_REFS: dict[str, tuple[str, ...]] = {
    "customers": (),
    "relations": ("src_id", "dst_id"),
    "transactions": ("customer_id",),
    "events": ("customer_id",),
}

TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


def contract_columns(table: str) -> list[str]:
    """Contract columns of a table (without the derived `attributes`)."""
    return [c for c in SCHEMAS[table].names if c != "attributes"]


def required_columns(table: str) -> tuple[str, ...]:
    return REQUIRED[table]
