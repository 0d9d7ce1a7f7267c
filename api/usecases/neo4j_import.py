"""`guanxi neo4j import`: a folder (or a store) into Neo4j through its offline importer.

The folder is validated by the loader itself, into a temporary DuckDB store: the quarantine
files, reasons and per-table counts are those `guanxi load` gives for the same folder into an
empty store, because they come from the same code. The validated tables are then exported as
the importer's files (`graph.store.neo4j_local.import_files`), in the graph layout of the
driver load, so every reader of the Neo4j store sees the same data either way.

For the local server (``--dir``) the import runs here: stop, ``neo4j-admin database import
full`` with overwrite, start, and the store's own schema statements (constraints, indexes)
when it opens. For a server guanxi does not run (a Bolt URI) the files are written and the
exact ``neo4j-admin`` command is returned for its operator. Transactions, events and the
run's tag assignments are not in the graph (`graph.store.neo4j.facts`): the import writes
them into a facts file, moved to the store's facts location once Neo4j is back (for a user's
server, a note says where to move it).

With ``with_results`` a run is imported in the same pass (ready for Browser in one step):
for a folder, the run ``guanxi analyze`` makes on the validated tables in the temporary
DuckDB store (the DuckDB path is the fast one, and the tables are already there); with
``--from-store``, that store's latest complete run. Its metrics, communities, tags, labels
and lineage are written as the driver write-back lays them out
(`graph.store.neo4j_local.import_results`).

PII declarations survive the refresh: columns the target store declared before (read when it
is reachable) are declared again, with ``--pii-columns``' and the source store's, so that no
reader sees them unmasked after the import and the quarantine files mask them too.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from graph.errors import ConfigError, StoreUnavailable
from graph.model import RELATION_TYPES, TABLES, TableCounts
from graph.store import NEO4J_SCHEMES, open_store
from loaders.ingest import LoadReport, load_folder

if TYPE_CHECKING:
    from api.settings import Settings

__all__ = ["ImportReport", "import_into_neo4j"]

Progress = Callable[[str, str], None]

#: Where a local server's import files go, inside its folder (Neo4j's own import folder).
LOCAL_FILES = Path("import") / "guanxi"


@dataclass
class ImportReport:
    """What an import did: the load report's counts, what Neo4j holds, the timings.

    ``command`` is set when the import was left to the operator of a user's server;
    ``run_id`` is the run imported with ``with_results`` (None without).
    """

    store: str
    load: LoadReport
    customers: int
    relations: int
    nodes: dict[str, int]
    relationships: dict[str, int]
    files: str
    seconds: float
    import_seconds: float | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    command: str | None = None
    run_id: str | None = None
    notes: list[str] = field(default_factory=list)
    facts: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Input rows loaded (after validation), over all four tables."""
        return sum(t.loaded for t in self.load.tables.values())

    def as_dict(self) -> dict:
        """The ``--json`` document: `guanxi load --json`'s keys plus the import's."""
        return {
            "store": self.store,
            **self.load.as_dict(),
            "customers": self.customers,
            "relations": self.relations,
            "nodes": self.nodes,
            "relationships": self.relationships,
            "facts": self.facts,
            "rows": self.rows,
            "seconds": round(self.seconds, 2),
            "import_seconds": None
            if self.import_seconds is None
            else round(self.import_seconds, 2),
            "rows_per_second": round(self.rows / self.seconds) if self.seconds > 0 else None,
            "stage_seconds": {k: round(v, 2) for k, v in self.stage_seconds.items()},
            "files": self.files,
            "command": self.command,
            "run_id": self.run_id,
            "notes": self.notes,
        }


def import_into_neo4j(
    folder: Path | None,
    *,
    from_store: str | None = None,
    dir: Path | None = None,
    target: str | None = None,
    out: Path | None = None,
    quarantine_dir: Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    pii_columns: Sequence[str] = (),
    quarantine_raw: bool = False,
    with_results: bool = False,
    progress: Progress | None = None,
    settings: Settings | None = None,
) -> ImportReport:
    """Validate `folder` (or read `from_store`) and bulk-import it into Neo4j.

    Parameters
    ----------
    folder
        Contract tables to validate as `guanxi load` does; None with `from_store`.
    from_store
        A store URI to copy the tables (and PII declarations) from, instead of a folder.
    dir
        A local server folder (``guanxi neo4j local start --dir``): the import runs here.
    target
        A Bolt URI of a server guanxi does not run: files and the command only.
    out
        Where the files go for `target` (default ``./guanxi-neo4j-import``); for `dir`
        they go to ``DIR/import/guanxi`` and are deleted after a successful import.
    quarantine_dir, encoding, delimiter, pii_columns, quarantine_raw
        As for `guanxi load` (`loaders.ingest.load_folder`).
    with_results
        Also import a run's results (metrics, communities, tags, labels, lineage) in the
        same pass, as the driver write-back lays them out: for a folder, the run of
        ``guanxi analyze`` on the validated tables (in the temporary DuckDB store, with the
        settings' seed and rule file); with `from_store`, that store's latest complete run.

    Raises
    ------
    ConfigError
        `with_results` and `from_store` holds no complete run; neither or both of
        `folder`/`from_store`, or of `dir`/`target`;
        no server at `dir`;
        Java or Maven missing; a setting refused.
    MissingFile, MissingColumns, UnreadableFile
        The folder cannot be validated; nothing was written to Neo4j.
    StoreUnavailable
        The importer failed (its log and report tail in the message), or a store could not
        be reached.
    """
    from api.settings import get_settings
    from graph.store.neo4j_local import import_files, import_results, importer

    if (folder is None) == (from_store is None):
        raise ConfigError("give either a folder to import or --from-store URI, not both")
    if (dir is None) == (target is None):
        raise ConfigError(
            "give --dir D (a local server started with `guanxi neo4j local start --dir D`) "
            "or --store bolt://HOST:PORT (your own server), not both"
        )
    if target is not None and not target.startswith(NEO4J_SCHEMES):
        raise ConfigError(
            f"--store {target!r} is not a Neo4j URI; give bolt://HOST:PORT, or --dir D for a "
            "local server"
        )
    s = settings or get_settings()
    began = time.monotonic()
    run_id = None
    say = _StageClock(progress)
    notes: list[str] = []
    if dir is not None:
        dir = Path(dir).expanduser().resolve()
        server = _local_server(dir)
        uri, password = server["bolt_uri"], server["password"]
        files_dir = dir / LOCAL_FILES
    else:
        uri, password = str(target), s.neo4j.password_value()
        files_dir = Path(out or "guanxi-neo4j-import").resolve()
    options = dataclasses.replace(s.neo4j.store_options(), password=password)
    if dir is not None:
        options = dataclasses.replace(options, user=server.get("user") or "neo4j")
    running = dir is None or bool(server.get("running"))
    declared = _declared_pii(uri, options, running=running, notes=notes)

    files_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="validated-", dir=files_dir.parent) as tmp:
        say("validate", str(folder or from_store))
        source_uri = from_store or f"duckdb:///{Path(tmp) / 'validated.duckdb'}"
        extra: list[str] = []
        source_options = s.neo4j.store_options()  # a Neo4j source: the settings' credentials
        with open_store(
            source_uri, read_only=from_store is not None, neo4j=source_options
        ) as source:
            if folder is not None:
                if declared:
                    source.declare_pii_columns(declared)
                report = load_folder(
                    source,
                    Path(folder),
                    quarantine_dir=quarantine_dir,
                    encoding=encoding,
                    delimiter=delimiter,
                    pii_columns=pii_columns,
                    quarantine_raw=quarantine_raw,
                    progress=say,
                )
            else:
                report = _copy_report(source.counts())
                extra = [*declared, *pii_columns]
            results = None
            if with_results:
                if folder is not None:
                    _analyze(source, settings=s, progress=say)
                results = import_results.read_run_results(
                    source, where=from_store or "the validated store"
                )
                run_id = results.run.run_id
            say("export", str(files_dir))
            files = import_files.write_import_files(
                source,
                files_dir,
                pii_columns=extra,
                results=results,
                graph_tags=s.neo4j.graph_tags,
                progress=say,
            )

    database = s.neo4j.database or import_files.DEFAULT_DATABASE
    command = import_seconds = None
    if dir is not None:
        say("import", "stop, neo4j-admin database import full, start")
        # a heap not set explicitly is the one the server was started with
        heap = s.neo4j.heap if "heap" in s.neo4j.model_fields_set else None
        done = importer.import_into_local(dir, files, heap=heap, pagecache=s.neo4j.pagecache)
        import_seconds = done.import_seconds
        say("schema", "constraints and indexes")
        with open_store(uri, neo4j=options) as st:  # the store's own schema statements
            _install_facts(files, st.facts)
            if results is not None:
                say("lineage", f"run {run_id}")
                # the importer drops empty lists, which lineage rows hold: the driver writes
                # them (one row per community event), as the write-back does
                st.write_lineage(run_id, results.lineage)
            counts = st.counts()
        shutil.rmtree(files_dir, ignore_errors=True)
        customers, relations = counts["customers"], counts["relations"]
    else:
        command = importer.admin_command(files, database=database)
        notes.append(
            f"after the import, move {files.facts} to the store's facts file: "
            "GUANXI_NEO4J_FACTS, else guanxi/facts.duckdb in the server's data directory"
        )
        if results is not None:
            notes.append(
                f"run {run_id}'s community lineage is not in the files (the importer drops "
                "empty lists); its other results are, and the lineage reads of that run fail"
            )
        customers = files.node_counts.get("Customer", 0)
        relations = sum(files.relationship_counts.get(t.upper(), 0) for t in RELATION_TYPES)
    return ImportReport(
        store=uri,
        load=report,
        customers=customers,
        relations=relations,
        nodes=dict(files.node_counts),
        relationships=dict(files.relationship_counts),
        facts=dict(files.fact_counts),
        files=str(files_dir),
        seconds=time.monotonic() - began,
        stage_seconds=say.stop(),
        import_seconds=import_seconds,
        command=command,
        run_id=run_id,
        notes=notes,
    )


def _install_facts(files, facts) -> None:
    """Put the import's facts file where the store reads it, replacing the old one whole."""
    facts.clear()
    facts.path.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(files.facts, facts.path)


def _analyze(store, *, settings: Settings, progress: Progress) -> None:
    """``guanxi analyze`` on the validated store, reported as the ``analyze`` stage."""
    from api.usecases.analysis import analyze

    progress("analyze", "projection")
    analyze(
        store,
        seed=settings.seed,
        rules_path=settings.rules_path,
        progress=lambda stage, frac: progress("analyze", stage),
    )


class _StageClock:
    """The progress callback that also times each stage (until the next one starts)."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._stage = "prepare"
        self._since = time.monotonic()
        self.seconds: dict[str, float] = {}

    def __call__(self, stage: str, detail: str) -> None:
        self.stop()
        self._stage = stage
        if self._progress is not None:
            self._progress(stage, detail)

    def stop(self) -> dict[str, float]:
        """Seconds per stage so far, the current one's clock read (and restarted)."""
        now = time.monotonic()
        self.seconds[self._stage] = self.seconds.get(self._stage, 0.0) + now - self._since
        self._since = now
        return self.seconds


def _declared_pii(uri: str, options, *, running: bool, notes: list[str]) -> list[str]:
    """The PII columns the target store declares now, so the refresh keeps them declared."""
    what = (
        f"PII columns declared in {uri} before were not read; name them with --pii-columns "
        "to keep them masked"
    )
    if not running:
        notes.append(f"the server was not running: {what}")
        return []
    try:
        with open_store(uri, neo4j=options) as st:
            return list(st.declared_pii_columns())
    except StoreUnavailable as exc:
        notes.append(f"{exc}: {what}")
        return []


def _copy_report(counts: dict[str, int]) -> LoadReport:
    """The load report of a copy from a store: every stored row read and loaded once."""
    return LoadReport(
        tables={
            t: TableCounts(read=counts[t], loaded=counts[t], inserted=counts[t]) for t in TABLES
        }
    )


def _local_server(dir: Path) -> dict:
    from graph.store import neo4j_local

    neo4j_local.check_prerequisites()  # before validating a big folder for nothing
    info = neo4j_local.status(dir)
    if "bolt_uri" not in info or "password" not in info:
        raise ConfigError(
            f"no local Neo4j server found at {dir}; start one with "
            f"`guanxi neo4j local start --dir {dir}`, or give --store bolt://HOST:PORT for "
            "your own server"
        )
    return info
