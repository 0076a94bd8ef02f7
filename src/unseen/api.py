"""The one-call Python API: `unseen.remove(...)`, the library twin of `unseen remove`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def remove(
    input: str | Path,
    output: str | Path,
    *,
    masks: str | Path | None = None,
    box: Sequence[int] | str | None = None,
    at: int = 0,
    classes: str | Sequence[str] | None = None,
    detector: str | Path | None = None,
    method: str = "model",
    weights: str = "small",
    dilate: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
    **options: object,
):
    """Remove an object from a video file or frame folder and write the result atomically; returns a report
    (`out`, `frames`, `seconds`, `fps`).

    The holes come from exactly one of `masks` (mask files), `box` ((x, y, w, h) on frame `at`, tracked) or
    `classes` ("person", "hand", "face", or COCO names with `detector`). `method`: model, memory, lastseen or
    telea. Other keywords are the options of `unseen remove` (`crf`, `fps`, `delay`, `backend`, `threads`,
    `min_area`, `hold`, `allow_short`, ...). Errors a caller can cause raise `unseen.UnseenError`.
    """
    from dataclasses import fields

    from unseen.errors import UnseenError
    from unseen.pipeline.removal import RemoveOptions, run_remove

    known = {f.name for f in fields(RemoveOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UnseenError(f"unseen.remove: unknown option(s) {', '.join(unknown)}")
    box_text = None if box is None else box if isinstance(box, str) else ",".join(str(int(v)) for v in box)
    names = None if classes is None else classes if isinstance(classes, str) else ",".join(classes)
    opts = RemoveOptions(
        input=str(input),
        out=str(output),
        masks=None if masks is None else str(masks),
        box=box_text,
        at=at,
        remove=names,
        detector=None if detector is None else str(detector),
        method=method,
        weights=weights,
        dilate=dilate,
        overwrite=overwrite,
        progress=progress,
        **options,  # type: ignore[arg-type]
    )
    return run_remove(opts)
