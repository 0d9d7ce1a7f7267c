"""Reading a run's results: influencers, tag coverage, profiles, segments, diffs, exports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from api.usecases.runs import resolve_run
from graph.model import RunInfo
from graph.store import GraphStore


def influencers(
    store: GraphStore,
    *,
    limit: int,
    offset: int = 0,
    community_id: str | None = None,
    tag_id: str | None = None,
    run_id: str | None = None,
) -> tuple[RunInfo, pd.DataFrame]:
    run = resolve_run(store, run_id)
    df = store.top_influencers(
        run.run_id, limit=limit, offset=offset, community_id=community_id, tag_id=tag_id
    )
    return run, df.rename(columns={"influence": "score"})


def tag_coverage(store: GraphStore, *, run_id: str | None = None) -> pd.DataFrame:
    """The run's catalog with holders per tag; ``not_evaluated`` says why a tag was not
    evaluated (a measure it reads was left out of the run), when any was not."""
    run = resolve_run(store, run_id)
    df = store.read_catalog(run.run_id)
    skipped = run.stats.get("tags_not_evaluated") or {}
    if skipped:
        family = df["tag_id"].astype(str).str.split(":").str[0] + ":"
        df["not_evaluated"] = df["tag_id"].map(skipped).fillna(family.map(skipped))
        missing = [t for t in skipped if t not in set(df["tag_id"]) and not t.endswith(":")]
        if missing:  # a tag nobody holds may have no catalog row: it is listed anyway
            extra = pd.DataFrame(
                {"tag_id": missing, "not_evaluated": [skipped[t] for t in missing]}
            )
            df = pd.concat([df, extra], ignore_index=True)
    return df


def customer_profile(
    store: GraphStore,
    customer_id: str,
    *,
    unmasked: bool = False,
    run_id: str | None = None,
    pii_columns: tuple[str, ...] | None = None,
) -> dict:
    """Attributes (PII masked unless `unmasked`), metrics and tags with reasons, read from
    the store and shaped by `api.usecases.profiles.build_profile` (the API's document too).

    The CLI is a viewer-level surface, so its profiles are masked like the API's: name, phone,
    id_number, the columns of ``GUANXI_PII_COLUMNS`` and those the store declares.

    Parameters
    ----------
    pii_columns
        Extra columns to mask besides the store's declaration; default from settings.

    Raises
    ------
    CustomerNotFound, RunNotFound
    """
    from api.usecases.masking import served_pii_columns
    from api.usecases.profiles import build_profile, tags_from_frame

    if pii_columns is None:
        from api.settings import get_settings

        pii_columns = get_settings().pii_columns
    columns = served_pii_columns(store, pii_columns)
    record = store.get_customer(customer_id)
    if not store.list_runs():
        return build_profile(customer_id, record, unmasked=unmasked, pii_columns=columns)
    run = resolve_run(store, run_id)
    m = store.read_metrics(run.run_id, customer_ids=[customer_id])
    return build_profile(
        customer_id,
        record,
        run_id=run.run_id,
        metrics=m.iloc[0].to_dict() if len(m) else {},
        tags=tags_from_frame(store.read_tags(run.run_id, customer_id=customer_id)),
        unmasked=unmasked,
        pii_columns=columns,
    )


def check_segment(expr: str) -> None:
    """Parse a segment expression without touching a store, so a malformed one fails first.

    Raises
    ------
    RuleError
        The expression does not parse (the message names the position).
    """
    from tagging import parse_segment

    parse_segment(expr)


def segment(
    store: GraphStore, expr: str, *, run_id: str | None = None
) -> tuple[RunInfo, list[str]]:
    """Customers whose tags satisfy a boolean tag expression, in id order.

    Raises
    ------
    RuleError
        The expression does not parse (the message names the position).
    """
    from tagging import evaluate_segment, parse_segment

    tree = parse_segment(expr)  # parse before touching the store
    run = resolve_run(store, run_id)
    assignments = store.read_tags(run.run_id)
    known = store.read_catalog(run.run_id)["tag_id"]
    members = evaluate_segment(
        tree, assignments, all_customer_ids=store.customer_ids().to_pylist(), known_tags=known
    )
    return run, sorted(str(c) for c in members)


def tags_diff(store: GraphStore, run_a: str, run_b: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tags gained and lost per customer from run A to run B, and totals per tag with the
    ``cause`` of each tag's change (:func:`tagging.quality.attribute_changes`: the
    definition, the data, or both, judged from the fingerprints the runs keep).

    Raises
    ------
    RunNotFound
        Either run is unknown.
    """
    from tagging import diff_assignments
    from tagging.quality import attribute_changes

    a, b = resolve_run(store, run_a), resolve_run(store, run_b)
    changes, totals = diff_assignments(_tag_keys(store, run_a), _tag_keys(store, run_b))
    totals["cause"] = attribute_changes(
        totals,
        a.stats.get("tag_definitions"),
        b.stats.get("tag_definitions"),
        data_changed=_data_fingerprint(a) != _data_fingerprint(b),
    )
    return changes, totals


def _tag_keys(store: GraphStore, run_id: str) -> pa.Table:
    """A run's (customer_id, tag_id) pairs, streamed: reasons are dropped batch by batch."""
    keys = ["customer_id", "tag_id"]
    batches = [b.select(keys) for b in store.scan_tags(run_id)]
    if not batches:
        return pa.table({k: pa.array([], pa.string()) for k in keys})
    return pa.Table.from_batches(batches)


def _data_fingerprint(run: RunInfo) -> tuple:
    """What a run read: its input counts and the reference time its features were cut at."""
    return (tuple(sorted(run.input_counts.items())), run.params.get("as_of"))


def export_metrics(store: GraphStore, out: Path, *, run_id: str | None = None) -> int:
    run = resolve_run(store, run_id)
    df = store.read_metrics(run.run_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        df.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        df.to_csv(out, index=False)
    else:
        from graph.errors import ConfigError

        raise ConfigError(f"{out}: use a .csv or .parquet file name")
    return len(df)
