"""The offline importer's input: contract tables as CSV files in the driver load's graph layout.

What it holds: :func:`write_import_files`, which turns the four tables of a `TableSource`
(and its declared PII columns) into CSV files with ``neo4j-admin database import`` headers,
and :class:`ImportFiles`, which names them and gives the importer's arguments.

Why the layout is copied from the driver load, property for property: every read of
`graph.store.neo4j.Neo4jStore` (``read_table``, ``counts``, ``get_customer``, the ego network,
the projection) must give after a bulk import exactly what it gives after ``guanxi load``, so
a delta through the driver, an analysis and Browser's saved queries work on either. So:

- ``(:Customer {customer_id, ...})`` with every attribute of the contract, ``birth_date`` a
  Date, ``registered_at`` a LocalDateTime (UTC wall clock), absent properties for nulls;
- one relationship per relation row, typed ``:REFERRAL``, ``:TRANSFER``, ... with
  ``occurred_at`` (LocalDateTime), ``amount``, ``count``, ``channel``, ``attributes``;
- transactions and events not in the graph but in a facts file (``facts.duckdb``, see
  `graph.store.neo4j.facts`) written by the facts' own upserts, which the caller moves to
  the store's facts location once the import succeeded;
- ``(:GuanxiMeta {key: 'pii_columns', value: [...]})`` when columns were declared PII;
- rows deduplicated on their natural key, first occurrence kept, as the driver load does;
  none of the load-staging properties (``_load``, ``_staged``, ``_new_*``): an import has no
  pending load to hide.

CSV, not Parquet: the importer's CSV typing (``:date``, ``:localdatetime``) is documented and
stable; temporal values are written as ISO strings, a null as an empty unquoted field (no
property), an empty string as ``""`` (an empty string property, as the driver stores it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from graph.errors import StoreError
from graph.model import NATURAL_KEYS, RELATION_TYPES
from graph.store.base import TableSource
from graph.store.common import checked_pii_columns
from graph.store.neo4j.codec import conform, dedup_first
from graph.store.neo4j.facts import FACT_TABLES, Facts
from graph.store.neo4j.statements import REL_TYPES
from graph.store.neo4j_local.import_results import (
    LABEL_COLUMN,
    RunResults,
    customer_columns,
    write_result_files,
)
from graph.store.options import DEFAULT_GRAPH_TAGS

__all__ = ["ImportFiles", "write_import_files"]

#: The database a local server and a default user server serve guanxi from.
DEFAULT_DATABASE = "neo4j"


@dataclass(frozen=True)
class ImportFiles:
    """The importer's input files, what each holds, and how many rows.

    Attributes
    ----------
    folder
        Where the files are.
    nodes
        (label, file) per node file.
    relationships
        (type, file) per relationship file; type None when the file has a ``:TYPE`` column.
    multiline
        Files holding a value with a line break (the importer must be told, per file).
    node_counts, relationship_counts
        Rows per label and per relationship type (relation types upper case).
    facts, fact_counts
        The facts file (transactions, events, the run's tag assignments) and its rows.
    """

    folder: Path
    nodes: tuple[tuple[str, Path], ...]
    relationships: tuple[tuple[str | None, Path], ...]
    multiline: tuple[Path, ...] = ()
    node_counts: dict[str, int] = field(default_factory=dict)
    relationship_counts: dict[str, int] = field(default_factory=dict)
    facts: Path | None = None
    fact_counts: dict[str, int] = field(default_factory=dict)

    def admin_arguments(self, *, database: str = DEFAULT_DATABASE) -> list[str]:
        """The arguments of ``neo4j-admin`` that import these files, replacing `database`.

        Why these and no more: the defaults already fail on a duplicate node or a
        relationship to a missing node (the files are validated, so either is a bug), and
        ``--overwrite-destination`` is how Community Edition refreshes its one database.
        """
        args = ["database", "import", "full", "--overwrite-destination=true"]
        args += [f"--nodes={label}={path}" for label, path in self.nodes]
        args += [
            f"--relationships={path}" if typ is None else f"--relationships={typ}={path}"
            for typ, path in self.relationships
        ]
        if self.multiline:
            # v1 (every file): the per-file v2 parser of 5.26 refuses quoted line breaks
            # ("found CR outside a text cell") that v1 reads
            args.append("--multiline-fields=true")
        args.append(f"--report-file={self.folder / 'import.report'}")
        return [*args, database]

    @property
    def rows(self) -> int:
        """Nodes plus relationships the import writes."""
        return sum(self.node_counts.values()) + sum(self.relationship_counts.values())


Progress = Callable[[str, str], None]


def write_import_files(
    source: TableSource,
    folder: Path,
    *,
    pii_columns: Sequence[str] = (),
    results: RunResults | None = None,
    graph_tags: Sequence[str] = DEFAULT_GRAPH_TAGS,
    progress: Progress | None = None,
) -> ImportFiles:
    """Write the four tables of `source` and its PII declarations as importer CSV files.

    With `results`, a run's metrics, communities, tags and lineage go into the same files
    (`graph.store.neo4j_local.import_results`), as the driver write-back lays them out.

    Parameters
    ----------
    source
        A store holding validated tables (a DuckDB store the loader just filled, or any
        store to copy from); read one table at a time.
    folder
        Created if needed; files of an earlier export there are overwritten.
    pii_columns
        Columns to declare PII in addition to those `source` declares (a source opened
        read-only cannot take them).
    results
        A complete run to import with the data (customers it scored must be in `source`).
    graph_tags
        Tag categories whose assignments become ``HAS_TAG`` (the store's setting).
    progress
        Called as ``progress("export", table)`` before each table.

    Returns
    -------
    ImportFiles

    Raises
    ------
    StoreError
        A relation type outside the contract (the loader never lets one through), or the
        source failed to read.
    ConfigError
        A blank PII column name.
    OSError
        A file could not be written.
    """
    say = progress or (lambda stage, detail: None)
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    nodes: list[tuple[str, Path]] = []
    rels: list[tuple[str | None, Path]] = []
    multiline: list[Path] = []
    node_counts: dict[str, int] = {}
    rel_counts: dict[str, int] = {}

    def write(path: Path, header: list[str], table: pa.Table) -> None:
        _write_csv(path, header, table)
        if _has_line_break(table):
            multiline.append(path)

    say("export", "customers")
    customers = dedup_first(conform(source.read_table("customers"), "customers"), ["customer_id"])
    customer_ids = customers.column("customer_id")
    if results is not None:
        for name, col in zip(*_columns(customer_columns(results, customer_ids)), strict=True):
            customers = customers.append_column(name, col)
    path = folder / "customers.csv"
    write(path, _header(customers, id_column="customer_id", id_space="Customer"), customers)
    nodes.append(("Customer", path))
    node_counts["Customer"] = customers.num_rows
    del customers

    say("export", "relations")
    relations = _relations(source.read_table("relations"))
    path = folder / "relations.csv"
    header = [":START_ID(Customer)", ":END_ID(Customer)", ":TYPE"]
    write(path, header + _header(relations.drop_columns(["src_id", "dst_id", "type"])), relations)
    rels.append((None, path))
    for typ, n in zip(
        *_value_counts(relations.column("type")),
        strict=True,
    ):
        rel_counts[typ] = n
    del relations

    facts = Facts(folder / "facts.duckdb")
    facts.clear()
    for name in FACT_TABLES:
        say("export", name)
        facts.upsert_rows(name, conform(source.read_table(name), name))
    if results is not None:
        facts.replace_tags(results.run.run_id, results.assignments, results.catalog)

    if results is not None:
        say("export", f"run {results.run.run_id}")
        more = write_result_files(
            results, folder, customer_ids, write=write, header=_header, graph_tags=graph_tags
        )
        nodes += more[0]
        rels += more[1]
        node_counts |= more[2]
        rel_counts |= more[3]

    pii = sorted({*source.declared_pii_columns(), *checked_pii_columns(pii_columns)})
    if pii:
        meta = pa.table({"key": ["pii_columns"], "value": [";".join(pii)]})
        path = folder / "meta.csv"
        write(path, ["key:ID(GuanxiMeta)", "value:string[]"], meta)
        nodes.append(("GuanxiMeta", path))
        node_counts["GuanxiMeta"] = 1
    return ImportFiles(
        folder=folder,
        nodes=tuple(nodes),
        relationships=tuple(rels),
        multiline=tuple(multiline),
        node_counts=node_counts,
        relationship_counts=rel_counts,
        facts=facts.path,
        fact_counts=facts.counts(),
    )


def _relations(table: pa.Table) -> pa.Table:
    """Relations deduplicated on their natural key, typed as the driver load types them."""
    table = dedup_first(conform(table, "relations"), list(NATURAL_KEYS["relations"]))
    types = table.column("type")
    unknown = pc.sum(pc.invert(pc.is_in(types, pa.array(list(REL_TYPES))))).as_py()
    if unknown:
        raise StoreError(f"relations: {unknown} row(s) with a type not in {RELATION_TYPES}")
    return table.set_column(table.schema.get_field_index("type"), "type", pc.utf8_upper(types))


def _columns(table: pa.Table) -> tuple[list[str], list[pa.ChunkedArray]]:
    return table.column_names, table.columns


def _value_counts(col: pa.ChunkedArray) -> tuple[list[str], list[int]]:
    counts = pc.value_counts(col).to_pylist()
    return [c["values"] for c in counts], [c["counts"] for c in counts]


#: The importer's type of each Arrow type the contract uses (strings need none).
_TYPES = {
    pa.timestamp("us"): "localdatetime",
    pa.date32(): "date",
    pa.int32(): "long",
    pa.int64(): "long",
    pa.float64(): "double",
    pa.bool_(): "boolean",
}


def _header(table: pa.Table, *, id_column: str | None = None, id_space: str = "") -> list[str]:
    """``name:type`` per column; the id column as ``name:ID(space)``, which keeps it a property."""
    out = []
    for f in table.schema:
        if f.name == id_column:
            out.append(f"{f.name}:ID({id_space})")
        elif f.name == LABEL_COLUMN:
            out.append(f.name)
        elif f.type in _TYPES:
            out.append(f"{f.name}:{_TYPES[f.type]}")
        elif pa.types.is_string(f.type):
            out.append(f.name)
        elif f.type == pa.list_(pa.string()):
            out.append(f"{f.name}:string[]")
        else:
            raise TypeError(f"no importer type for column {f.name} of type {f.type}")
    return out


def _csv_ready(table: pa.Table) -> pa.Table:
    """Temporal columns as the ISO text the importer parses (microseconds kept); string lists
    joined by ``;``, the importer's array delimiter (a null list: no property)."""
    cols = []
    for f in table.schema:
        col = table.column(f.name)
        if f.type == pa.timestamp("us"):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S")
        elif f.type == pa.date32():
            col = pc.cast(col, pa.string())
        elif pa.types.is_list(f.type):
            col = pc.binary_join(col, ";")
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


def _write_csv(path: Path, header: list[str], table: pa.Table) -> None:
    """One importer file: our header line, then the rows (strings quoted, nulls empty)."""
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    with path.open("wb") as fh:
        fh.write((",".join(header) + "\n").encode("utf-8"))
        pacsv.write_csv(_csv_ready(table), fh, write_options=options)


def _has_line_break(table: pa.Table) -> bool:
    """Whether any string value holds a line break (the importer needs to know)."""
    for f in table.schema:
        if pa.types.is_string(f.type):
            hits = pc.match_substring_regex(table.column(f.name), "[\r\n]")
            if pc.any(hits).as_py():
                return True
    return False
