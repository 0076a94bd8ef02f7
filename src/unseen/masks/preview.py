"""`unseen masks`: write the video with the masks drawn over it, to check a selection before removing."""

from __future__ import annotations

import sys
import time

import numpy as np

from unseen.io.frames import open_frames
from unseen.io.writers import check_output_path, open_writer
from unseen.pipeline.removal import RemoveOptions, build_mask_source, check_complete, inputs_of


def overlay(frame: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (0, 255, 80)) -> np.ndarray:
    """Tint the hole and outline it, uint8 RGB."""
    import cv2

    out = frame.copy()
    out[mask] = (0.45 * out[mask] + 0.55 * np.array(colour)).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, colour, 1)
    return out


def run_masks_preview(opts: RemoveOptions) -> None:
    """Draw the mask source's masks over the input and write the result to `opts.out`."""
    from tqdm import tqdm

    start = time.perf_counter()
    with open_frames(opts.input, opts.fps) as source:
        check_output_path(opts.out, opts.overwrite, inputs_of(opts), source.info.names)
        masks = build_mask_source(opts, source)
        try:
            with open_writer(opts.out, source.info, opts.overwrite, opts.crf, source.info.names, inputs_of(opts)) as writer:
                total = source.info.frame_count or None
                for frame in tqdm(source, total=total, unit="frame", disable=not opts.progress, file=sys.stderr):
                    writer.write_at(overlay(frame, masks(frame)), source.last_time)
                check_complete(source, opts.allow_short)
                out = writer.commit()
        finally:
            masks.close()
    print(f"wrote {out}: {writer.count} frames with masks drawn in {time.perf_counter() - start:.1f} s")
