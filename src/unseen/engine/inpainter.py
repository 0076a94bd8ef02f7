"""The inpainter interface: one class per method, fed frame by frame (online)."""

from __future__ import annotations

from abc import ABC, abstractmethod

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

    def flush(self) -> list[np.ndarray]:
        """End of stream: the frames still waiting."""
        return []

    def reset(self) -> None:
        """Forget all state (a new video or a scene cut)."""
