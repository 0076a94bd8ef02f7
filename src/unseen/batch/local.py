"""Local worker processes: each runs one row at a time with one torch thread; a dead worker's row is run again.

A worker that ends a video above `max_rss_mb` of resident memory exits and is replaced by a fresh process, so a
long batch cannot grow a worker's memory without bound.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from unseen.batch.job import RowResult
from unseen.batch.manifest import BatchRow


def default_workers(threads: int = 1) -> int:
    """Worker processes for this machine: the usable cores divided by the threads each worker runs."""
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, threads))


def _worker_main(conn: Connection, threads: int, max_rss_mb: float) -> None:
    """Worker process: receive rows, send results, leave when told to or when over the memory limit."""
    from unseen.batch.job import current_rss_mb, limit_threads, run_one

    limit_threads(threads)
    try:
        while True:
            message = conn.recv()
            if message is None:
                return
            index, row = message
            result = run_one(BatchRow(**row), threads)
            recycle = max_rss_mb > 0 and current_rss_mb() > max_rss_mb
            conn.send((index, result.to_dict(), recycle))
            if recycle:
                return
    except (KeyboardInterrupt, EOFError, BrokenPipeError):
        return  # Ctrl-C reaches every process of the group; the parent reports it


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: Connection
    task: int | None = None


@dataclass
class LocalPool:
    """`workers` processes with `threads` math threads each; a row whose worker dies is run again up to `retries` times."""

    workers: int
    threads: int = 1
    retries: int = 2
    max_rss_mb: float = 4096.0
    _context: mp.context.BaseContext = field(default_factory=lambda: mp.get_context("spawn"))

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(child, self.threads, self.max_rss_mb), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def run(self, rows: list[BatchRow], on_start: Callable[[int], None] | None = None) -> Iterator[tuple[int, RowResult]]:
        """Yield (row index, result) as rows finish, in finishing order."""
        queue = deque(range(len(rows)))
        attempts = [0] * len(rows)
        pool = [self._start() for _ in range(min(self.workers, len(rows)))]
        try:
            while queue or any(w.task is not None for w in pool):
                for w in pool:
                    if w.task is None and queue:
                        w.task = queue.popleft()
                        attempts[w.task] += 1
                        w.conn.send((w.task, rows[w.task].to_dict()))
                        if on_start:
                            on_start(w.task)
                busy = [w for w in pool if w.task is not None]
                ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
                for i, w in enumerate(pool):
                    if w.task is None or (w.conn not in ready and w.process.sentinel not in ready):
                        continue
                    message = None
                    try:
                        if w.conn.poll():
                            message = w.conn.recv()
                    except (EOFError, OSError):
                        message = None
                    if message is not None:
                        index, values, recycle = message
                        w.task = None
                        result = RowResult(**values)
                        result.attempts = attempts[index]
                        yield index, result
                        if recycle:
                            w.process.join(timeout=30)
                            pool[i] = self._start()
                        continue
                    if w.process.is_alive():
                        continue
                    index, code = w.task, w.process.exitcode
                    w.process.join()
                    pool[i] = self._start()
                    if attempts[index] <= self.retries:
                        queue.appendleft(index)
                    else:
                        row = rows[index]
                        error = f"the worker died (exit code {code}) on each of {attempts[index]} attempts"
                        yield index, RowResult(row.input, row.output, status="failed", error=error, attempts=attempts[index])
        finally:
            self._stop(pool)

    def _stop(self, pool: list[_Worker]) -> None:
        for w in pool:
            if w.process.is_alive() and w.task is None:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        for w in pool:
            w.process.join(timeout=5 if w.task is None else 0.1)
            if w.process.is_alive():
                w.process.terminate()
                w.process.join(timeout=5)
            w.conn.close()
