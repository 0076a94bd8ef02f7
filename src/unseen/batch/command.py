"""The `unseen batch` subcommand's call: argparse values -> BatchConfig -> run_batch (light to import)."""

from __future__ import annotations

import argparse

ROW_DEFAULT_ARGS = ("masks", "box", "at", "remove", "detector", "detector_kind", "score", "min_area", "hold", "dilate", "fps")
ROW_DEFAULT_ARGS += ("method", "weights", "crf", "delay", "backend")


def run_batch_command(args: argparse.Namespace) -> int:
    """Run `unseen batch`; exit status 1 if any row failed."""
    from unseen.batch.runner import BatchConfig, describe, run_batch

    options = {k: getattr(args, k) for k in ROW_DEFAULT_ARGS if getattr(args, k, None) is not None}
    config = BatchConfig(
        inputs=args.inputs, out=args.out, options=options, workers=args.workers, threads=args.threads, ray=args.ray,
        force=args.force, retries=args.retries, max_rss_mb=args.max_rss_mb, summary=args.summary, progress=not args.quiet,
    )  # fmt: skip
    report = run_batch(config)
    print(describe(report))
    return 1 if report.count("failed") else 0
