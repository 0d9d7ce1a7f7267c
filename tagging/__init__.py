"""Tagging: per-customer features + declarative tag rules -> tag assignments with reasons.

Pure computation: nothing here opens a store or reads the clock. ``load_rules`` is the only
function that reads a file.
"""

from tagging.diff import diff_assignments
from tagging.engine import ASSIGNMENT_COLUMNS, evaluate, evaluate_chunks, tag_definitions
from tagging.feature_catalog import FEATURES, FeatureParams
from tagging.feature_compute import compute_features
from tagging.rule_parser import parse_expr
from tagging.rule_tree import Expr
from tagging.rules import (
    CATEGORIES,
    Catalog,
    Group,
    TagFamily,
    TagRule,
    default_catalog,
    load_rules,
    merge_catalogs,
    parse_rules,
)
from tagging.segments import evaluate_segment, parse_segment, segment_tags

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "CATEGORIES",
    "FEATURES",
    "Catalog",
    "Expr",
    "FeatureParams",
    "Group",
    "TagFamily",
    "TagRule",
    "compute_features",
    "default_catalog",
    "diff_assignments",
    "evaluate",
    "evaluate_chunks",
    "evaluate_segment",
    "load_rules",
    "merge_catalogs",
    "parse_expr",
    "parse_rules",
    "parse_segment",
    "segment_tags",
    "tag_definitions",
]
