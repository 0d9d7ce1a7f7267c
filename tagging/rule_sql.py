"""The rule language compiled to SQL (DuckDB and Spark SQL): the same tags, scores and reasons.

`compile_catalog` turns a catalog into SQL over a feature table, run in three steps:

``base``
    the features (missing numbers as NULL), one window column per distinct ``pct``,
    ``community_rank``, ``community_pct`` or ``center`` / ``mean`` / ``median`` call (nested
    calls in later layers), and one boolean column ``_t<i>`` per tag: who holds it after the
    exclusive groups are resolved (``_fb<i>``: who holds it as the group's fallback);
``decimals`` and ``paths(decimals)``
    one row: for every number a reason shows, the decimals `tagging.reasons` would pick
    from that tag's holders (an aggregate, so Spark computes it in parallel); and per tag
    which of `render_facts`' two ways of rounding the local engine takes on this data;
``assignments(decimals, paths)``
    ``customer_id, tag_id, score, reason`` of every holder of every tag (family tags: per
    value), with the two small results filled in as constants.

The semantics are the evaluator's (`tagging.evaluator`), which stays the reference: a
comparison with a missing value is false (and ``not`` of it true), ``x / 0`` is missing,
percentiles count the customers with a strictly lower value among those with a value, ranks
within a community share the best rank on ties. Labels, flipped operators under ``not`` and
constants are taken from the evaluator and `tagging.reasons` themselves, and the two number
formats are SQL functions (`FORMAT_FUNCTIONS`) that each engine registers from the same
Python (`format_numbers`, `format_scalars`), so every reason reads as the local engine's.

Pure string generation: nothing here runs SQL or imports an engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from graph.errors import RuleError
from tagging.engine import LABELS, family_values
from tagging.evaluator import Binding, Evaluator, _Ctx
from tagging.rank_sql import rank_ctes, rank_join
from tagging.reasons import _MAX_DISTINCT_REASONS, format_scalar, format_values
from tagging.rule_sql_expr import Dialect, ExprCompiler, SqlFact, pct_sql, text_type
from tagging.rule_tree import Expr
from tagging.rules import Catalog

__all__ = [
    "FORMAT_FUNCTIONS",
    "CompiledCatalog",
    "compile_catalog",
    "format_numbers",
    "format_scalars",
]


def format_numbers(values: np.ndarray, decimals: np.ndarray, direct: np.ndarray) -> list[str]:
    """``gx_fmt(x, d, direct)``: each number as `tagging.reasons` renders a reason's column.

    `tagging.reasons.render_facts` formats in one of two ways: numpy-rounded values first
    (few distinct reasons among the holders) or Arrow's rounding alone (many, and in
    templates); they differ where ``x * 10**d`` is a whole number although ``x`` is not the
    double nearest to it (Arrow then keeps ``x`` as it is). ``direct`` (1) picks the second.
    """
    v = np.asarray(values, dtype="float64")
    d = np.asarray(decimals, dtype="int64")
    raw = np.asarray(direct, dtype="int64")
    out = np.empty(v.shape, dtype=object)
    for dec, how in {(int(a), int(b)) for a, b in zip(d, raw, strict=True)}:
        at = (d == dec) & (raw == how)
        x = v[at] + 0.0  # zero reads "0": the local engine's "-0" depends on np.unique's pick
        if not how:
            with np.errstate(invalid="ignore"):
                x = np.round(x, dec)
        out[at] = format_values(x, decimals=dec).to_pylist()
    return out.tolist()


def format_scalars(values: np.ndarray) -> list[str]:
    """``gx_fmt_scalar(x)``: a value the same for every customer (a center, a constant sum)."""
    return [format_scalar(float(x)) for x in np.asarray(values, dtype="float64")]


#: SQL name -> (Python function, argument SQL types); the result is a string.
FORMAT_FUNCTIONS: dict[str, tuple[Callable[..., list[str]], tuple[str, ...]]] = {
    "gx_fmt": (format_numbers, ("DOUBLE", "INTEGER", "INTEGER")),
    "gx_fmt_scalar": (format_scalars, ("DOUBLE",)),
}


@dataclass(frozen=True)
class CompiledCatalog:
    """The SQL of a catalog over one feature table; see the module docstring.

    ``entries`` holds, per tag (family tags: per value), the SQL of its tag id, of who holds
    it (a boolean column of ``base``), of its score and of its reason; ``path_reasons`` the
    reasons rendered the first of the two ways, for the tags whose way depends on the data.
    """

    base: str
    decimals: str
    entries: tuple[tuple[str, str, str, str], ...]
    path_reasons: tuple[tuple[int, str], ...]
    dialect: Dialect
    base_name: str
    quote: Callable[[str], str]

    def paths(self, decimals: Mapping[str, int]) -> str:
        """Rows ``(tag, direct)``: 1 where `render_facts` takes its Arrow way for the tag.

        ``decimals`` is the row of `decimals`. The distinct reasons of all those tags are
        counted in one grouped aggregate (one distinct aggregate in the plan).
        """
        if not self.path_reasons:
            return "SELECT 0 AS tag, 0 AS direct WHERE FALSE"
        rows = [(str(i), self.entries[i][1], reason) for i, reason in self.path_reasons]
        return self._fill(
            f"SELECT tag, CASE WHEN count(DISTINCT reason) - 1 >= {_MAX_DISTINCT_REASONS!r} "
            f"* count(*) THEN 1 ELSE 0 END AS direct FROM ({self._rows(rows, ('tag', 'reason'))}) "
            "AS _r GROUP BY tag",
            decimals,
            {},
        )

    def assignments(self, decimals: Mapping[str, int], paths: Mapping[int, int]) -> str:
        """``customer_id, tag_id, score, reason`` of every holder of every tag."""
        if not self.entries:
            return (
                "SELECT CAST(NULL AS STRING) AS customer_id, CAST(NULL AS STRING) AS tag_id, "
                "CAST(NULL AS DOUBLE) AS score, CAST(NULL AS STRING) AS reason WHERE FALSE"
            )
        rows = [(tag_id, holders, score, reason) for tag_id, holders, score, reason in self.entries]
        return self._fill(self._rows(rows, ("tag_id", "score", "reason")), decimals, paths)

    def _rows(self, rows: list[tuple[str, ...]], names: tuple[str, ...]) -> str:
        """Holders' rows of several tags: ``customer_id`` and ``names`` (row = first, holders,
        rest). DuckDB: one SELECT per tag, UNION ALL. Spark: one projection computing every
        tag's columns, then ``stack`` (so all Python UDF calls run in one batch per row group,
        instead of a Python round trip per tag)."""
        cid = f"CAST({self.quote('customer_id')} AS {text_type(self.dialect)}) AS customer_id"
        if self.dialect != "spark":
            return "\nUNION ALL\n".join(
                f"SELECT {cid}, "
                + ", ".join(f"{v} AS {n}" for v, n in zip((r[0], *r[2:]), names, strict=True))
                + f" FROM {self.base_name} WHERE {r[1]}"
                for r in rows
            )
        cols, stacked = [], []
        for k, r in enumerate(rows):
            values = (r[0], *r[2:])
            cols.append(f"{r[1]} AS _h{k}")
            for v, n in zip(values, names, strict=True):
                cols.append(f"CASE WHEN {r[1]} THEN {v} END AS _{n}{k}")
            stacked.append(", ".join([f"_h{k}"] + [f"_{n}{k}" for n in names]))
        wide = f"SELECT {cid}, {', '.join(cols)} FROM {self.base_name}"
        return (
            f"SELECT customer_id, {', '.join(names)} FROM (SELECT customer_id, "
            f"stack({len(rows)}, {', '.join(stacked)}) AS (_holds, {', '.join(names)}) "
            f"FROM ({wide}) AS _w) AS _s WHERE _holds"
        )

    def _fill(self, sql: str, decimals: Mapping[str, int], paths: Mapping[int, int]) -> str:
        # the placeholders are quoted names only the compiler writes
        for col, dec in decimals.items():
            sql = sql.replace(f"_dec.{self.quote(col)}", str(int(dec)))
        for i, _ in self.path_reasons:
            sql = sql.replace(f"_path.{self.quote(f'_p{i}')}", str(int(paths.get(i, 0))))
        return sql


def column_kinds(features: pd.DataFrame) -> dict[str, str]:
    """Each column's rule-language kind in a pandas feature table, as the evaluator reads it."""
    out = {}
    for name, dtype in features.dtypes.items():
        numeric = pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
        out[str(name)] = "num" if numeric else "str"
    return out


def compile_catalog(
    catalog: Catalog,
    kinds: Mapping[str, str],
    *,
    dialect: Dialect = "duckdb",
    source: str = "features",
    base: str = "gx_base",
) -> CompiledCatalog:
    """Compile every enabled tag and family of ``catalog`` over a feature table.

    Parameters
    ----------
    catalog
        A merged catalog (no pending overrides).
    kinds
        Each feature column and its kind, ``num`` or ``str`` (`column_kinds` for pandas).
        Must include ``customer_id``; family values are read from the column names.
    dialect
        ``duckdb`` or ``spark``.
    source, base
        The names the statements read: the feature table and the result of ``base``.

    Returns
    -------
    CompiledCatalog
        Run ``base`` into a table named ``base``; run ``decimals`` (one row) and
        ``paths(decimals)`` (a row per tag) over it; then ``assignments(decimals, paths)``
        gives ``customer_id, tag_id, score, reason``. The two small results are filled into
        the SQL as constants, so no statement joins them (Spark plans stay flat).

    Raises
    ------
    RuleError
        Unmerged overrides, or a rule naming a feature that is not a column (tag id, position).
    """
    if catalog.patches:
        kind, tid, _ = catalog.patches[0]
        raise RuleError(
            f"{kind} {tid!r} is an override that was not merged; use merge_catalogs(base, file)",
            rule_id=tid,
        )
    comp = ExprCompiler(dialect, kinds, catalog.params)
    labels_only = Evaluator(pd.DataFrame(), catalog.params, labels=LABELS)

    def ctx(expr: Expr, bindings: Mapping[str, Binding], rule_id: str, fld: str) -> _Ctx:
        return _Ctx(labels_only, expr, bindings, rule_id, fld)

    raw: list[str] = []  # raw mask per entry
    entries: list[dict[str, Any]] = []

    def add(mask: str, **info: Any) -> int:
        raw.append(mask)
        entries.append(info)
        return len(raw) - 1

    static: dict[str, int] = {}
    for tag in catalog.tags:
        if not tag.enabled:
            continue
        facts: list[SqlFact] = []
        mask = comp.cond(tag.when.tree, ctx(tag.when, {}, tag.id, "when"), {}, False, facts)
        static[tag.id] = add(mask, kind="tag", rule=tag, facts=facts, bindings={})
    final = {i: comp.q(f"_r{i}") for i in range(len(raw))}
    fallback: dict[int, str] = {}
    for group in catalog.groups.values():
        members = sorted(
            (t for t in catalog.tags if t.enabled and t.group == group.id),
            key=lambda t: t.priority,
        )
        taken: list[str] = []
        for t in members:
            i = static[t.id]
            final[i] = " AND ".join([comp.q(f"_r{i}")] + [f"NOT {m}" for m in taken])
            taken.append(comp.q(f"_r{i}"))
        if group.mode == "exactly_one" and group.fallback in static:
            i = static[group.fallback]
            rest = "(" + " AND ".join(f"NOT {m}" for m in taken) + ")" if taken else "TRUE"
            fallback[i] = rest
            final[i] = f"({final[i]}) OR {rest}"

    columns = pd.Index(list(kinds))
    for fam in catalog.families:
        if not fam.enabled:
            continue
        if fam.kind == "share":
            for value in family_values(fam, columns):
                bindings = {
                    "share": Binding(f"{fam.source}_share:{value}", f"{fam.source} {value} share"),
                    "count": Binding(f"{fam.source}_count:{value}", f"{fam.source} {value} count"),
                }
                facts = []
                mask = comp.cond(
                    fam.when.tree, ctx(fam.when, bindings, fam.id, "when"), bindings, False, facts
                )
                i = add(mask, kind="share", rule=fam, facts=facts, bindings=bindings, value=value)
                final[i] = comp.q(f"_r{i}")
        elif fam.source in kinds:
            facts = []
            mask = comp.cond(fam.when.tree, ctx(fam.when, {}, fam.id, "when"), {}, False, facts)
            mask = f"({mask} AND {comp.q(fam.source)} IS NOT NULL)"
            i = add(mask, kind="value", rule=fam, facts=facts, bindings={})
            final[i] = comp.q(f"_r{i}")

    selects: list[tuple[str, str, str, str]] = []
    paths: list[tuple[int, str]] = []  # (entry, reason the first way)
    for i, info in enumerate(entries):
        rule, bindings, facts = info["rule"], info["bindings"], info["facts"]
        holders = comp.q(f"_t{i}")
        if rule.reason is not None:
            reason = comp.template(
                rule.reason,
                lambda e, r=rule, b=bindings: ctx(e, b, r.id, "reason"),
                bindings,
                holders,
            )
        else:
            fb_text = "" if info["kind"] == "value" else rule.when.text
            rounded = comp.reason(facts, holders, fb_text, "0")
            if "gx_fmt(" in rounded:
                # which of render_facts' two ways the local engine takes for this tag
                paths.append((i, rounded))
                reason = comp.reason(facts, holders, fb_text, f"_path.{comp.q(f'_p{i}')}")
            else:
                reason = rounded
        score = comp.score(
            rule.score, ctx(rule.score or rule.when, bindings, rule.id, "score"), bindings
        )
        if info["kind"] == "tag":
            tag_id = comp.lit(rule.id)
            if i in fallback:
                note = f"no other {rule.group} rule matched (fallback)"
                reason = f"CASE WHEN {comp.q(f'_fb{i}')} THEN {comp.lit(note)} ELSE {reason} END"
        elif info["kind"] == "share":
            tag_id = comp.lit(f"{rule.id}:{info['value']}")
        else:
            src = f"CAST({comp.q(rule.source)} AS {text_type(dialect)})"
            tag_id = f"concat({comp.lit(rule.id + ':')}, {src})"
            head = f"concat({comp.lit(LABELS.get(rule.source, rule.source) + ' ')}, {src})"
            reason = (
                f"CASE WHEN ({reason}) = '' THEN {head} ELSE concat({head}, '; ', {reason}) END"
            )
        selects.append((tag_id, holders, score, reason))

    return CompiledCatalog(
        base=_base_sql(comp, source, raw, final, fallback),
        decimals=_decimals_sql(comp, base),
        entries=tuple(selects),
        path_reasons=tuple(paths),
        dialect=dialect,
        base_name=base,
        quote=comp.q,
    )


def _base_sql(
    comp: ExprCompiler, source: str, raw: list[str], final: dict[int, str], fallback: dict[int, str]
) -> str:
    """Features (missing numbers as NULL), window layers, raw masks, then final masks."""
    cols = []
    for name, kind in comp.kinds.items():
        c = comp.q(name)
        if kind == "num":
            x = f"CAST({c} AS DOUBLE)"
            cols.append(f"CASE WHEN isnan({x}) THEN NULL ELSE {x} END AS {c}")
        else:
            cols.append(f"CAST({c} AS {text_type(comp.dialect)}) AS {c}")
    sql = f"SELECT {', '.join(cols)} FROM {source}"
    layers: dict[int, list[str]] = {}
    for col, _, depth in comp.windows.values():
        layers.setdefault(depth, []).append(col)
    masks = [f"{m} AS {comp.q(f'_r{i}')}" for i, m in enumerate(raw)]
    last = [f"({final[i]}) AS {comp.q(f'_t{i}')}" for i in range(len(raw))]
    last += [f"{rest} AS {comp.q(f'_fb{i}')}" for i, rest in fallback.items()]
    sqls = {col: wsql for col, wsql, _ in comp.windows.values()}
    if comp.dialect == "spark":
        return _spark_layers(comp, sql, sqls, [layers[d] for d in sorted(layers)], [masks, last])
    steps = [[f"{sqls[c]} AS {comp.q(c)}" for c in layers[d]] for d in sorted(layers)]
    for k, exprs in enumerate([*steps, masks, last]):
        if exprs:
            sql = f"SELECT *, {', '.join(exprs)} FROM ({sql}) AS _l{k}"
    return sql


def _spark_layers(
    comp: ExprCompiler,
    first: str,
    sqls: Mapping[str, str],
    layers: list[list[str]],
    steps: list[list[str]],
) -> str:
    """`_base_sql` in Spark: each layer of windows a CTE over the one before it.

    Windows over all customers (``pct``, ``mean``, ``median``) would each put every row
    in one partition, so they come from `tagging.rank_sql` (ranks joined in a narrow
    relation keyed by customer, then joined back) and from one-row aggregates; windows
    within a community stay windows.
    """
    cid = comp.q("customer_id")
    ctes, prev = [f"_l0 AS ({first})"], "_l0"
    for k, cols in enumerate(layers, start=1):
        joins, ranked, exprs, ranked_cols = [], [], [], []
        for col in cols:
            agg, x = comp.spans.get(col, ("", ""))
            if agg == "pct":
                name = f"_rk{k}_{len(joins)}"
                ctes += rank_ctes(name, prev, x)
                joins.append(rank_join(name, x))
                ranked_cols.append(comp.q(col))
                pct = pct_sql(f"{name}._rank", f"{name}._total")
                ranked.append(
                    f"CASE WHEN {name}._rank IS NULL THEN NULL ELSE {pct} END AS {comp.q(col)}"
                )
            elif agg:
                exprs.append(f"(SELECT {agg}({x}) FROM {prev}) AS {comp.q(col)}")
            else:
                exprs.append(f"{sqls[col]} AS {comp.q(col)}")
        sql = f"SELECT {prev}.*"
        if ranked:
            ctes.append(
                f"_j{k} AS (SELECT {prev}.{cid} AS _id, {', '.join(ranked)} "
                f"FROM {prev}{''.join(joins)})"
            )
            sql += ", " + ", ".join(f"_j{k}.{c}" for c in ranked_cols)
        if exprs:
            sql += ", " + ", ".join(exprs)
        sql += f" FROM {prev}"
        if ranked:
            sql += f" LEFT JOIN _j{k} ON _j{k}._id = {prev}.{cid}"
        ctes.append(f"_l{k} AS ({sql})")
        prev = f"_l{k}"
    for k, exprs in enumerate(steps, start=len(layers) + 1):
        if exprs:
            ctes.append(f"_l{k} AS (SELECT *, {', '.join(exprs)} FROM {prev})")
            prev = f"_l{k}"
    return "WITH " + ",\n".join(ctes) + f"\nSELECT * FROM {prev}"


def _decimals_sql(comp: ExprCompiler, base: str) -> str:
    """One row: the decimals `tagging.reasons._decimals` picks for each shown column."""
    if not comp.stats:
        return "SELECT 0 AS _none"
    exprs = []
    for (holders, e), col in comp.stats.items():
        a = f"max(CASE WHEN {holders} THEN abs({e}) END)"
        whole = f"min(CASE WHEN {holders} THEN CASE WHEN ({e}) = floor({e}) THEN 1 ELSE 0 END END)"
        small = f"min(CASE WHEN {holders} AND ({e}) <> 0 THEN abs({e}) END)"
        exprs.append(
            f"CASE WHEN {a} IS NULL OR {whole} = 1 THEN 0 WHEN {a} >= 10 THEN 1 "
            f"WHEN {a} >= 1 THEN 2 ELSE CAST(least(10, greatest(2, "
            f"2 - floor(log10(coalesce({small}, CAST(1 AS DOUBLE)))))) AS INTEGER) END "
            f"AS {comp.q(col)}"
        )
    return f"SELECT {', '.join(exprs)} FROM {base}"
