"""The classes unseen can remove with no setup (bundled models), and the factory that builds their mask source."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from unseen.errors import UnseenError
from unseen.masks.source import MaskSource

BUILTIN_CLASSES = ("person", "hand", "face")
ALIASES = {"people": "person", "persons": "person", "hands": "hand", "faces": "face"}


def builtin_classes() -> tuple[str, ...]:
    """Names of the classes that need no detector: ('person', 'hand', 'face')."""
    return BUILTIN_CLASSES


def parse_builtin(names: str | Sequence[str]) -> list[str] | None:
    """'person,hands' -> ['person', 'hand']; None when any name is not a built-in class (a COCO detector's job)."""
    items = names.split(",") if isinstance(names, str) else list(names)
    out: list[str] = []
    for raw in items:
        name = ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if not name:
            continue
        if name not in BUILTIN_CLASSES:
            return None
        if name not in out:
            out.append(name)
    return out or None


class UnionMaskSource(MaskSource):
    """The union of several mask sources' holes, per frame."""

    def __init__(self, sources: Sequence[MaskSource]) -> None:
        self.sources = list(sources)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        mask = np.zeros(frame.shape[:2], bool)
        for source in self.sources:
            mask |= source(frame)
        return mask

    def close(self) -> None:
        for source in self.sources:
            source.close()


def builtin_mask_source(classes: str | Sequence[str]) -> MaskSource:
    """A mask source removing the given built-in classes (e.g. 'person', ['hand', 'face']), from the bundled models."""
    names = parse_builtin(classes)
    if names is None:
        raise UnseenError(f"built-in classes are {', '.join(BUILTIN_CLASSES)}; got {classes!r} (other classes need --detector MODEL.onnx)")
    sources: list[MaskSource] = []
    try:
        for name in names:
            if name == "person":
                from unseen.masks.person import PersonMaskSource

                sources.append(PersonMaskSource())
            elif name == "hand":
                from unseen.masks.hands import HandMaskSource

                sources.append(HandMaskSource())
            else:
                from unseen.masks.faces import FaceMaskSource

                sources.append(FaceMaskSource())
    except BaseException:
        for source in sources:
            source.close()
        raise
    return sources[0] if len(sources) == 1 else UnionMaskSource(sources)
