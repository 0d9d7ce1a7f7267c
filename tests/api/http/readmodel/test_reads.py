"""The read model over a real DuckDB store: every way of loading tags gives the same
answers, a new run is served once built, customers loaded later are found in the store."""

from __future__ import annotations

import threading
import time

import pytest

from api.http.readmodel import tag_index
from api.http.readmodel.reads import Reads
from api.usecases.encoding import json_bytes
from graph.errors import CustomerNotFound


class _Delegate:
    """A store that forwards everything to a real one (the GraphStore protocol only)."""

    def __init__(self, store) -> None:
        self._store = store
        self.uri = store.uri

    def __getattr__(self, name):
        if name == "scan_tags":  # the optional fast path; subclasses may add their own
            raise AttributeError(name)
        return getattr(self._store, name)


class _Streaming(_Delegate):
    """Adds `scan_tags` (small batches, so dictionary unification across batches is used)."""

    def scan_tags(self, run_id: str):
        import pyarrow as pa

        df = self._store.read_tags(run_id)[["customer_id", "tag_id", "score", "reason"]]
        yield from pa.Table.from_pandas(df, preserve_index=False).to_batches(max_chunksize=997)


class _Hiding(_Delegate):
    """Hides the newest run until `reveal` is set, as if `guanxi analyze` just finished."""

    reveal = False

    def list_runs(self):
        runs = self._store.list_runs()
        return runs if self.reveal else runs[1:]


@pytest.fixture(scope="module")
def ro_store(api_store_uri):
    from graph.store import open_store

    with open_store(api_store_uri, read_only=True) as store:
        yield store


def _answers(reads, customer_ids: list[str], community_id: str) -> list:
    out = [reads.customer(c, unmasked=u) for c in customer_ids for u in (False, True)]
    for query in (
        {"limit": 30},
        {"limit": 7, "offset": 40},
        {"limit": 10, "tag_id": "opinion_leader"},
        {"limit": 10, "community_id": community_id},
        {"limit": 10, "community_id": community_id, "tag_id": "family_customer"},
    ):
        out.append(reads.influencers(**query))
        assert reads.influencers_json(**query) == json_bytes(out[-1])
    out.append(reads.community(community_id))
    return out


def test_every_way_of_loading_tags_gives_the_same_answers(ro_store, monkeypatch):

    ids = ro_store.customer_ids().to_pylist()[::97]
    full = Reads("x", store=_Delegate(ro_store))  # no scan_tags, small run: one read_tags
    community_id = full.communities(limit=1, offset=0)["data"][0]["community_id"]
    expected = _answers(full, ids, community_id)
    assert full.refresher.served.cache.tag_index is not None
    streamed = Reads("x", store=_Streaming(ro_store))
    assert _answers(streamed, ids, community_id) == expected
    monkeypatch.setattr(tag_index, "FULL_READ_LIMIT", 0)
    per_request = Reads("x", store=_Delegate(ro_store))  # too large: tags read per request
    assert _answers(per_request, ids, community_id) == expected
    assert per_request.refresher.served.cache.tag_index is None
    native = Reads("x", store=ro_store)  # the store's own scan_tags
    assert _answers(native, ids, community_id) == expected
    # profiles keep the store's order of tags: score descending, then tag id
    tags = expected[0]["tags"]
    assert tags == sorted(tags, key=lambda t: (-t["score"], t["tag_id"]))


def test_a_new_run_is_served_once_built(ro_store):
    store = _Hiding(ro_store)
    reads = Reads("x", store=store, run_ttl=0.0)
    old = reads.influencers(limit=3)["run_id"]
    store.reveal = True
    new = ro_store.list_runs()[0].run_id
    assert new != old
    deadline = time.monotonic() + 30
    while reads.influencers(limit=3)["run_id"] != new:
        assert time.monotonic() < deadline, "the new run was never served"
        time.sleep(0.05)
    assert reads.health()["served_run_id"] == new


def test_unknown_customer_is_looked_up_in_the_store(ro_store):

    reads = Reads("x", store=ro_store)
    reads.warm()
    assert reads.customer_json_from_memory("NO-SUCH", unmasked=False) is None
    with pytest.raises(CustomerNotFound):
        reads.customer("NO-SUCH", unmasked=False)


def test_close_waits_for_the_background_reads(api_store_uri) -> None:
    """A read running in the background when the app shuts down finishes before the store
    closes, and nothing starts after (a DuckDB connection closed under a read fails)."""
    reads = Reads(api_store_uri)
    started, done = threading.Event(), []

    def slow_read() -> None:
        started.set()
        time.sleep(0.5)  # the store is closed meanwhile unless close waits
        done.append(reads.store.counts())

    reads.refresher.background(slow_read, "test-read")
    assert started.wait(10)
    reads.close()
    assert done and done[0]["customers"] > 0
    late = []
    reads.refresher.background(lambda: late.append(1), "after-close")
    time.sleep(0.2)
    assert late == []
