"""Named crash points: `failpoint(name)` kills the process there once `arm` has named it.

The crash-safety tests (tests/graph/store/test_kill_matrix.py) run the real `guanxi load` and
`guanxi analyze` in a subprocess with ``GUANXI_FAILPOINT`` naming one point (the CLI reads it
through `api.settings` and calls `arm`; this module never reads the environment), and check that
what readers are served afterwards is still the last complete state. The process is ended
with SIGKILL, not an exception: no ``finally``, no ``__exit__``, no driver close and no
DuckDB checkpoint runs, which is what a power cut or the OOM killer does to a real run.

A point costs one comparison when nothing is armed, so points may sit inside
write loops. Names are ``<command>.<what has just happened>``; :data:`POINTS` lists them all so
that a test cannot name a point that no code reaches.
"""

from __future__ import annotations

import os
import signal

from graph.errors import ConfigError

__all__ = ["ENV", "POINTS", "arm", "failpoint"]

#: The environment variable the settings read the point to die at from (tests set it).
ENV = "GUANXI_FAILPOINT"

_armed: str | None = None

#: Every point the code passes, with when it fires.
POINTS: dict[str, str] = {
    "load.customers.batch": "customers: after the first batch is written, before the table commits",
    "load.customers.done": "customers committed, relations not started",
    "load.relations.batch": "relations: after the first batch is written, before the table commits",
    "load.relations.done": "relations committed, transactions not started",
    "load.transactions.batch": "transactions: after the first batch, before the table commits",
    "load.transactions.done": "transactions committed, events not started",
    "load.events.batch": "events: after the first batch, before the table commits",
    "load.events.done": "every table committed",
    "analyze.projected": "graph read and metrics computed, nothing written yet",
    "analyze.communities.batch": "run record and the first batch of communities written",
    "analyze.metrics.batch": "the first batch of per-customer metrics written",
    "analyze.metrics.done": "metrics and communities written, tags not started",
    "analyze.tags.batch": "the first batch of tag assignments written",
    "analyze.tags.done": "every tag written, the run not yet published",
    "analyze.published": "the run published (visible), housekeeping not started",
    "analyze.labels.batch": "published; the first social-tag label written back (Neo4j)",
}


def arm(name: str | None) -> None:
    """Make `failpoint(name)` kill this process from now on (None: disarm every point).

    Parameters
    ----------
    name
        One of :data:`POINTS`, or None.

    Raises
    ------
    ConfigError
        `name` is not a known point: a test naming it would wait for a crash that never comes.
    """
    global _armed
    if name is not None and name not in POINTS:
        raise ConfigError(
            f"GUANXI_FAILPOINT {name!r} is no failpoint; use one of {', '.join(POINTS)}"
        )
    _armed = name


def failpoint(name: str) -> None:
    """SIGKILL this process if `arm` named `name`; otherwise do nothing.

    Parameters
    ----------
    name
        One of :data:`POINTS`.

    Notes
    -----
    Nothing is flushed: the point of the exercise is to leave the store exactly as a crash
    would. Output already written to stdout may be lost.
    """
    if _armed == name:
        os.kill(os.getpid(), signal.SIGKILL)
