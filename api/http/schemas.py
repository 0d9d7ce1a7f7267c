"""Wire models of the HTTP API, separate from `graph.model`.

Each model states its direction (``...Public`` goes out, ``...Request`` comes in) and carries
an example, so the OpenAPI document shows a realistic body for every endpoint. Lists travel
as ``{"data": [...], "count": n}`` where ``count`` is the number of items in ``data``; paged
lists add ``limit``, ``offset`` and, when it is cheap to know, ``total``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000

RUN_EXAMPLE = "r20260101T020000-3fa2c1"


def _example(example: dict) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


# --- errors ---------------------------------------------------------------------------------
class ErrorPublic(BaseModel):
    """Every 4xx/5xx answer: a stable snake_case code, a sentence, and the offending fields."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "error": "customer_not_found",
                    "detail": "customer 'C9999999' not found",
                    "customer_id": "C9999999",
                }
            ]
        },
    )
    error: str = Field(description="stable error code, e.g. customer_not_found, rule_error")
    detail: str = Field(description="human-readable message naming the offending value")


# --- health ---------------------------------------------------------------------------------
class HealthPublic(BaseModel):
    model_config = _example(
        {
            "status": "ok",
            "store": "duckdb:///./guanxi.duckdb",
            "run_id": RUN_EXAMPLE,
            "run_created_at": "2026-01-01T02:00:00+00:00",
            "version": "0.1.0",
        }
    )
    status: Literal["ok", "unavailable"]
    store: str = Field(description="store URI, credentials removed")
    run_id: str | None = Field(description="the current (newest) run; null before any analysis")
    run_created_at: str | None = None
    served_run_id: str | None = Field(
        default=None,
        description="the run the API answers from; null until its in-memory data is built, "
        "and the previous run while a newer one is being loaded",
    )
    warming: bool = Field(
        default=False,
        description="true while start-up still reads ahead what the first pages need "
        "(community ties, referral trees, the latest run diff); answers are right meanwhile, "
        "only slower",
    )
    version: str
    detail: str | None = Field(default=None, description="why the store is unavailable")


# --- influencers ----------------------------------------------------------------------------
class InfluencerPublic(BaseModel):
    rank: int = Field(description="1-based rank within the filtered list")
    customer_id: str
    score: float = Field(description="influence score of the run (higher is stronger)")
    community_id: str | None
    pagerank: float | None = None
    degree: int | None = None
    reach_2hop: int | None = None
    tags: list[str] = Field(description="tag ids the customer holds in the run")


class InfluencerList(BaseModel):
    model_config = _example(
        {
            "data": [
                {
                    "rank": 1,
                    "customer_id": "C0001082",
                    "score": 0.93,
                    "community_id": "c0000",
                    "pagerank": 0.0061,
                    "degree": 57,
                    "reach_2hop": 412,
                    "tags": ["opinion_leader", "high_influence", "community_core"],
                }
            ],
            "count": 1,
            "limit": 20,
            "offset": 0,
            "run_id": RUN_EXAMPLE,
        }
    )
    data: list[InfluencerPublic]
    count: int
    limit: int
    offset: int
    run_id: str


# --- customers ------------------------------------------------------------------------------
class TagAssignmentPublic(BaseModel):
    tag_id: str
    score: float
    reason: str = Field(description="the facts that fired, with values and thresholds")


class CustomerPublic(BaseModel):
    model_config = _example(
        {
            "customer_id": "C0000009",
            "attributes": {
                "customer_id": "C0000009",
                "name": "李*",
                "phone": "137****5863",
                "id_number": "310101********1234",
                "city": "上海",
                "member_level": "gold",
                "attr.risk_grade": "B",
            },
            "run_id": RUN_EXAMPLE,
            "community_id": "c0003",
            "metrics": {"pagerank": 0.0012, "degree": 14, "influence": 0.41},
            "tags": [
                {
                    "tag_id": "opinion_leader",
                    "score": 0.97,
                    "reason": "pagerank percentile 97.2 >= 95 within community c0003",
                }
            ],
        }
    )
    customer_id: str
    attributes: dict[str, Any] = Field(
        description="input attributes; name, phone and id_number masked unless the key is admin"
    )
    run_id: str | None
    community_id: str | None = None
    metrics: dict[str, Any]
    tags: list[TagAssignmentPublic]


class NodePublic(BaseModel):
    id: str = Field(description="customer id")
    hop: int = Field(description="0 for the centre, 1 or 2 for neighbours")
    community_id: str | None
    influence: float | None


class EdgePublic(BaseModel):
    source: str
    target: str
    type: str = Field(description="relation type: referral, transfer, like, ...")
    weight: float = Field(description="summed interaction count of this relation type")
    interactions: int = Field(description="number of relation rows behind the edge")
    source_community: str | None
    target_community: str | None


class NetworkPublic(BaseModel):
    model_config = _example(
        {
            "customer_id": "C0000009",
            "hops": 1,
            "run_id": RUN_EXAMPLE,
            "nodes": [
                {"id": "C0000009", "hop": 0, "community_id": "c0003", "influence": 0.41},
                {"id": "C0000100", "hop": 1, "community_id": "c0003", "influence": 0.12},
            ],
            "edges": [
                {
                    "source": "C0000009",
                    "target": "C0000100",
                    "type": "transfer",
                    "weight": 3.0,
                    "interactions": 2,
                    "source_community": "c0003",
                    "target_community": "c0003",
                }
            ],
        }
    )
    customer_id: str
    hops: int
    run_id: str | None
    nodes: list[NodePublic]
    edges: list[EdgePublic]


# --- communities ----------------------------------------------------------------------------
class CommunityPublic(BaseModel):
    community_id: str
    size: int
    density: float | None = None
    internal_weight: float | None = None
    external_weight: float | None = None
    leader_id: str | None = None
    leader_pagerank: float | None = None


class CommunityList(BaseModel):
    model_config = _example(
        {
            "data": [
                {
                    "community_id": "c0000",
                    "size": 91,
                    "density": 0.08,
                    "internal_weight": 812.5,
                    "external_weight": 362.9,
                    "leader_id": "C0001082",
                    "leader_pagerank": 0.0061,
                }
            ],
            "count": 1,
            "limit": 100,
            "offset": 0,
            "total": 45,
            "run_id": RUN_EXAMPLE,
        }
    )
    data: list[CommunityPublic]
    count: int
    limit: int
    offset: int
    total: int
    run_id: str


class TagCountPublic(BaseModel):
    tag_id: str
    customers: int = Field(description="members of the community holding the tag")
    share: float = Field(description="customers / community size")


class CommunityDetailPublic(BaseModel):
    model_config = _example(
        {
            "community": {
                "community_id": "c0000",
                "size": 91,
                "density": 0.08,
                "internal_weight": 812.5,
                "external_weight": 362.9,
                "leader_id": "C0001082",
                "leader_pagerank": 0.0061,
            },
            "run_id": RUN_EXAMPLE,
            "leaders": [
                {
                    "rank": 1,
                    "customer_id": "C0001082",
                    "score": 0.93,
                    "community_id": "c0000",
                    "pagerank": 0.0061,
                    "degree": 57,
                    "reach_2hop": 412,
                    "tags": ["opinion_leader"],
                }
            ],
            "tag_composition": [{"tag_id": "opinion_leader", "customers": 5, "share": 0.055}],
        }
    )
    community: CommunityPublic
    run_id: str
    leaders: list[InfluencerPublic]
    tag_composition: list[TagCountPublic]


# --- tags -----------------------------------------------------------------------------------
class TagPublic(BaseModel):
    tag_id: str
    name_zh: str | None = None
    name_en: str | None = None
    category: str | None = None
    rule: str | None = None
    customers: int = Field(description="customers holding the tag in the run")
    coverage: float = Field(description="customers / all customers of the run")


class TagList(BaseModel):
    model_config = _example(
        {
            "data": [
                {
                    "tag_id": "opinion_leader",
                    "name_zh": "意见领袖",
                    "name_en": "Opinion leader",
                    "category": "social",
                    "rule": "community_rank(pagerank) <= 3 and degree >= 5",
                    "customers": 120,
                    "coverage": 0.06,
                }
            ],
            "count": 1,
            "run_id": RUN_EXAMPLE,
        }
    )
    data: list[TagPublic]
    count: int
    run_id: str


class TagMemberPublic(BaseModel):
    customer_id: str
    score: float
    reason: str


class TagMemberList(BaseModel):
    model_config = _example(
        {
            "data": [
                {
                    "customer_id": "C0001082",
                    "score": 0.99,
                    "reason": "pagerank rank 1 in community c0000 <= 3; degree 57 >= 5",
                }
            ],
            "count": 1,
            "limit": 100,
            "offset": 0,
            "total": 120,
            "tag_id": "opinion_leader",
            "run_id": RUN_EXAMPLE,
        }
    )
    data: list[TagMemberPublic]
    count: int
    limit: int
    offset: int
    total: int
    tag_id: str
    run_id: str


class TagChangePublic(BaseModel):
    customer_id: str
    tag_id: str
    change: Literal["gained", "lost"]


class TagTotalPublic(BaseModel):
    tag_id: str
    gained: int
    lost: int
    cause: Literal["definition", "data", "definition+data", "analysis", "unknown"] = Field(
        description="why the tag changed: its definition, the data, both, the analysis "
        "(neither: another seed or parameter), or unknown for runs that kept no definitions"
    )


class TagQualityPublic(BaseModel):
    """One tag's health in a run (see `guanxi tags quality`)."""

    tag_id: str
    category: str
    count: int
    coverage: float = Field(description="share of the run's customers holding the tag")
    overlap_tag: str | None = Field(
        description="the tag of the same category whose holders overlap most (Jaccard)"
    )
    overlap_jaccard: float | None
    previous_count: int | None
    count_change: float | None = Field(description="(count - previous) / previous")
    stability: float | None = Field(
        description="share of the previous run's holders who still hold the tag"
    )
    flagged: bool = Field(description="the count moved by more than move_share")


class TagQualityReport(BaseModel):
    model_config = _example(
        {
            "run_id": RUN_EXAMPLE,
            "previous_run_id": "r20251201T020000-aa11bb",
            "move_share": 0.2,
            "tags": [
                {
                    "tag_id": "opinion_leader",
                    "category": "social",
                    "count": 100,
                    "coverage": 0.02,
                    "overlap_tag": "high_influence",
                    "overlap_jaccard": 0.61,
                    "previous_count": 98,
                    "count_change": 0.0204,
                    "stability": 0.93,
                    "flagged": False,
                }
            ],
        }
    )
    run_id: str
    previous_run_id: str | None
    move_share: float
    tags: list[TagQualityPublic]


class TagsDiffPublic(BaseModel):
    model_config = _example(
        {
            "from_run": "r20251201T020000-aa11bb",
            "to_run": RUN_EXAMPLE,
            "totals": [{"tag_id": "churn_risk", "gained": 12, "lost": 3, "cause": "data"}],
            "data": [{"customer_id": "C0000009", "tag_id": "churn_risk", "change": "gained"}],
            "count": 1,
            "limit": 100,
            "offset": 0,
            "total": 15,
        }
    )
    from_run: str
    to_run: str
    totals: list[TagTotalPublic]
    data: list[TagChangePublic]
    count: int
    limit: int
    offset: int
    total: int


# --- segments -------------------------------------------------------------------------------
class SegmentRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"expression": "opinion_leader AND NOT churn_risk", "run_id": None}]
        },
    )
    expression: str = Field(
        min_length=1,
        max_length=4000,
        description="tag ids combined with AND, OR, NOT and parentheses",
    )
    run_id: str | None = Field(default=None, description="default: the current run")


class SegmentMemberPublic(BaseModel):
    customer_id: str
    community_id: str | None = None
    influence: float | None = None


class SegmentPublic(BaseModel):
    model_config = _example(
        {
            "expression": "opinion_leader AND NOT churn_risk",
            "run_id": RUN_EXAMPLE,
            "count": 118,
            "limit": 100,
            "offset": 0,
            "data": [{"customer_id": "C0001082", "community_id": "c0000", "influence": 0.93}],
        }
    )
    expression: str
    run_id: str
    count: int = Field(description="size of the whole segment (not of this page)")
    limit: int
    offset: int
    data: list[SegmentMemberPublic]


# --- runs -----------------------------------------------------------------------------------
class RunPublic(BaseModel):
    run_id: str
    created_at: str
    params: dict[str, Any]
    input_counts: dict[str, Any]
    stats: dict[str, Any]


class RunList(BaseModel):
    model_config = _example(
        {
            "data": [
                {
                    "run_id": RUN_EXAMPLE,
                    "created_at": "2026-01-01T02:00:00+00:00",
                    "params": {"seed": 42, "resolution": 1.0},
                    "input_counts": {"customers": 2000, "relations": 20223},
                    "stats": {"n_communities": 45, "modularity": 0.79},
                }
            ],
            "count": 1,
        }
    )
    data: list[RunPublic]
    count: int


# --- error responses for the OpenAPI document ---------------------------------------------
_ERROR_EXAMPLES = {
    401: ("unauthorized", "missing X-API-Key header"),
    403: ("forbidden", "CSV export needs the operator role; this key has the viewer role"),
    404: ("customer_not_found", "customer 'C9999999' not found"),
    422: ("invalid_request", "query.hops: Input should be less than or equal to 2"),
    503: ("store_unavailable", "cannot open DuckDB store guanxi.duckdb: file is locked"),
}
_ERROR_TEXT = {
    401: "missing or unknown API key",
    403: "the key's role does not allow this",
    404: "unknown id",
    422: "invalid input",
    503: "the store cannot be reached",
}


def error_responses(*codes: int, examples: dict[int, dict] | None = None) -> dict:
    """`responses=` entries documenting the error bodies an endpoint can return."""
    out: dict = {}
    for code in codes:
        error, detail = _ERROR_EXAMPLES[code]
        example = (examples or {}).get(code) or {"error": error, "detail": detail}
        out[code] = {
            "model": ErrorPublic,
            "description": _ERROR_TEXT[code],
            "content": {"application/json": {"example": example}},
        }
    return out


class ReferralPlanRequest(BaseModel):
    """Budget and constraints of a referral campaign (see `guanxi plan-referral`)."""

    k: int = Field(ge=1, le=1000, description="Number of seed customers", examples=[50])
    target: str | None = Field(
        default=None,
        description="Segment expression; only reached members of the segment count",
        examples=["interest:investment AND NOT churn_risk"],
    )
    max_per_community: int | None = Field(default=None, ge=1, le=1000, examples=[3])
    exclude_tags: list[str] = Field(
        default_factory=lambda: ["fraud_risk", "credit_risk"],
        description="Customers holding any of these tags are never seeds",
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    run_id: str | None = Field(default=None, description="Analysis run (default: latest)")

    model_config = {"json_schema_extra": {"examples": [{"k": 50, "max_per_community": 3}]}}


class EvaluateSeedsRequest(BaseModel):
    """A planner's own seed list and the campaign to judge it in (see `guanxi evaluate-seeds`)."""

    seeds: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        min_length=1, max_length=1000, description="Customer ids, in the planner's order"
    )
    target: str | None = Field(
        default=None, description="Segment expression; only reached members count"
    )
    max_per_community: int | None = Field(
        default=None, ge=1, le=1000, description="Cap on seeds per community for the IMM plan"
    )
    exclude_tags: list[str] = Field(
        default_factory=lambda: ["fraud_risk", "credit_risk"],
        description="Customers holding these tags are reported as not contactable",
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    run_id: str | None = Field(default=None, description="Analysis run (default: latest)")

    model_config = {"json_schema_extra": {"examples": [{"seeds": ["C0000001", "C0000042"]}]}}
