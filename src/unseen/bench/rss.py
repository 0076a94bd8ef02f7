"""Resident memory of this process (Linux /proc), with the peak reset between measurements."""

from __future__ import annotations

from pathlib import Path


def _status(field: str) -> int:
    """A kB field of /proc/self/status (0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_mb() -> float:
    """Current resident set size in MB."""
    return _status("VmRSS") / 1024


def peak_rss_mb() -> float:
    """Peak resident set size since the last `reset_peak` in MB."""
    return _status("VmHWM") / 1024


def reset_peak() -> None:
    """Reset the kernel's peak-RSS mark for this process (no-op where not supported)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
