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

Peak memory per task and per stage (:class:`StagePeaks`) is the kernel's high-water mark of
resident memory (``VmHWM``), reset before the task or stage by writing ``5`` to
``/proc/self/clear_refs`` (Linux). Sampling would miss a short spike; the high-water mark
cannot. A forked worker's figure counts the parent pages it maps (the shared graph) as well
as its own. Where ``/proc`` cannot be read or reset the figures are None. Resetting the mark
also lowers what ``getrusage``/``time -v`` report afterwards for this process, so the
process-wide peak is the maximum over the stages (:meth:`StagePeaks.maximum`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

__all__ = [
    "StagePeaks",
    "available_memory_mb",
    "default_workers",
    "peak_rss_mb",
    "release_memory",
    "reset_peak_rss",
    "run_tasks",
]

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
    peaks: dict[str, float | None] | None = None,
    exclusive: Collection[str] = (),
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
    peaks
        When given, filled with name -> the task's peak resident memory in MB (the
        high-water mark of the process it ran in, reset when it started; None where the
        mark cannot be read).
    exclusive
        Tasks of which at most one runs at a time: those whose own memory would not fit
        twice beside the shared graph. While none of them runs, a free worker takes the
        first one waiting (so they follow one another on one worker, beside the others);
        while one runs, it takes the first other task. The results are the same.

    Returns
    -------
    dict
        Name -> the task's return value.
    """
    global _TASKS
    names = list(order or tasks)
    report = done or (lambda name, seconds: None)
    peak_of = peaks if peaks is not None else {}
    if workers <= 1 or len(names) <= 1 or "fork" not in mp.get_all_start_methods():
        out: dict[str, Any] = {}
        for name in names:
            result, seconds, peak_of[name] = _timed(tasks[name])
            out[name] = result
            report(name, seconds)
        return out
    heavy = set(exclusive)
    slots = min(workers, len(names))

    def take(running: Collection[str]) -> str | None:
        """The next task to start beside ``running``, None when none may start now."""
        if not names or not heavy:
            return names.pop(0) if names else None
        busy = any(name in heavy for name in running)
        # while no exclusive task runs, start the first one; while one runs, only the others
        for i, name in enumerate(names):
            if (name in heavy) != busy:
                return names.pop(i)
        return None if busy else names.pop(0)

    _TASKS = tasks
    try:
        with ProcessPoolExecutor(max_workers=slots, mp_context=mp.get_context("fork")) as pool:
            pending: dict[Any, str] = {}
            out = {}
            while names or pending:
                while len(pending) < slots and (name := take(pending.values())) is not None:
                    pending[pool.submit(_run, name)] = name
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    name = pending.pop(fut)
                    out[name], seconds, peak_of[name] = fut.result()
                    report(name, seconds)
            return out
    finally:
        _TASKS = {}


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float | None]:
    """The result, the seconds and the peak RSS (MB) of one call, in this process."""
    reset_peak_rss()
    t = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t, peak_rss_mb()


def _run(name: str) -> tuple[Any, float, float | None]:
    """In a forked worker: the named task of the run in progress."""
    return _timed(_TASKS[name])


def release_memory() -> None:
    """Hand memory freed by the stage that just ended back to the operating system.

    Python objects freed by a stage (an igraph edge list, a fact table) leave their pages
    with the C allocator, which keeps them for reuse; the next stage's own arrays (NumPy,
    Arrow, DuckDB) come from elsewhere, so without this the process holds both. Collects
    reference cycles, then asks glibc to trim its heap (no-op elsewhere) and Arrow's
    pool to release what it caches.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with contextlib.suppress(ImportError, AttributeError):
        import pyarrow as pa

        pa.default_memory_pool().release_unused()


def available_memory_mb() -> float | None:
    """Memory the kernel could give this process now (``MemAvailable``), None if unknown."""
    return _proc_mb("/proc/meminfo", "MemAvailable:")


def reset_peak_rss() -> bool:
    """Lower this process's resident-memory high-water mark to its current RSS.

    Returns
    -------
    bool
        False where the kernel does not offer it (not Linux, or ``/proc`` read-only).
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float | None:
    """This process's resident-memory high-water mark (``VmHWM``) in MB, None if unknown."""
    return _proc_mb("/proc/self/status", "VmHWM:")


def _proc_mb(path: str, key: str) -> float | None:
    """The ``key`` line of a ``/proc`` file (a figure in kB) in MB; None if unreadable."""
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(key):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


class StagePeaks:
    """Peak resident memory per stage of a run, in MB (None where it cannot be read).

    A stage measured twice keeps the larger peak, so a stage whose work is split (the
    chunks of one metric) reports its largest part.
    """

    def __init__(self) -> None:
        self.mb: dict[str, float | None] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Measure the enclosed block as stage ``name``."""
        reset_peak_rss()
        try:
            yield
        finally:
            self.add(name, peak_rss_mb())

    def add(self, name: str, mb: float | None) -> None:
        """Record ``mb`` for ``name`` (the larger one if the stage has a figure already)."""
        old = self.mb.get(name)
        self.mb[name] = mb if old is None else (old if mb is None else max(old, mb))

    def update(self, peaks: Mapping[str, float | None]) -> None:
        """:meth:`add` every item of ``peaks``."""
        for name, mb in peaks.items():
            self.add(name, mb)

    def maximum(self) -> float | None:
        """The largest stage peak: this process's peak over the stages measured."""
        known = [v for v in self.mb.values() if v is not None]
        return max(known) if known else None
