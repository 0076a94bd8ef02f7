"""One row -> one call of the single-video job. `run_one` is the only place the batch calls it."""

from __future__ import annotations

import contextlib
import io
import os
import resource
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from unseen.batch.manifest import BatchRow
from unseen.errors import UnseenError


@dataclass
class RowResult:
    """What happened to one row: status is ok, failed or skipped; seconds of wall time; peak RSS of the worker in MB."""

    input: str
    output: str
    frames: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time the worker spent on it (all its threads)
    status: str = "ok"
    error: str = ""
    attempts: int = 1
    worker_rss_mb: float = 0.0
    worker: str = ""  # host:pid of the process that ran it
    notes: str = ""

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        """Plain values, to send between processes."""
        return asdict(self)


def input_mtime(path: Path) -> float:
    """Modification time of a video, or the newest of a frame folder and its files."""
    stat = path.stat().st_mtime
    if path.is_dir():
        return max([stat] + [p.stat().st_mtime for p in path.iterdir() if p.is_file()])
    return stat


def is_finished(row: BatchRow) -> bool:
    """True if the row's output exists and is not older than its input (outputs are only ever renamed into place whole)."""
    out, inp = Path(row.output), Path(row.input)
    if not out.exists() or not inp.exists():
        return False
    return out.stat().st_mtime >= input_mtime(inp)


def remove_partials(output: Path) -> int:
    """Delete temporary outputs a killed worker left beside `output` (named .NAME.partial-*); returns how many."""
    import shutil

    removed = 0
    if not output.parent.is_dir():
        return 0
    for leftover in output.parent.glob(f".{output.name}.partial-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed += 1
    return removed


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, in seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """Resident memory of this process now, in MB (the peak where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return worker_rss_mb()


def limit_threads(threads: int) -> None:
    """Cap this worker's math libraries at `threads` threads (call before torch is imported)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def run_one(row: BatchRow, threads: int = 1) -> RowResult:
    """Run the single-video job on one row (output replaced atomically); errors become a failed RowResult, never an exception."""
    result = RowResult(input=row.input, output=row.output)
    if row.problem:
        result.status, result.error = "failed", row.problem
        return result
    from unseen.pipeline.removal import RemoveOptions, run_remove

    out = Path(row.output)
    start, cpu_start = time.perf_counter(), cpu_seconds()
    captured = io.StringIO()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_partials(out)
        fields = dict(
            input=row.input, out=row.output, masks=row.masks, box=row.box, at=row.at, method=row.method, weights=row.weights,
            dilate=row.dilate, overwrite=True, progress=False, fps=row.fps, crf=row.crf, delay=row.delay, backend=row.backend,
            threads=threads if row.method == "model" else 0, remove=row.remove, detector=row.detector,
            detector_kind=row.detector_kind, score=row.score, min_area=row.min_area, hold=row.hold,
        )  # fmt: skip
        opts = RemoveOptions(**{k: v for k, v in fields.items() if not (k == "backend" and v is None)})
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            report = run_remove(opts)
        result.frames = report.frames
    except UnseenError as exc:
        result.status, result.error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad video must not stop the batch
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = round(cpu_seconds() - cpu_start, 2)
    result.worker_rss_mb = round(worker_rss_mb(), 1)
    result.worker = f"{socket.gethostname()}:{os.getpid()}"
    result.notes = " ".join(line.removeprefix("unseen: note: ") for line in captured.getvalue().splitlines() if "note:" in line)
    return result
