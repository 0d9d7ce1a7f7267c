"""Write-back to Neo4j: a re-run replaces the previous one cleanly, history is bounded.

Why: analysts query the written-back graph in Neo4j Browser. A second `guanxi analyze` must
not leave orphaned :Community nodes or stale tag labels behind, and `guanxi tags diff` needs
the last few runs' HAS_TAG relationships while older ones are pruned (see the module
docstring of graph.store.neo4j.runs).
"""

from __future__ import annotations

import pytest

from api import usecases
from graph.errors import RunNotFound
from graph.store.neo4j import TAG_LABELS, RunResultsUnavailable
from loaders.generate import generate, write_dataset
from loaders.ingest import load_folder
from tests.graph.store.conftest import open_neo4j

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


@pytest.fixture
def neo(neo4j_server, tmp_path):
    s = open_neo4j(neo4j_server, history_runs=2)
    s.clear()
    d = tmp_path / "data"
    write_dataset(generate(250, seed=3), d, fmt="csv")
    load_folder(s, d, quarantine_dir=tmp_path / "q")
    yield s
    s.close()


def _scalar(store, cypher: str, **params):
    with store.bolt.session() as s:
        return s.run(cypher, params).single()[0]


def test_rerun_replaces_writeback_and_prunes_history(neo):
    runs = [usecases.analyze(neo, seed=s).run for s in (1, 2, 3)]
    latest = runs[-1].run_id
    # no :Community node is left without members
    orphans = (
        "MATCH (k:Community) WHERE NOT EXISTS { MATCH ()-[:IN_COMMUNITY]->(k) } RETURN count(k)"
    )
    assert _scalar(neo, orphans) == 0
    assert _scalar(neo, "MATCH (k:Community) WHERE k.run_id <> $r RETURN count(k)", r=latest) == 0
    n_comm = len(neo.read_communities(latest))
    assert _scalar(neo, "MATCH (k:Community) RETURN count(k)") == n_comm
    members = _scalar(neo, "MATCH (:Customer)-[m:IN_COMMUNITY]->() RETURN count(m)")
    assert members == neo.counts()["customers"]
    assert (
        _scalar(neo, "MATCH (c:Customer) WHERE c.metrics_run_id <> $r RETURN count(c)", r=latest)
        == 0
    )

    tags = neo.read_tags(latest)
    for tag_id, label in TAG_LABELS.items():
        want = tags.loc[tags["tag_id"] == tag_id, "customer_id"].nunique()
        assert _scalar(neo, f"MATCH (c:{label}) RETURN count(c)") == want, label

    # history_runs=2: the first run's assignments are gone, the last two are kept
    kept = _scalar(neo, "MATCH ()-[h:HAS_TAG]->() RETURN collect(DISTINCT h.run_id)")
    assert sorted(kept) == sorted(r.run_id for r in runs[1:])
    with pytest.raises(RunResultsUnavailable, match="no longer kept"):
        neo.read_tags(runs[0].run_id)
    with pytest.raises(RunNotFound, match="no longer kept"):
        neo.read_metrics(runs[1].run_id)
    assert len(neo.read_tags(runs[1].run_id)) > 0
    assert len(neo.read_catalog(runs[0].run_id)) > 0  # the catalog lives on the :Run node
    assert [r.run_id for r in neo.list_runs()] == [r.run_id for r in reversed(runs)]
    assert _scalar(
        neo, "MATCH (t:Tag) WHERE NOT EXISTS { MATCH ()-[:HAS_TAG]->(t) } RETURN count(t)"
    ) <= len(neo.read_catalog(latest))


def test_lean_model_tags_in_the_graph_and_beside_it(neo, neo4j_server):
    """Every tag as ``c.tags``; ``HAS_TAG`` only for the configured categories; every
    assignment, reason included, read back from the facts file; no fact row in the graph.

    The reference is the run's own assignments (``analyze``'s result) and the catalog's
    categories; a second store on the same server with ``graph_tags=("value",)`` writes
    ``HAS_TAG`` for exactly the value tags and the same ``c.tags``.
    """
    result = usecases.analyze(neo, seed=1)
    run_id = result.run.run_id
    tags = neo.read_tags(run_id)
    cat = neo.read_catalog(run_id)
    lists = tags.groupby("customer_id")["tag_id"].agg(lambda x: sorted(set(x))).to_dict()

    def graph_side(store) -> tuple[dict, set]:
        with store.bolt.session() as s:
            got = dict(
                s.run(
                    "MATCH (c:Customer) WHERE c.tags IS NOT NULL RETURN c.customer_id, c.tags"
                ).values()
            )
            rels = {
                tuple(r)
                for r in s.run(
                    "MATCH (c)-[:HAS_TAG {run_id: $r}]->(t:Tag) RETURN c.customer_id, t.tag_id",
                    r=run_id,
                ).values()
            }
        return got, rels

    def of(categories) -> set:
        ids = set(cat.loc[cat["category"].isin(categories), "tag_id"])
        picked = tags[tags["tag_id"].isin(ids)]
        return set(zip(picked["customer_id"], picked["tag_id"], strict=True))

    got, rels = graph_side(neo)
    assert got == lists and rels == of(["social", "risk"]) and 0 < len(rels) < len(tags)
    assert tags["reason"].str.len().min() > 0  # every reason kept, not only the graph's
    assert _scalar(neo, "MATCH (n) WHERE n:Transaction OR n:Event RETURN count(n)") == 0
    assert neo.facts.path.is_file() and neo.counts()["transactions"] > 0

    with open_neo4j(neo4j_server, graph_tags=("value",)) as other:
        usecases.analyze(other, seed=1)
        run2 = other.list_runs()[0].run_id
        tags = other.read_tags(run2)
        with other.bolt.session() as s:
            rels = {
                tuple(r)
                for r in s.run(
                    "MATCH (c)-[:HAS_TAG {run_id: $r}]->(t:Tag) RETURN c.customer_id, t.tag_id",
                    r=run2,
                ).values()
            }
        assert rels == of(["value"]) and rels
