"""`unseen batch`: read the rows, skip finished ones, run the rest on local workers or Ray, log every result."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from unseen.batch.job import RowResult, is_finished
from unseen.batch.manifest import BatchRow, read_rows
from unseen.batch.summary import SummaryLog, finished_outputs
from unseen.errors import UnseenError


@dataclass
class BatchConfig:
    """Arguments of `unseen batch`; `options` are the per-row defaults (fields of BatchRow)."""

    inputs: str
    out: str
    options: dict = field(default_factory=dict)
    workers: int = 0  # 0: the usable cores / threads
    threads: int = 1  # math threads per worker
    ray: str | None = None  # Ray address, or "local"
    force: bool = False
    retries: int = 2
    max_rss_mb: float = 4096.0
    summary: str | None = None  # default OUT/summary.csv
    progress: bool = True


@dataclass
class BatchReport:
    """What a batch did: results in finishing order (skipped rows first) and its wall time in seconds."""

    results: list[RowResult]
    seconds: float
    summary: Path

    def count(self, status: str) -> int:
        """Rows with this status."""
        return sum(r.status == status for r in self.results)

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.results if r.status == "ok")

    @property
    def videos_per_hour(self) -> float:
        return self.count("ok") * 3600.0 / self.seconds if self.seconds > 0 else 0.0


def _skipped(row: BatchRow, previous: dict[str, dict]) -> RowResult:
    """A result for a row whose output is already there (frames from the summary, when it has them)."""
    line = previous.get(row.output, {})
    frames = int(line.get("frames") or 0)
    return RowResult(row.input, row.output, frames=frames, status="skipped", attempts=0)


def _pool(config: BatchConfig, count: int):
    """The local or Ray runner for `count` rows."""
    if config.ray:
        from unseen.batch.cluster import RayPool
        from unseen.batch.local import default_workers

        return RayPool(config.ray, config.threads, config.retries, config.workers or default_workers(1))
    from unseen.batch.local import LocalPool, default_workers

    workers = config.workers or default_workers(config.threads)
    return LocalPool(min(workers, max(1, count)), config.threads, config.retries, config.max_rss_mb)


def run_batch(config: BatchConfig) -> BatchReport:
    """Run every row not finished yet; the summary CSV gets one line per row as it finishes."""
    from tqdm import tqdm

    if config.threads < 1 or config.workers < 0 or config.retries < 0:
        raise UnseenError("--threads must be 1 or more, --workers and --retries 0 or more")
    if config.ray:
        from unseen.batch.cluster import import_ray

        import_ray()
    rows = read_rows(config.inputs, config.out, config.options)
    Path(config.out).mkdir(parents=True, exist_ok=True)
    summary_path = Path(config.summary) if config.summary else Path(config.out) / "summary.csv"
    previous = finished_outputs(summary_path)
    start = time.perf_counter()
    results: list[RowResult] = []
    todo: list[BatchRow] = []
    with (
        SummaryLog(summary_path) as summary,
        tqdm(total=len(rows), unit="video", disable=not config.progress, dynamic_ncols=True, file=sys.stderr) as bar,
    ):

        def record(result: RowResult, log: bool = True) -> None:
            results.append(result)
            if log:
                summary.append(result)
            if result.status == "failed":
                bar.write(f"unseen: failed: {result.input}: {result.error}", file=sys.stderr)
            bar.update(1)
            frames = sum(r.frames for r in results if r.status == "ok")
            elapsed = time.perf_counter() - start
            bar.set_postfix(
                frames=frames, fps=f"{frames / elapsed:.1f}" if elapsed > 0 else "-", failed=sum(r.status == "failed" for r in results)
            )

        for row in rows:
            if row.problem:
                record(RowResult(row.input, row.output, status="failed", error=row.problem, attempts=0))
            elif not config.force and is_finished(row):
                record(_skipped(row, previous), log=row.output not in previous)
            else:
                todo.append(row)
        if todo:
            pool = _pool(config, len(todo))
            for _, result in pool.run(todo):
                record(result)
    return BatchReport(results, time.perf_counter() - start, summary_path)


def describe(report: BatchReport) -> str:
    """One line for the end of a batch."""
    ok, skipped, failed = report.count("ok"), report.count("skipped"), report.count("failed")
    text = f"batch: {ok} written, {skipped} already done, {failed} failed; {report.frames} frames in {report.seconds:.1f} s"
    if ok:
        text += f" ({report.videos_per_hour:.0f} videos/hour)"
    return text + f"; summary {report.summary}"
