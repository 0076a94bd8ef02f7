"""The inpainter interface: one class per method, fed frame by frame (online)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator

import numpy as np


class Inpainter(ABC):
    """An online inpainter: `step` sees frames in order and may keep state, never future frames.

    Frames are uint8 RGB (H, W, 3); masks are bool (H, W) with True = hole.
    """

    name: str = "inpainter"

    @abstractmethod
    def step(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Return the frame with the hole filled; pixels outside the hole are returned unchanged."""

    def push(self, frame: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        """Streaming form: add a frame, get back the frames finished so far (an inpainter with a bounded delay
        returns them in batches); without delay this is `[step(frame, mask)]`."""
        return [self.step(frame, mask)]

    def prepare(self, frame: np.ndarray, mask: np.ndarray) -> object:
        """The part of a frame's work that needs frames <= t but no result of the frames before it (an engine's
        classical guide). A pipeline may call it in another thread, one frame ahead of `push_prepared`, in
        frame order; what it returns goes to `push_prepared`. Default: nothing to do ahead."""
        return frame, mask

    def push_prepared(self, prepared: object) -> list[np.ndarray]:
        """`push` of a frame that went through `prepare`."""
        frame, mask = prepared  # type: ignore[misc]
        return self.push(frame, mask)

    def flush(self) -> list[np.ndarray]:
        """End of stream: the frames still waiting."""
        return []

    def reset(self) -> None:
        """Forget all state (a new video or a scene cut)."""

    def stream(
        self, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray] | Callable[[np.ndarray], np.ndarray]
    ) -> Iterator[np.ndarray]:
        """Inpaint a stream: uint8 RGB (H, W, 3) frames with bool (H, W) holes (an iterable in step with the frames,
        or a mask source called per frame) -> inpainted frames, in order, as soon as each is ready."""
        holes = iter(masks) if not callable(masks) else None
        for frame in frames:
            hole = masks(frame) if holes is None else next(holes, None)
            if hole is None:
                from unseen.errors import UnseenError

                raise UnseenError("ran out of masks before the end of the frames")
            yield from self.push(frame, np.asarray(hole, bool))
        yield from self.flush()
