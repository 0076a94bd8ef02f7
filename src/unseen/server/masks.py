"""Where the live page's holes come from: a factory of mask sources, one per selection.

The page offers exactly the class names the server's factory reports (`classes()`), so a new
segmenter (people, hands, ...) appears in the page by adding a factory here; nothing in the page or
the protocol changes. A box is always available (the box tracker).
"""

from __future__ import annotations

from unseen.errors import UnseenError
from unseen.masks.source import MaskSource


class MaskFactory:
    """Makes a client's mask source for a drawn box or a set of class names (no classes: boxes only)."""

    def classes(self) -> list[str]:
        """Class names the page may offer, in display order."""
        return []

    def check_classes(self, names: list[str]) -> None:
        """Raise UnseenError (the reason to show) unless every name is offered."""
        offered = set(self.classes())
        if not offered:
            raise UnseenError("this server has no detector (start it with --detector MODEL.onnx)")
        unknown = [n for n in names if n not in offered]
        if unknown:
            raise UnseenError(f"unknown class {unknown[0]!r} (this server offers {len(offered)} classes)")

    def for_box(self, box: tuple[int, int, int, int]) -> MaskSource:
        """A source following the object in box (x, y, w, h, pixels of the frames the client sends)."""
        from unseen.masks.tracker import BoxTrackerSource

        return BoxTrackerSource(box)

    def for_classes(self, names: list[str]) -> MaskSource:
        """A source masking every instance of these classes (names already checked)."""
        raise UnseenError("this server has no detector (start it with --detector MODEL.onnx)")


class DetectorMaskFactory(MaskFactory):
    """Boxes, plus COCO classes from a shared instance segmenter (RTMDet-Ins / YOLO-seg ONNX)."""

    def __init__(self, segmenter) -> None:
        self.segmenter = segmenter  # shared by all clients: ONNX Runtime sessions are safe to run from several threads

    def classes(self) -> list[str]:
        from unseen.masks.coco import COCO_CLASSES

        return list(COCO_CLASSES)

    def for_classes(self, names: list[str]) -> MaskSource:
        from unseen.masks.detectors import DetectorMaskSource, class_ids
        from unseen.masks.source import CleanMaskSource

        return CleanMaskSource(DetectorMaskSource(self.segmenter, class_ids(",".join(names))), min_area=32, hold=3)


def mask_factory(detector: str | None) -> MaskFactory:
    """The factory for a server started with (or without) a --detector model."""
    if not detector:
        return MaskFactory()
    from unseen.masks.detectors import load_segmenter

    return DetectorMaskFactory(load_segmenter(detector))
