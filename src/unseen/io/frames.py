"""Frame sources: video files (PyAV) and folders of images, decoded one frame at a time.

Every source yields frames as uint8 RGB arrays of shape (H, W, 3).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unseen.errors import UnseenError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".avi", ".webm", ".mov", ".m4v", ".h264", ".264", ".h265", ".265", ".hevc", ".y4m")
MAX_SIDE = 8192
DEFAULT_FOLDER_FPS = 25.0


@dataclass
class SourceInfo:
    """What a frame source knows before decoding: size in pixels, frame rate, frame count, frame names."""

    width: int
    height: int
    fps: float
    frame_count: int
    names: list[str] | None = None
    has_audio: bool = False
    path: Path | None = None
    rotation: float = 0.0  # display-matrix rotation (degrees, counter-clockwise) of the stored frames; delivered upright


def natural_key(name: str) -> list:
    """Sort key that orders 'f2.png' before 'f10.png'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside `folder`, sorted naturally."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image_rgb(path: Path) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3)."""
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise UnseenError(f"cannot read image {path}: not a valid image file")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_has_alpha(path: Path) -> bool:
    """True when an image file has a fourth (alpha) channel."""
    import cv2

    image = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    return image is not None and image.ndim == 3 and image.shape[2] == 4


def check_size(width: int, height: int, what: str) -> None:
    """Refuse frame sizes that are empty or absurdly large."""
    if width < 8 or height < 8 or width > MAX_SIDE or height > MAX_SIDE:
        raise UnseenError(f"{what}: frame size {width}x{height} is outside the supported range 8..{MAX_SIDE} pixels")


class FrameSource:
    """Base class: an iterable of uint8 RGB frames with a `SourceInfo`."""

    info: SourceInfo
    last_time: float | None = None  # presentation time (s) of the frame last yielded, when the source has one

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def shortfall(self) -> tuple[int, int] | None:
        """(frames decoded, frames promised) when the source ended early; None when complete or unknown."""
        return None

    def close(self) -> None:
        """Release any open file."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FolderSource(FrameSource):
    """A folder of image files (jpg/png), one frame per file, in natural order."""

    def __init__(self, folder: Path, fps: float = DEFAULT_FOLDER_FPS) -> None:
        self.files = list_images(folder)
        if not self.files:
            videos = sorted(p.name for p in folder.iterdir() if p.is_file() and is_video_path(p))
            hint = f"; it holds videos ({', '.join(videos[:3])}): give one of them as the input" if videos else ""
            raise UnseenError(f"{folder}: no image frames (jpg/png) in this folder{hint}")
        first = read_image_rgb(self.files[0])
        height, width = first.shape[:2]
        check_size(width, height, str(folder))
        if image_has_alpha(self.files[0]):
            print(
                f"unseen: note: {self.files[0].name} has an alpha channel (transparency); it is ignored, the output has none",
                file=sys.stderr,
            )
        self.info = SourceInfo(width, height, fps, len(self.files), [p.name for p in self.files], path=folder)

    def __iter__(self) -> Iterator[np.ndarray]:
        import cv2

        noted = False
        for path in self.files:
            frame = read_image_rgb(path)
            if frame.shape[:2] != (self.info.height, self.info.width):
                if not noted:
                    print(
                        f"unseen: note: {path.name} is {frame.shape[1]}x{frame.shape[0]}, the first frame {self.info.width}x{self.info.height}; "
                        "frames of another size are resized to the first's",
                        file=sys.stderr,
                    )
                    noted = True
                frame = cv2.resize(frame, (self.info.width, self.info.height), interpolation=cv2.INTER_AREA)
            yield frame


class VideoSource(FrameSource):
    """A video file decoded with PyAV, one frame at a time, upright (the display matrix's rotation is applied).

    `last_time` is the presentation time (s) of the frame last yielded; after iterating, `decoded` is the number
    of frames that decoded, `packets` the number of video packets read, and `info.frame_count` what the file's
    index lists.
    """

    def __init__(self, path: Path | str, format: str | None = None, options: dict[str, str] | None = None) -> None:
        import av

        self.path = path
        try:
            self.container = av.open(str(path), format=format, options=options or {})
        except (av.error.FFmpegError, UnicodeDecodeError) as exc:
            raise UnseenError(f"{path}: cannot open as a video ({exc.__class__.__name__})") from None
        try:
            self._init_stream()
        except BaseException:
            self.container.close()
            raise

    def _init_stream(self) -> None:
        path = self.path
        if not self.container.streams.video:
            raise UnseenError(f"{path}: the file has no video stream")
        stream = self.container.streams.video[0]
        stream.thread_type = "AUTO"
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise UnseenError(f"{path}: the video stream has no frame size (corrupt or unsupported file)")
        check_size(width, height, str(path))  # before decoding anything (a quarter turn keeps it in range)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else DEFAULT_FOLDER_FPS
        if not 0.5 <= fps <= 1000:
            fps = DEFAULT_FOLDER_FPS
        count = int(stream.frames or 0)
        self.counted = count <= 0  # no count in the header: counted from the packets, or estimated from the duration
        if self.counted and isinstance(path, Path):
            count = self._count_packets()
        if stream.duration and stream.time_base:
            self.duration: float | None = float(stream.duration * stream.time_base)
        else:
            self.duration = self.container.duration / 1e6 if self.container.duration else None  # the longest stream
        self.decoded = 0
        self.packets = 0  # video packets with data read so far (a truncated file runs out of them early)
        self._frames = self._decode(stream)
        self._first = self._next_frame()
        if self._first is None:
            raise UnseenError(f"{path}: the video has no decodable frames")
        self.turns = quarter_turns(self._first.rotation)
        if self.turns % 2:
            width, height = height, width
        if self.turns:
            print(
                f"unseen: note: {path} carries a {self._first.rotation:+.0f} degree display rotation; frames are turned upright",
                file=sys.stderr,
            )
        if has_alpha(stream.codec_context.pix_fmt):
            print(
                f"unseen: note: {path} has an alpha channel ({stream.codec_context.pix_fmt}); it is ignored, the output has none",
                file=sys.stderr,
            )
        self.info = SourceInfo(
            width, height, fps, count, None, bool(self.container.streams.audio), path if isinstance(path, Path) else None,
            rotation=float(self._first.rotation or 0),
        )  # fmt: skip

    def _decode(self, stream) -> Iterator:
        """Demux and decode by hand, counting the packets read."""
        for packet in self.container.demux(stream):
            if packet.size:
                self.packets += 1
            yield from packet.decode()

    def _next_frame(self):
        """The next decoded av.VideoFrame, or None at the end (a damaged tail ends the video, like ffmpeg)."""
        import av

        try:
            return next(self._frames)
        except StopIteration:
            return None
        except av.error.FFmpegError as exc:
            if self.decoded == 0:
                raise UnseenError(f"{self.path}: cannot decode the video ({exc.__class__.__name__})") from None
            return None

    def _count_packets(self) -> int:
        """Count video packets without decoding (for streams whose header has no frame count)."""
        import av

        count = 0
        try:
            with av.open(str(self.path)) as probe:
                for packet in probe.demux(probe.streams.video[0]):
                    if packet.size:
                        count += 1
        except av.error.FFmpegError:
            pass
        return count

    def __iter__(self) -> Iterator[np.ndarray]:
        frame, self._first = self._first, None
        resized = False
        while frame is not None:
            image = frame.to_ndarray(format="rgb24")
            turns = quarter_turns(frame.rotation)
            if turns:
                image = np.ascontiguousarray(np.rot90(image, turns))
            if image.shape[:2] != (self.info.height, self.info.width):
                import cv2

                if not resized:
                    print(
                        f"unseen: note: {self.path}: frame {self.decoded} is {image.shape[1]}x{image.shape[0]}, the first "
                        f"{self.info.width}x{self.info.height}; frames of another size are resized to the first's",
                        file=sys.stderr,
                    )
                    resized = True
                image = cv2.resize(image, (self.info.width, self.info.height), interpolation=cv2.INTER_AREA)
            self.decoded += 1
            self.last_time = frame.time
            yield image
            frame = self._next_frame()

    def shortfall(self) -> tuple[int, int] | None:
        """(frames decoded, frames the file lists) when the file ended early (truncated or damaged): fewer packets than
        its index lists and frames ending before its stated duration. Not counted: a decoder quietly dropping a frame
        or two, or a sparse file whose index lists empty slots (its frames still reach the end)."""
        fps, listed, expected = self.info.fps, self.duration, self.info.frame_count
        end = self.last_time + 1 / fps if self.last_time is not None else None
        ends_early = listed is not None and end is not None and end < listed - max(2 / fps, 0.01 * listed)
        if expected and self.packets < expected and (ends_early or end is None or listed is None):
            return self.decoded, expected
        # no index to count: the duration, which may be another stream's (audio running on) unless there is none
        slack = 1.0 if len(self.container.streams) > 1 else 0.0
        if self.counted and ends_early and end < listed - slack:
            return self.decoded, max(self.decoded + 1, round(listed * fps))
        return None

    def close(self) -> None:
        self.container.close()


def quarter_turns(rotation: float | None) -> int:
    """Counter-clockwise quarter turns (np.rot90's k) that show a frame upright, from its display-matrix rotation."""
    return round((rotation or 0) / 90) % 4


def has_alpha(pix_fmt: str | None) -> bool:
    """True when a pixel format carries transparency (yuva420p, rgba, ...)."""
    import av

    try:
        return any(c.is_alpha for c in av.VideoFormat(pix_fmt).components) if pix_fmt else False
    except (ValueError, av.error.FFmpegError):
        return False


def is_video_path(path: Path) -> bool:
    """True when the file name ends with a known video extension."""
    return path.suffix.lower() in VIDEO_EXTENSIONS


def open_frames(path: str | Path, fps: float | None = None) -> FrameSource:
    """Open a video file or a folder of frames (a YouTube-VOS `JPEGImages/<clip>` folder is a folder of frames)."""
    path = Path(path)
    if not path.exists():
        raise UnseenError(f"{path}: no such file or folder")
    if fps is not None and not (path.is_dir() and 0.5 <= fps <= 1000):  # (NaN fails the range)
        if not path.is_dir():
            raise UnseenError(f"{path}: --fps sets the frame rate of a folder of frames; a video file has its own")
        raise UnseenError(f"--fps {fps}: a frame rate must be between 0.5 and 1000")
    if path.is_dir():
        return FolderSource(path, fps or DEFAULT_FOLDER_FPS)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        raise UnseenError(f"{path}: a single image is not a video; give a video file or a folder of frames")
    return VideoSource(path)


def is_stream_spec(spec: str) -> bool:
    """True for live sources: URLs (rtsp, rtmp, http, udp...) and capture devices (/dev/video*)."""
    return "://" in spec or spec.startswith("/dev/video")


def open_stream(spec: str) -> FrameSource:
    """Open a file, a folder, a capture device (/dev/videoN, via v4l2) or a stream URL (rtsp://, http://...)."""
    if not is_stream_spec(spec):
        return open_frames(spec)
    if spec.startswith("/dev/video"):
        if not Path(spec).exists():
            raise UnseenError(f"{spec}: no such capture device")
        return VideoSource(spec, format="v4l2")
    options = {"rtsp_transport": "tcp"} if spec.startswith("rtsp://") else {}
    return VideoSource(spec, options=options)
