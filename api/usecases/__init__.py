"""Use cases: what the CLI, the HTTP API and the benchmarks share.

This is the only layer that wires the packages together: loaders feed the store, the store
feeds `graph` (projection and metrics) and `tagging` (features and rules), and the results go
back to the store as one run. The edges (`api.http`, `api.cli`, `api.bench.runner`) call these and
never each other.
"""

from api.usecases.analysis import AnalyzeResult, Progress, analyze, catalog_frame, tag_run
from api.usecases.communities import DIFF_MOVED_LIMIT, communities_diff
from api.usecases.datasets import generate_dataset
from api.usecases.faults import arm_failpoint
from api.usecases.loading import load
from api.usecases.results import (
    check_segment,
    customer_profile,
    export_metrics,
    influencers,
    segment,
    tag_coverage,
    tags_diff,
)
from api.usecases.runs import latest_run, new_run_id, resolve_run
from api.usecases.stores import open_configured_store, open_default

__all__ = [
    "DIFF_MOVED_LIMIT",
    "AnalyzeResult",
    "Progress",
    "analyze",
    "arm_failpoint",
    "catalog_frame",
    "check_segment",
    "communities_diff",
    "customer_profile",
    "export_metrics",
    "generate_dataset",
    "influencers",
    "latest_run",
    "load",
    "new_run_id",
    "open_configured_store",
    "open_default",
    "resolve_run",
    "segment",
    "tag_coverage",
    "tag_run",
    "tags_diff",
]
