"""Neo4j Browser kit: a GRASS stylesheet and saved queries for the analysts' questions.

Browser styles nodes by label only, not by property value, which is why the write-back puts
the social tags on customers as labels (:OpinionLeader, :Bridge, ...). Captions show the
customer id, community and influence, never a name or phone number.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

__all__ = ["saved_queries", "stylesheet", "write_browser_kit"]

_PKG = "graph.store.browser_kit"


def stylesheet() -> str:
    return resources.files(_PKG).joinpath("guanxi.grass").read_text(encoding="utf-8")


def saved_queries() -> dict[str, str]:
    """Saved query name -> Cypher text (comments included), in file order."""
    files = sorted(p for p in resources.files(_PKG).iterdir() if p.name.endswith(".cypher"))
    return {p.name.removesuffix(".cypher"): p.read_text(encoding="utf-8") for p in files}


def query_parameters(text: str) -> list[str]:
    """The $parameters a saved query expects (set in Browser with :param)."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    return sorted(set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", body)))


def write_browser_kit(out: Path) -> list[Path]:
    """Write guanxi.grass and one .cypher file per saved query into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "guanxi.grass"]
    written[0].write_text(stylesheet(), encoding="utf-8")
    for name, text in saved_queries().items():
        p = out / f"{name}.cypher"
        p.write_text(text, encoding="utf-8")
        written.append(p)
    return written
