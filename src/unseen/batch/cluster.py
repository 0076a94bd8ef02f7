"""Rows as Ray tasks: one task per video, each in a fresh worker process; a task whose worker dies is submitted again.

Every machine of the cluster needs unseen installed and must see the inputs and outputs at the same paths
(a shared file system). Ray is optional: `pip install "unseen[cluster]"`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from unseen.batch.job import RowResult
from unseen.batch.manifest import BatchRow
from unseen.errors import UnseenError

LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # rows and results are a few hundred bytes; keep Ray's shared memory small


def _ray_row(row: dict, threads: int) -> dict:
    """Ray task body: run one row in this worker process and return its result as a dict."""
    from unseen.batch.job import limit_threads, run_one

    limit_threads(threads)
    return run_one(BatchRow(**row), threads).to_dict()


def import_ray():
    """The `ray` module, or an UnseenError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UnseenError('--ray needs Ray, an optional dependency: pip install "unseen[cluster]" (or pip install ray)') from None
    return ray


@dataclass
class RayPool:
    """Rows on a Ray cluster at `address` ("local": start one on this machine with `local_cpus` CPUs)."""

    address: str
    threads: int = 1
    retries: int = 2
    local_cpus: int = 2

    def connect(self) -> None:
        """Start or join the cluster."""
        import logging

        ray = import_ray()
        try:
            if self.address == "local":
                ray.init(
                    num_cpus=self.local_cpus, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
                    object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                )  # fmt: skip
            else:
                ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UnseenError(f"could not reach the Ray cluster at {self.address}: {exc}") from None

    def run(self, rows: list[BatchRow]) -> Iterator[tuple[int, RowResult]]:
        """Yield (row index, result) as rows finish; connects first and disconnects at the end."""
        ray = import_ray()
        self.connect()
        try:
            task = ray.remote(num_cpus=self.threads, max_retries=0, max_calls=1)(_ray_row)
            attempts = [0] * len(rows)
            pending = {}

            def submit(index: int) -> None:
                attempts[index] += 1
                pending[task.remote(rows[index].to_dict(), self.threads)] = index

            for index in range(len(rows)):
                submit(index)
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                index = pending.pop(ref)
                try:
                    result = RowResult(**ray.get(ref))
                except ray.exceptions.RayError as exc:  # the worker died (killed, out of memory, node lost)
                    if attempts[index] <= self.retries:
                        submit(index)
                        continue
                    error = f"the Ray worker failed on each of {attempts[index]} attempts: {type(exc).__name__}"
                    result = RowResult(rows[index].input, rows[index].output, status="failed", error=error)
                result.attempts = attempts[index]
                yield index, result
        finally:
            ray.shutdown()
