"""Mask files: a folder of PNGs (one per frame), one image for every frame, or a mask video.

Masks are yielded as bool (H, W) arrays at the frames' size, True = hole (any non-zero pixel).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from unseen.errors import UnseenError
from unseen.io.frames import IMAGE_EXTENSIONS, FrameSource, SourceInfo, list_images, open_frames


def read_mask_file(path: Path) -> np.ndarray:
    """Read one mask image: any non-zero pixel (in any channel) is a hole."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise UnseenError(f"cannot read mask {path}: not a valid image file")
    if image.ndim == 3:
        if image.shape[2] == 4:  # transparent pixels are not holes
            image = np.where(image[..., 3:4] > 0, image[..., :3], 0)
        return np.any(image != 0, axis=2)
    return image != 0


class MaskFiles:
    """Masks matched to a frame source; iterate to get one bool (H, W) mask per frame, in order."""

    def __init__(self, path: str | Path, frames: SourceInfo) -> None:
        self.path = Path(path)
        self.frames = frames
        self._noticed_resize = False
        if not self.path.exists():
            raise UnseenError(f"{self.path}: no such mask file or folder")
        self.files: list[Path] | None = None
        self.video: FrameSource | None = None
        self.single: np.ndarray | None = None
        if self.path.is_dir():
            self.files = self._match_folder(list_images(self.path))
        elif self.path.suffix.lower() in IMAGE_EXTENSIONS:
            self.single = self._fit(read_mask_file(self.path))
        else:
            self.video = open_frames(self.path)
            count = self.video.info.frame_count
            if count != frames.frame_count:
                self.video.close()
                raise UnseenError(f"mask video {self.path} has {count} frames but the input has {frames.frame_count}")

    def _match_folder(self, files: list[Path]) -> list[Path]:
        if not files:
            raise UnseenError(f"{self.path}: no mask images (png) in this folder")
        if self.frames.names:
            by_stem = {p.stem: p for p in files}
            matched = [by_stem.get(Path(n).stem) for n in self.frames.names]
            if all(m is not None for m in matched):
                return matched  # type: ignore[return-value]
        if len(files) != self.frames.frame_count:
            raise UnseenError(f"mask folder {self.path} has {len(files)} masks but the input has {self.frames.frame_count} frames")
        return files

    def _fit(self, mask: np.ndarray) -> np.ndarray:
        """Resize (nearest) to the frame size, with a notice the first time."""
        import cv2

        h, w = self.frames.height, self.frames.width
        if mask.shape == (h, w):
            return mask
        mh, mw = mask.shape
        if abs(np.log((mw / mh) / (w / h))) > 0.03:  # not the same picture at another size (a turned phone video?)
            raise UnseenError(
                f"masks are {mw}x{mh} but frames are {w}x{h}: another shape, not the same frame at another size "
                "(masks must match the frames, upright)"
            )
        if not self._noticed_resize:
            print(
                f"unseen: note: masks are {mask.shape[1]}x{mask.shape[0]}, frames are {w}x{h}; resizing masks (nearest)",
                file=sys.stderr,
            )
            self._noticed_resize = True
        return cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.single is not None:
            while True:
                yield self.single
        elif self.files is not None:
            for f in self.files:
                yield self._fit(read_mask_file(f))
        else:
            assert self.video is not None
            for frame in self.video:
                yield self._fit(np.any(frame > 127, axis=2))

    def close(self) -> None:
        """Close the mask video, if any."""
        if self.video is not None:
            self.video.close()
