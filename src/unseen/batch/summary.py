"""The batch summary: a CSV with one line per finished row, appended (and flushed to disk) as rows finish."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from unseen.batch.job import RowResult

COLUMNS = ("input", "output", "frames", "seconds", "fps", "status", "error", "cpu_seconds", "attempts", "worker_rss_mb", "worker", "notes")


class SummaryLog:
    """Append-only summary CSV; survives an interrupted batch line by line, so the next run can resume."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._file = self.path.open("a", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        if new:
            self._writer.writerow(COLUMNS)
            self._flush()

    def append(self, result: RowResult) -> None:
        """Write one result line and push it to disk."""
        values = result.to_dict()
        values["seconds"] = f"{result.seconds:.2f}"
        values["fps"] = f"{result.fps:.2f}"
        self._writer.writerow([values[c] for c in COLUMNS])
        self._flush()

    def _flush(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> SummaryLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_summary(path: str | Path) -> list[dict]:
    """The lines of a summary CSV as dicts (empty when there is none); a line cut short by a crash is dropped."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if r.get("status") and None not in r.values()]


def finished_outputs(path: str | Path) -> dict[str, dict]:
    """Summary lines of outputs recorded as written or already there (status ok or skipped), by output path."""
    return {r["output"]: r for r in read_summary(path) if r["status"] in ("ok", "skipped")}
