"""Where the live page's holes come from: a factory of mask sources, one per selection.

The page offers exactly the class names the server's factory reports (`classes()`): person, hand and face
from the bundled models always, and COCO classes when the server has a detector. Every source is built by
`unseen.pipeline.build_masks`, the same assembly the CLI and the API use; the session dilates the result.
"""

from __future__ import annotations

import numpy as np

from unseen.errors import UnseenError
from unseen.io.frames import SourceInfo
from unseen.masks.source import MaskSource


class MaskFactory:
    """Makes a client's mask source for a drawn box or a set of class names."""

    def __init__(self, segmenter=None) -> None:
        self.segmenter = segmenter  # shared by all clients: ONNX Runtime sessions are safe to run from several threads

    def classes(self) -> list[str]:
        """Class names the page may offer, in display order."""
        from unseen.masks.builtin import builtin_classes

        names = list(builtin_classes())
        if self.segmenter is not None:
            from unseen.masks.coco import COCO_CLASSES

            names += [c for c in COCO_CLASSES if c not in names]
        return names

    def check_classes(self, names: list[str]) -> None:
        """Raise UnseenError (the reason to show) unless every name is offered."""
        offered = set(self.classes())
        unknown = [n for n in names if n not in offered]
        if unknown:
            more = "" if self.segmenter is not None else "; COCO classes need a server started with --detector MODEL.onnx"
            raise UnseenError(f"unknown class {unknown[0]!r} (this server offers {len(offered)} classes{more})")

    def for_box(self, box: tuple[int, int, int, int], width: int, height: int, segmenters: bool = False) -> MaskSource:
        """A source following the object in box (x, y, w, h, pixels of the width x height frames the client sends);
        with `segmenters`, a person or hand filling the box is followed with its segmenter (a click on one)."""
        from unseen.pipeline import MaskSpec, build_masks

        return build_masks(MaskSpec(box=box, dilate=0, box_segmenters=segmenters), _stream_info(width, height))

    def at_point(self, frame: np.ndarray, x: int, y: int) -> np.ndarray | None:
        """The silhouette of the hand, else the person, at pixel (x, y) of this frame (a click), or None."""
        from unseen.masks.point import silhouette_at

        return silhouette_at(frame, x, y)

    def for_classes(self, names: list[str], width: int, height: int) -> MaskSource:
        """A source masking every instance of these classes (names already checked)."""
        from unseen.pipeline import MaskSpec, build_masks

        return build_masks(MaskSpec(classes=names, segmenter=self.segmenter, dilate=0), _stream_info(width, height))


def _stream_info(width: int, height: int) -> SourceInfo:
    """What a live stream's mask source knows: the frame size (no rate or length)."""
    return SourceInfo(width=width, height=height, fps=0.0, frame_count=0)


def mask_factory(detector: str | None) -> MaskFactory:
    """The factory for a server started with (or without) a --detector model."""
    if not detector:
        return MaskFactory()
    from unseen.masks.detectors import load_segmenter

    return MaskFactory(load_segmenter(detector))
