"""Peak resident memory of some processes, sampled while a benchmark stage runs.

Why one class: the Neo4j and the GDS benchmarks both report guanxi's and the server's peaks.
"""

from __future__ import annotations

import contextlib
import threading

import psutil


class PeakRss:
    """Samples the RSS of some processes in a thread; ``peak`` holds the maxima in bytes."""

    def __init__(self, pids: dict[str, int | None], interval: float = 0.1) -> None:
        self._procs: dict[str, psutil.Process] = {}
        for k, pid in pids.items():
            if pid:
                with contextlib.suppress(psutil.Error):
                    self._procs[k] = psutil.Process(pid)
        self.peak = dict.fromkeys(self._procs, 0)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._interval = interval

    def now(self) -> dict[str, int]:
        out = {}
        for k, p in self._procs.items():
            with contextlib.suppress(psutil.Error):
                out[k] = p.memory_info().rss
        return out

    def _run(self) -> None:
        while True:
            for k, v in self.now().items():
                self.peak[k] = max(self.peak[k], v)
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> PeakRss:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        for k, v in self.now().items():
            self.peak[k] = max(self.peak[k], v)


class TreeMemory:
    """Peak memory of this process and its children together, sampled in a thread.

    Forked metric workers share the parent's pages until they write them, so adding up
    their RSS would count the graph once per worker; the proportional set size (PSS)
    charges each shared page to its sharers in parts, so the sum over the tree counts it
    once. ``peak`` is that sum's maximum in bytes (RSS where PSS cannot be read).
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.peak = 0
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._interval = interval

    def now(self) -> int:
        total = 0
        for p in [self._me, *self._me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                try:
                    total += p.memory_full_info().pss
                except (AttributeError, psutil.AccessDenied):
                    total += p.memory_info().rss
        return total

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.now())
            if self._stop.wait(self._interval):
                return

    def __enter__(self) -> TreeMemory:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
