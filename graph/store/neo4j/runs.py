"""Runs in Neo4j: write-back as an unpublished run, the one publishing transaction, reads.

Crash safety: a run is written as ``:Run {complete: false}`` and made visible by one final
transaction (``runs.publish``); every reader (``list_runs``, the metric reads, the Browser
kit) selects the latest *complete* run. While a run is written, readers of the previous one
are served it unchanged: its communities keep their own ``run_id``, its ``HAS_TAG`` carry
theirs, and each customer's previous values move to ``prev_*`` properties before the new
ones overwrite the plain ones. Labels are rewritten only after the publish (they style, they
do not select). Leftovers of a run that died unpublished are deleted by the next write.

Tags, the lean model: every assignment of a run (score and reason) is kept in the store's
facts file (`graph.store.neo4j.facts`), which every tag read serves; the graph holds what
exploration needs: ``HAS_TAG {run_id, score, reason}`` for the tags of the graph's categories
(``graph_tags``, social and risk by default: the relationships an analyst walks), and, after
the publish, every tag id of the run as the list ``c.tags`` and the `TAG_LABELS` labels, so
Browser filters (``WHERE 'vip' IN c.tags``) and styles on any tag. Why not a relationship
per assignment: several per customer, they were most of the write-back's time, and no
query walks from a customer to a "basic" or "value" tag node.

Assignments (facts and ``HAS_TAG``) are kept for the last ``history_runs`` runs so that
``guanxi tags diff`` can compare recent runs; older runs' assignments are deleted, together
with ``:Tag`` nodes no longer used. Reading metrics or communities of an older run
raises :class:`RunResultsUnavailable` (a :class:`~graph.errors.RunNotFound`) that says so;
reading the tags of a pruned run raises it too. The per-run tag catalog (with counts) is
kept on the ``:Run`` node, so ``read_catalog`` works for every run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import RunNotFound, StoreError
from graph.failpoints import failpoint
from graph.model import SCHEMAS, RunInfo
from graph.store.lineage_rows import LINEAGE_FIELDS, typed_lineage
from graph.store.neo4j.codec import column_lists, frame
from graph.store.neo4j.facts import Facts
from graph.store.neo4j.run_statements import PREV
from graph.store.neo4j.session import Bolt
from graph.store.neo4j.statements import TAG_LABELS, stmt

__all__ = ["RunResultsUnavailable", "Runs", "catalog_property", "run_properties"]

_RUN_KEYS = (
    "metrics_kept",
    "tags_kept",
    "metric_columns",
    "metric_dtypes",
    "community_columns",
    "community_dtypes",
    "catalog",
    "created_at",
    "complete",
)


def run_properties(run: RunInfo, metrics: pd.DataFrame, communities: pd.DataFrame) -> dict:
    """The ``:Run`` node's properties as the write-back sets them (``runs.merge``).

    Why a function: the bulk import (`graph.store.neo4j_local.import_results`) writes the
    same node from files, and must give every reader the same values (JSON text, columns,
    dtypes) as a run written through the driver.
    """
    return {
        "run_id": run.run_id,
        "created_at": run.created_at,
        "params": json.dumps(run.params, default=str),
        "input_counts": json.dumps(run.input_counts),
        "stats": json.dumps(run.stats, default=str),
        "metric_columns": list(metrics.columns),
        "metric_dtypes": json.dumps({c: str(t) for c, t in metrics.dtypes.items()}),
        "community_columns": list(communities.columns),
        "community_dtypes": json.dumps({c: str(t) for c, t in communities.dtypes.items()}),
    }


def catalog_property(assignments: pd.DataFrame, catalog: pd.DataFrame) -> str:
    """The ``:Run`` node's ``catalog``: each definition with its count of assignments (JSON).

    Shared with the bulk import for the reason `run_properties` gives.
    """
    cat = catalog[["tag_id", "name_zh", "name_en", "category", "rule"]]
    n = assignments.groupby("tag_id").size()
    rows = [
        {**d, "count": int(n.get(d["tag_id"], 0))}
        for d in pa.Table.from_pandas(cat, preserve_index=False).to_pylist()
    ]
    return json.dumps(rows, ensure_ascii=False, default=str)


def tag_lists(assignments: pd.DataFrame) -> pa.Table:
    """``customer_id`` and ``tags``, each holder's distinct tag ids in order (``c.tags``).

    Shared with the bulk import, which writes the same lists into the customer file.
    """
    t = pa.table(
        {
            "customer_id": pa.Array.from_pandas(assignments["customer_id"].astype(str)),
            "tag_id": pa.Array.from_pandas(assignments["tag_id"].astype(str)),
        }
    ).cast(pa.schema([("customer_id", pa.string()), ("tag_id", pa.string())]))
    t = t.sort_by([("customer_id", "ascending"), ("tag_id", "ascending")]).combine_chunks()
    cid, tag = t.column("customer_id").chunk(0), t.column("tag_id").chunk(0)
    n = len(cid)
    if n == 0:
        return pa.table({"customer_id": cid, "tags": pa.array([], pa.list_(pa.string()))})
    # sorted, so a repeat is the row before; a new customer starts where the id changes
    new_cid = np.concatenate(
        [[True], pc.not_equal(cid[1:], cid[:-1]).to_numpy(zero_copy_only=False)]
    )
    new_tag = np.concatenate(
        [[True], pc.not_equal(tag[1:], tag[:-1]).to_numpy(zero_copy_only=False)]
    )
    keep = new_cid | new_tag
    cid, tag, starts = cid.filter(pa.array(keep)), tag.filter(pa.array(keep)), new_cid[keep]
    offsets = np.append(np.flatnonzero(starts), len(tag)).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), tag)
    return pa.table({"customer_id": cid.filter(pa.array(starts)), "tags": lists})


def graph_assignments(
    assignments: pd.DataFrame, catalog: pd.DataFrame, graph_tags: Sequence[str]
) -> pd.DataFrame:
    """The assignments written as ``HAS_TAG``: those of a tag whose category is in
    `graph_tags` (a tag without a catalog row has no category, so none)."""
    cats = catalog.loc[catalog["category"].astype(str).isin(list(graph_tags)), "tag_id"]
    return assignments[assignments["tag_id"].astype(str).isin(set(cats.astype(str)))]


def _holders(lists: pa.Table, tag_id: str) -> list[str]:
    """Customer ids whose ``tags`` list (`tag_lists`) holds `tag_id`."""
    col = lists.column("tags").combine_chunks()
    hit = pc.equal(pc.list_flatten(col), tag_id)
    rows = pc.filter(pc.list_parent_indices(col), hit)
    return pc.take(lists.column("customer_id"), rows).to_pylist()


_NO_TAGS = pd.DataFrame(columns=["customer_id", "tag_id", "score", "reason"])
_NO_CATALOG = pd.DataFrame(columns=["tag_id", "name_zh", "name_en", "category", "rule"])


class RunResultsUnavailable(RunNotFound):
    """The run exists, but this store no longer keeps the results asked for."""

    def __init__(self, run_id: str, what: str, detail: str) -> None:
        StoreError.__init__(self, f"run {run_id!r}: {what} no longer kept in Neo4j; {detail}")
        self.run_id = run_id


class Runs:
    """The run repository over one Bolt connection and the facts file; keeps tags of
    `history_runs` runs and writes those of the `graph_tags` categories as ``HAS_TAG``."""

    def __init__(
        self, bolt: Bolt, facts: Facts, *, history_runs: int, graph_tags: tuple[str, ...]
    ) -> None:
        self._bolt = bolt
        self._facts = facts
        self.history_runs = history_runs
        self.graph_tags = graph_tags
        # the last run's tag lists, kept from write_tags for its publish (else read back)
        self._tag_lists: tuple[str, pa.Table] | None = None

    # --- write-back ---------------------------------------------------------------------
    def write_run(self, run: RunInfo, *, metrics: pd.DataFrame, communities: pd.DataFrame) -> None:
        """Write a run as incomplete: its record, its communities, each customer's metrics.

        Nothing any reader is served changes: the run is unlisted until :meth:`publish_run`,
        its communities carry its run id next to the previous run's, and each customer's
        values of the previous complete run move to ``prev_*`` properties before they are
        overwritten (``metrics.write``), so that run reads the same throughout. What an
        analyze that died unpublished left is deleted first.
        """
        bolt = self._bolt
        clash = set(metrics.columns) & set(SCHEMAS["customers"].names) - {"customer_id"}
        if clash:
            raise StoreError(f"metric column(s) {sorted(clash)} would overwrite customer data")
        prev = self.list_runs()
        keep = prev[0].run_id if prev else None
        keep_rec = self.record(keep) if keep else None
        keep_cols = [c for c in (keep_rec or {}).get("metric_columns") or [] if c != "customer_id"]
        self._delete_incomplete_runs(keep=keep)
        bolt.write(stmt("runs.merge"), run_properties(run, metrics, communities))
        ctbl = pa.Table.from_pandas(communities, preserve_index=False)
        for batch in bolt.batches(ctbl):
            bolt.write(
                stmt("communities.create"), {"rows": batch.to_pylist(), "run_id": run.run_id}
            )
            failpoint("analyze.communities.batch")
        mtbl = pa.Table.from_pandas(metrics, preserve_index=False)
        shift = {"keep": keep, "keep_columns": keep_cols, "prev": PREV, "run_id": run.run_id}
        # each row also moves its values to prev_*: a quarter batch keeps one transaction's
        # state within the server's transaction memory on a small heap
        for batch in bolt.batches(mtbl, rows=max(1, bolt.batch_size // 4)):
            bolt.write(stmt("metrics.write"), {"rows": batch.to_pylist(), **shift})
            failpoint("analyze.metrics.batch")

    def _delete_incomplete_runs(self, *, keep: str | None) -> None:
        """Delete what unpublished runs left: their tags, communities, membership, record.

        Communities of every run but `keep` (the latest complete one) go, which also finishes
        the housekeeping of a publish that was cut short. The record goes last, so a crash in
        here leaves the run findable by the next attempt. Customers' properties written by a
        dead run are left: the next write overwrites them, and readers select by run id.
        """
        bolt = self._bolt
        dead = [r[0] for r in bolt.read(stmt("runs.incomplete"))]
        for run_id in dead:
            bolt.repeat_until_done(stmt("tags.delete_run_batch"), {"run_id": run_id})
            self._delete_facts_tags(run_id)
            bolt.repeat_until_done(stmt("lineage.delete_run_batch"), {"run_id": run_id})
        keep_list = [keep] if keep else []
        bolt.repeat_until_done(stmt("communities.delete_membership_batch"), {"keep": keep_list})
        bolt.repeat_until_done(stmt("communities.delete_batch"), {"keep": keep_list})
        for run_id in dead:
            bolt.write(stmt("runs.delete_incomplete"), {"run_id": run_id})

    def write_lineage(self, run_id: str, lineage: pd.DataFrame) -> None:
        """Replace a written, unpublished run's lineage (``:CommunityLineage`` nodes).

        Readers select lineage by a complete run's id, so these rows stay unseen until the
        publish, and an analyze that dies first leaves them to the next one's cleanup.

        Raises
        ------
        RunNotFound
            No run `run_id` was written.
        """
        if self.record(run_id) is None:
            raise RunNotFound(run_id)
        bolt = self._bolt
        bolt.repeat_until_done(stmt("lineage.delete_run_batch"), {"run_id": run_id})
        rows = typed_lineage(lineage)
        rows.insert(0, "seq", range(len(rows)))
        records = rows.to_dict("records")
        for start in range(0, len(records), bolt.batch_size):
            chunk = records[start : start + bolt.batch_size]
            bolt.write(stmt("lineage.create"), {"rows": chunk, "run_id": run_id})

    def publish_run(self, run_id: str) -> None:
        """Make a written run the one readers see (one transaction), then tidy up after it.

        The housekeeping that follows the publish is idempotent and invisible to readers,
        who select by run id: the previous run's communities and stale customer metrics are
        removed, the social-tag labels rewritten from the run's assignments, and tag history
        pruned. A crash in it is finished by the next analyze (its start deletes other runs'
        communities, its publish rewrites labels).

        Raises
        ------
        RunNotFound
            No run `run_id` was written.
        """
        bolt = self._bolt
        rows, _ = bolt.write(stmt("runs.publish"), {"run_id": run_id})
        if not rows or not rows[0][0]:
            raise RunNotFound(run_id)
        failpoint("analyze.published")
        rec = self.record(run_id) or {}
        bolt.repeat_until_done(stmt("communities.delete_membership_batch"), {"keep": [run_id]})
        bolt.repeat_until_done(stmt("communities.delete_batch"), {"keep": [run_id]})
        known = bolt.read(stmt("runs.metric_columns"))[0][0] or []
        cols = set(known) | set(rec.get("metric_columns") or [])
        clear = {c: None for c in cols - {"customer_id"}}
        clear["metrics_run_id"] = None
        bolt.repeat_until_done(
            stmt("metrics.clear_stale_batch"), {"run_id": run_id, "clear": clear}
        )
        self._write_tag_lists(run_id)
        catalog = json.loads(rec.get("catalog") or "[]")
        self._prune_tag_history(keep_tags=sorted({str(d["tag_id"]) for d in catalog}))

    def write_tags(self, run_id: str, assignments: pd.DataFrame, catalog: pd.DataFrame) -> None:
        """Replace a run's assignments (facts file, and ``HAS_TAG`` for `graph_tags`) and keep
        its catalog on the :Run node."""
        bolt = self._bolt
        a = assignments[["customer_id", "tag_id", "score", "reason"]]
        cat = catalog[["tag_id", "name_zh", "name_en", "category", "rule"]]
        self._facts.replace_tags(run_id, a, cat)
        self._tag_lists = (run_id, tag_lists(a))
        bolt.repeat_until_done(stmt("tags.delete_run_batch"), {"run_id": run_id})
        defs = pa.Table.from_pandas(cat, preserve_index=False).to_pylist()
        known = {d["tag_id"] for d in defs}
        defs += [{"tag_id": t} for t in sorted(set(a["tag_id"].astype(str)) - known)]
        bolt.write(stmt("tags.merge_definitions"), {"rows": defs})
        atbl = pa.Table.from_pandas(
            graph_assignments(a, cat, self.graph_tags), preserve_index=False
        )
        for batch in bolt.batches(atbl):
            bolt.write(stmt("tags.create_assignments"), {**column_lists(batch), "run_id": run_id})
            failpoint("analyze.tags.batch")
        bolt.write(
            stmt("runs.set_catalog"), {"run_id": run_id, "catalog": catalog_property(a, cat)}
        )

    def _write_tag_lists(self, run_id: str) -> None:
        """Rewrite ``c.tags`` and the tag labels from the run's assignments (Browser only).

        ``c.tags`` is set on customers whose list changed (a re-run rewrites few), and
        removed (null, as the importer leaves a customer without tags) from those left
        without any; the labels are removed and set again.
        """
        bolt = self._bolt
        cached = self._tag_lists
        if cached and cached[0] == run_id:
            lists = cached[1]
        else:
            lists = tag_lists(self._facts.read_tags(run_id))
        self._tag_lists = None
        ids = bolt.read(stmt("customers.ids"), consume=lambda res: res.single(strict=True)[0])
        every_id = pa.array(ids, pa.string())
        pos = pc.index_in(every_id, value_set=lists.column("customer_id").combine_chunks())
        tags = pc.take(lists.column("tags").combine_chunks(), pos)  # null: no tag
        every = pa.table({"customer_id": every_id, "tags": tags})
        for batch in bolt.batches(every):
            bolt.write(stmt("tags.set_lists"), column_lists(batch))
            failpoint("analyze.labels.batch")
        for tag_id, label in TAG_LABELS.items():
            bolt.repeat_until_done(stmt("labels.remove_batch"), {}, sub=label)
            ids = _holders(lists, tag_id)
            for start in range(0, len(ids), bolt.batch_size):
                chunk = ids[start : start + bolt.batch_size]
                bolt.write(stmt("labels.set"), {"customer_ids": chunk}, sub=label)
                failpoint("analyze.labels.batch")

    def _prune_tag_history(self, *, keep_tags: list[str]) -> None:
        bolt = self._bolt
        kept = [r[0] for r in bolt.read(stmt("runs.with_tags"))]
        for old in kept[self.history_runs :]:
            bolt.repeat_until_done(stmt("tags.delete_run_batch"), {"run_id": old})
            self._delete_facts_tags(old)
            bolt.write(stmt("runs.mark_tags_gone"), {"run_id": old})
        bolt.write(stmt("tags.delete_unused"), {"keep": keep_tags})

    def _delete_facts_tags(self, run_id: str) -> None:
        self._facts.replace_tags(run_id, _NO_TAGS, _NO_CATALOG)

    # --- reads --------------------------------------------------------------------------
    def list_runs(self) -> list[RunInfo]:
        rows = self._bolt.read(stmt("runs.list"))
        return [
            RunInfo(
                r[0],
                r[1],
                json.loads(r[2] or "{}"),
                json.loads(r[3] or "{}"),
                json.loads(r[4] or "{}"),
            )
            for r in rows
            if r[1] is not None
        ]

    def record(self, run_id: str) -> dict | None:
        """The :Run node's bookkeeping (columns, dtypes, kept flags, catalog), or None."""
        rows = self._bolt.read(stmt("runs.get"), {"run_id": run_id})
        return dict(zip(_RUN_KEYS, rows[0], strict=True)) if rows else None

    def metrics_record(self, run_id: str) -> dict:
        """The record of a complete run whose metrics are still kept.

        Raises
        ------
        RunNotFound
            No complete run `run_id`.
        RunResultsUnavailable
            Its metrics were replaced by a later run's.
        """
        rec = self.record(run_id)
        if rec is None or rec["created_at"] is None or not rec["complete"]:
            raise RunNotFound(run_id)
        if not rec["metrics_kept"]:
            raise RunResultsUnavailable(
                run_id,
                "metrics and communities are",
                f"only the latest run's are; its tags are kept for the last {self.history_runs} "
                "runs. Re-run `guanxi analyze` to recompute",
            )
        return rec

    def read_metrics(
        self, run_id: str, *, customer_ids: Sequence[str] | None = None
    ) -> pd.DataFrame:
        rec = self.metrics_record(run_id)
        cols = list(rec["metric_columns"])
        params = {"run_id": run_id, "columns": cols, "prev": PREV}
        if customer_ids is None:
            rows = self._bolt.read(stmt("metrics.read_all"), params)
        else:
            params["customer_ids"] = list(customer_ids)
            rows = self._bolt.read(stmt("metrics.read_for"), params)
        return frame([r[0] for r in rows], cols, json.loads(rec["metric_dtypes"]))

    def read_lineage(self, run_id: str) -> pd.DataFrame:
        """The lineage rows of a complete run, in their order (kept for every run)."""
        rec = self.record(run_id)
        if rec is None or rec["created_at"] is None or not rec["complete"]:
            raise RunNotFound(run_id)
        rows = self._bolt.read(stmt("lineage.read"), {"run_id": run_id})
        return typed_lineage(pd.DataFrame([list(r) for r in rows], columns=list(LINEAGE_FIELDS)))

    def read_membership(self, run_id: str) -> pd.DataFrame:
        """Each customer's community in a run: the latest one, or the run just before it.

        Raises
        ------
        RunNotFound
            No complete run `run_id`.
        RunResultsUnavailable
            The run is older: its customers' values were overwritten since (the count of
            customers found differs from the run's).
        """
        runs = {r.run_id: r for r in self.list_runs()}
        if run_id not in runs:
            raise RunNotFound(run_id)
        rows = self._bolt.read(stmt("communities.membership"), {"run_id": run_id, "prev": PREV})
        expected = runs[run_id].stats.get("n_vertices")
        if expected is not None and len(rows) != int(expected):
            raise RunResultsUnavailable(
                run_id,
                "community memberships are",
                "only those of the latest run and the one before it are; compare newer runs",
            )
        df = pd.DataFrame([list(r) for r in rows], columns=["customer_id", "community_id"])
        return df.astype({"customer_id": "str"})

    def read_communities(self, run_id: str) -> pd.DataFrame:
        rec = self.metrics_record(run_id)
        cols = list(rec["community_columns"])
        rows = self._bolt.read(stmt("communities.read"), {"run_id": run_id, "columns": cols})
        return frame([r[0] for r in rows], cols, json.loads(rec["community_dtypes"]))

    def read_tags(
        self,
        run_id: str,
        *,
        customer_id: str | None = None,
        tag_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        rec = self.record(run_id)
        if rec is not None and rec["tags_kept"] is False:
            raise RunResultsUnavailable(
                run_id, "tag assignments are", f"only the last {self.history_runs} runs' are"
            )
        return self._facts.read_tags(
            run_id, customer_id=customer_id, tag_id=tag_id, limit=limit, offset=offset
        )

    def read_catalog(self, run_id: str) -> pd.DataFrame:
        cols = ["tag_id", "name_zh", "name_en", "category", "rule", "count"]
        rec = self.record(run_id)
        rows = json.loads(rec["catalog"]) if rec and rec["catalog"] else []
        df = pd.DataFrame(rows, columns=cols)
        df["count"] = df["count"].astype("int64")
        for c in cols[:-1]:
            df[c] = df[c].astype("str")
        return df.sort_values(["category", "tag_id"], kind="stable").reset_index(drop=True)

    def _holders_of(self, run_id: str, tag_id: str) -> list[str]:
        df = self._facts.read_tags(run_id, tag_id=tag_id)
        return sorted(df["customer_id"].astype(str).unique().tolist())

    def top_influencers(
        self,
        run_id: str,
        *,
        limit: int,
        offset: int,
        community_id: str | None,
        tag_id: str | None,
    ) -> pd.DataFrame:
        """A page of the run's ranking, in the order of `graph.ranking`."""
        rec = self.metrics_record(run_id)
        cols = list(rec["metric_columns"])
        params = {
            "run_id": run_id,
            "columns": cols,
            "prev": PREV,
            "community_id": community_id,
            # the tag's holders from the facts file: any tag, not only the graph's
            "holders": None if tag_id is None else self._holders_of(run_id, tag_id),
            "offset": int(offset),
            "limit": int(limit),
        }
        rows = self._bolt.read(stmt("metrics.top_influencers"), params)
        return frame([r[0] for r in rows], cols, json.loads(rec["metric_dtypes"]))
