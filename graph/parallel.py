"""Independent metric families on several cores, with the sequential run's exact numbers.

python-igraph holds the GIL inside its C calls, so threads would take turns. The families
run instead in worker processes forked from the one that holds the graphs: a forked child
reads the parent's igraph and numpy memory without a copy (pages are shared until written),
so nothing is pickled on the way in, and only the result arrays come back. Each task is the
very function call the sequential path makes, so the numbers are identical for any number
of workers; the order the results arrive in does not matter, because they are combined by
name.

Where ``fork`` is unavailable (not Linux or macOS), or one worker is asked for, the tasks
run one after another in this process.

A task must not use OpenMP: GNU OpenMP's thread pool does not survive a fork, so a child
that calls an OpenMP routine after its parent has used one waits forever. In igraph that is
PageRank (PRPACK); the caller computes it in its own process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

__all__ = ["default_workers", "run_tasks"]

# The tasks of the run in progress, read by forked workers (set before the pool forks).
_TASKS: Mapping[str, Callable[[], Any]] = {}


def default_workers() -> int:
    """Every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_tasks(
    tasks: Mapping[str, Callable[[], Any]],
    *,
    workers: int,
    order: list[str] | None = None,
    done: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Run every task, on up to ``workers`` processes, and return the results by name.

    Parameters
    ----------
    tasks
        Name -> function of no arguments; functions may read anything this process
        holds (forked workers see it as it was when the pool started).
    workers
        Processes to use; 1 runs the tasks here, in ``order``.
    order
        Submission order (longest first balances the cores best); default: ``tasks``'.
    done
        Called as ``done(name, seconds)`` in this process as each task finishes, with the
        seconds the task itself took.

    Returns
    -------
    dict
        Name -> the task's return value.
    """
    global _TASKS
    names = list(order or tasks)
    report = done or (lambda name, seconds: None)
    if workers <= 1 or len(names) <= 1 or "fork" not in mp.get_all_start_methods():
        out: dict[str, Any] = {}
        for name in names:
            result, seconds = _timed(tasks[name])
            out[name] = result
            report(name, seconds)
        return out
    _TASKS = tasks
    try:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(names)), mp_context=mp.get_context("fork")
        ) as pool:
            pending = {pool.submit(_run, name): name for name in names}
            out = {}
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    name = pending.pop(fut)
                    out[name], seconds = fut.result()
                    report(name, seconds)
            return out
    finally:
        _TASKS = {}


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t


def _run(name: str) -> tuple[Any, float]:
    """In a forked worker: the named task of the run in progress."""
    return _timed(_TASKS[name])
