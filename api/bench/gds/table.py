"""The rich table a GDS benchmark result prints: seconds per measure, totals, memory."""

from __future__ import annotations

from typing import Any

from api.bench.gds.params import MEASURES


def gds_table(result: dict) -> Any:
    """A rich Table of a :func:`run_gds_bench` result: seconds per measure, totals, memory."""
    from rich.table import Table

    gx, gd = result.get("guanxi_s", {}), result.get("gds_s", {})
    t = Table(
        title=f"guanxi vs Neo4j GDS {result.get('gds_version', '')}, "
        f"{result.get('customers', 0):,} customers"
    )
    for c in ("measure", "guanxi s", "GDS s"):
        t.add_column(c, justify="left" if c == "measure" else "right")
    fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
    if "id_map" in gd:
        t.add_row("customer-id map", "(in projection)", fmt(gd["id_map"]))
    for m in MEASURES:
        t.add_row(m.replace("_", " "), fmt(gx.get(m)), fmt(gd.get(m)))
    t.add_row(
        "[bold]total[/bold]", fmt(result.get("guanxi_total_s")), fmt(result.get("gds_total_s"))
    )
    mem = result.get("memory_mb", {})
    t.add_row(
        "peak RSS MB",
        f"{mem.get('python_rss_peak_guanxi') or 0:,.0f} (python)",
        f"{mem.get('server_rss_peak_gds') or 0:,.0f} (server)",
    )
    t.caption = (
        f"ratio guanxi/GDS {result.get('ratio')}  ·  PageRank Spearman "
        f"{result.get('pagerank_spearman')}  ·  modularity guanxi {result.get('modularity_guanxi')}"
        f" / GDS {result.get('modularity_gds')}  ·  top-100 overlap {result.get('top100_overlap')}"
        f"  ·  full analyze {result.get('guanxi_full_analyze_s')} s"
    )
    return t
