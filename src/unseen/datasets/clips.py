"""Real clips for training and evaluation: discovery over dataset layouts, on-demand decoding, object shapes.

Layouts understood for a root folder:
- YouTube-VOS / DAVIS: `root/JPEGImages/<clip>/*.jpg` (+ optional `root/Annotations/<clip>/*.png`);
- video files: `root/videos/*.mp4|mkv|...`, or video files directly in `root`;
- IPN Hand: `root/<video>/*.jpg` (one frame folder per video), also under `root/frames/`;
- a single folder of frames, or a single video file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unseen.errors import UnseenError
from unseen.io.frames import is_video_path, list_images, read_image_rgb


class Clip:
    """A sequence of frames that can be read by index."""

    name: str
    length: int
    annotations: Path | None = None
    decoded: int | None = None  # frames that actually decode, when fewer than `length` and known (a video file)

    def read(self, indices: list[int]) -> list[np.ndarray]:
        """Frames at these indices as uint8 RGB."""
        raise NotImplementedError


class FolderClip(Clip):
    """A folder of frame images."""

    def __init__(self, folder: Path, annotations: Path | None = None) -> None:
        self.name = folder.name
        self.files = list_images(folder)
        self.length = len(self.files)
        self.annotations = annotations if annotations and annotations.is_dir() else None

    def read(self, indices: list[int]) -> list[np.ndarray]:
        return [read_image_rgb(self.files[i]) for i in indices]


class VideoClip(Clip):
    """A video file; reads seek to the first wanted frame and decode forward (no full decode)."""

    def __init__(self, path: Path) -> None:
        import av

        self.name = path.stem
        self.path = path
        self.decoded = None  # known once a read from the start reaches the end
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            self.length = int(s.frames or 0)
            self.fps = float(s.average_rate or 25)
        if self.length <= 0:
            from unseen.io.frames import VideoSource

            src = VideoSource(path)
            self.length = src.info.frame_count
            src.close()

    def read(self, indices: list[int]) -> list[np.ndarray]:
        import av

        wanted = sorted(set(indices))
        out: dict[int, np.ndarray] = {}
        with av.open(str(self.path)) as c:
            stream = c.streams.video[0]
            # after a seek, frames are indexed by their time stamps; a raw .h264/.h265 stream has none (a seek there
            # lands at an unknown frame), so it is decoded from its start and counted, as any read from frame 0 is
            timed = bool(stream.time_base and stream.average_rate and stream.start_time is not None)
            start_time = None
            if wanted[0] > 0 and timed:
                ts = int(wanted[0] / float(stream.average_rate) / float(stream.time_base))
                try:
                    c.seek(ts + stream.start_time, stream=stream, backward=True)
                    start_time = stream.start_time
                except av.error.FFmpegError:
                    start_time = None
            i, k, shown = -1, 0, None  # k: the next wanted index; shown: the last decoded frame
            for frame in c.decode(stream):
                if start_time is not None and frame.pts is not None:
                    i = int(round((frame.pts - start_time) * float(stream.time_base) * float(stream.average_rate)))
                else:
                    i += 1
                # A variable-rate stream has no frame at some indices: there the frame before is on screen
                while k < len(wanted) and wanted[k] < i:
                    out[wanted[k]] = (shown if shown is not None else frame).to_ndarray(format="rgb24")
                    k += 1
                if k < len(wanted) and wanted[k] == i:
                    out[i] = frame.to_ndarray(format="rgb24")
                    k += 1
                shown = frame
                if k == len(wanted):
                    break
            else:
                if start_time is None:  # counted from the first frame to the end: fewer than the container says?
                    self.decoded = i + 1
            if shown is not None:
                for w in wanted[k:]:  # past the last frame: the last frame stays on screen
                    out[w] = shown.to_ndarray(format="rgb24")
        if not out:
            raise UnseenError(f"{self.path}: could not decode frames {wanted[0]}..{wanted[-1]}")
        return [out[i] for i in indices]


class CachedClip(Clip):
    """Wraps a clip; on first use decodes up to `max_frames` frames at a reduced size, then serves from memory."""

    def __init__(self, clip: Clip, short_side: int, max_frames: int) -> None:
        self.clip, self.short_side = clip, short_side
        self.name, self.annotations = clip.name, clip.annotations
        self.length = min(clip.length, max_frames)
        self.frames: list[np.ndarray] | None = None

    def read(self, indices: list[int]) -> list[np.ndarray]:
        import cv2

        if self.frames is None:
            frames = self.clip.read(list(range(self.length)))
            decoded = self.clip.decoded
            if decoded is not None and 0 < decoded < len(frames):  # an AVI counts dropped frames; they do not decode
                frames, self.length = frames[:decoded], decoded
            h, w = frames[0].shape[:2]
            s = self.short_side / min(h, w)
            if s < 1:
                size = (max(1, round(w * s)), max(1, round(h * s)))
                frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
            self.frames = frames
        return [self.frames[min(i, len(self.frames) - 1)] for i in indices]


def discover_clips(root: str | Path) -> list[Clip]:
    """All clips under a root folder (see the module docstring for the layouts)."""
    root = Path(root)
    if not root.exists():
        raise UnseenError(f"{root}: training data folder not found")
    if root.is_file():
        return [VideoClip(root)] if is_video_path(root) else []
    clips: list[Clip] = []
    if (root / "JPEGImages").is_dir():
        for d in sorted((root / "JPEGImages").iterdir()):
            if d.is_dir() and list_images(d):
                clips.append(FolderClip(d, root / "Annotations" / d.name))
    if (root / "videos").is_dir():
        clips += [VideoClip(p) for p in sorted((root / "videos").iterdir()) if p.is_file() and is_video_path(p)]
    if (root / "frames").is_dir():
        clips += discover_clips(root / "frames")
    if clips:
        return clips
    if list_images(root):
        return [FolderClip(root)]
    for p in sorted(root.iterdir()):
        if p.is_dir() and list_images(p):
            clips.append(FolderClip(p))
        elif p.is_file() and is_video_path(p):
            clips.append(VideoClip(p))
    return clips


def load_silhouettes(clips: list[Clip], per_clip: int = 6, max_side: int = 128) -> list[np.ndarray]:
    """Object shapes (bool masks cropped to the object) from the clips' annotation folders."""
    import cv2

    shapes = []
    for clip in clips:
        if clip.annotations is None:
            continue
        files = list_images(clip.annotations)
        for f in files[:: max(1, len(files) // per_clip)][:per_clip]:
            ann = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            if ann is None:
                continue
            for obj in np.unique(ann)[1:]:
                m = ann == obj
                ys, xs = np.nonzero(m)
                if len(ys) < 64:
                    continue
                m = m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
                s = max_side / max(m.shape)
                if s < 1:
                    m = (
                        cv2.resize(
                            m.astype(np.uint8), (max(2, int(m.shape[1] * s)), max(2, int(m.shape[0] * s))), interpolation=cv2.INTER_NEAREST
                        )
                        > 0
                    )
                shapes.append(m)
    return shapes
