"""Frame sinks: H.264 video (PyAV, audio carried over) or a folder of PNGs, written atomically.

Writers write to a temporary name beside the target and rename it into place on `commit()`; if
anything fails (or Ctrl-C) before that, the temporary output is removed and nothing is left behind.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import numpy as np

from unseen.errors import UnseenError
from unseen.io.frames import IMAGE_EXTENSIONS, SourceInfo

VIDEO_OUT_EXTENSIONS = (".mp4", ".mkv", ".mov")
TIME_BASE = Fraction(1, 90000)  # video output timestamps (the MPEG clock)


def encode_rgb(container, stream, frame: np.ndarray, pts: int) -> None:
    """Encode one uint8 RGB frame into a PyAV video stream and mux the packets."""
    import av

    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
    vf.pts = pts
    for packet in stream.encode(vf):
        container.mux(packet)


def _same_or_inside(path: Path, folder: Path) -> bool:
    """True when `path` is `folder` itself or lies somewhere inside it (links resolved)."""
    p, f = path.resolve(), folder.resolve()
    return p == f or f in p.parents or (p.is_file() and f.is_file() and os.path.samefile(p, f))  # hard links too


OS_LITTER = (".DS_Store", "Thumbs.db", "desktop.ini")  # written by file browsers into any folder they show


def is_frame_name(name: str, names: Iterable[str] | None = None) -> bool:
    """True for a file name the PNG-folder writer itself would use (00000.png, ... or an input frame's stem + .png), or
    a file browser's litter (.DS_Store, Thumbs.db), which replacing the folder may remove."""
    if re.fullmatch(r"\d{5,}\.png", name) or name in OS_LITTER:
        return True
    return names is not None and name.endswith(".png") and name[:-4] in {Path(n).stem for n in names}


def check_replaceable(out: Path, names: Iterable[str] | None = None) -> None:
    """Refuse to replace anything at `out` that unseen would not itself have written there (nothing is touched)."""
    video = out.suffix.lower() in VIDEO_OUT_EXTENSIONS
    if out.is_dir() and not out.is_symlink():
        if video:
            raise UnseenError(f"{out}: is a folder, not a video file; --overwrite replaces only unseen's own output, nothing was touched")
        names = list(names) if names is not None else None
        stray = sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir() if not (p.is_file() and is_frame_name(p.name, names)))
        if stray:
            shown = ", ".join(stray[:3]) + (f" and {len(stray) - 3} more" if len(stray) > 3 else "")
            raise UnseenError(
                f"{out}: holds {shown}, which unseen did not write; --overwrite replaces only a folder of unseen's PNG frames, "
                "nothing was touched (choose another --out)"
            )
    elif not video:
        raise UnseenError(
            f"{out}: is {'a link' if out.is_symlink() else 'a file'}, and unseen writes a folder of PNG frames at this path; "
            "nothing was touched (choose another --out)"
        )
    elif out.is_file() and not looks_like_video(out):
        raise UnseenError(f"{out}: is not a video file; --overwrite replaces only unseen's own output, nothing was touched")


def looks_like_video(path: Path) -> bool:
    """True when the file starts like an MP4/MOV (an ISO media box) or a Matroska/WebM file (EBML), or is empty."""
    with open(path, "rb") as f:
        head = f.read(12)
    if not head:
        return True
    return head[:4] == b"\x1a\x45\xdf\xa3" or head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def check_output_path(out: str | Path, overwrite: bool, keep: Iterable[str | Path | None] = (), names: Iterable[str] | None = None) -> Path:
    """Refuse an output that is or holds one of the `keep` paths (input, masks), an existing output (unless overwrite and
    it is unseen's own kind of output), and an output folder that is missing or unwritable."""
    if isinstance(out, str) and out.endswith(("/", os.sep)) and Path(out).suffix.lower() in VIDEO_OUT_EXTENSIONS:
        raise UnseenError(f"{out}: ends with a slash (a folder) but names a video file; drop one or the other")
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix in (".avi", ".webm", ".gif", ".h264", ".h265") or suffix in IMAGE_EXTENSIONS:
        raise UnseenError(f"{out}: writing {out.suffix} is not supported; use .mp4, .mkv, .mov or a folder for PNG frames")
    for kept in keep:
        if kept and Path(kept).exists() and _same_or_inside(Path(kept), out):
            raise UnseenError(f"{out}: this is or holds the input {kept}; unseen never replaces its inputs, choose another --out")
    if out.exists() or out.is_symlink():
        if not overwrite:
            raise UnseenError(f"{out}: already exists; pass --overwrite to replace it")
        check_replaceable(out, names)
    parent = out.absolute().parent
    if not parent.is_dir():
        raise UnseenError(f"{parent}: output folder does not exist")
    if not os.access(parent, os.W_OK):
        raise UnseenError(f"{parent}: output folder is not writable")
    return out


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold back SIGINT, SIGTERM and SIGHUP (delivered right after) so a rename or clean-up is never cut in half."""
    can_block = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP} if can_block else set()
    if can_block:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        if can_block:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _temp_sibling(out: Path) -> Path:
    return out.with_name(f".{out.name}.partial-{uuid.uuid4().hex[:8]}{out.suffix}")


class FrameWriter:
    """Base class for atomic sinks; use as a context manager and call `commit()` when done."""

    names: list[str] | None = None  # input frame names (PNG folders are named after them)

    def __init__(self, out: Path, overwrite: bool) -> None:
        self.out = out
        self.overwrite = overwrite
        self.tmp = _temp_sibling(out)
        self.count = 0
        self._done = False

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 RGB frame (H, W, 3)."""
        raise NotImplementedError

    def write_at(self, frame: np.ndarray, time: float | None) -> None:
        """Append one uint8 RGB frame (H, W, 3) shown at `time` seconds (the input frame's own time; None: unknown)."""
        self.write(frame)

    def _finish(self) -> None:
        """Flush and close the temporary output."""

    def commit(self) -> Path:
        """Finish writing and move the output into place."""
        self._finish()
        with _signals_deferred():
            old = None
            if self.out.exists() or self.out.is_symlink():
                if not self.overwrite:
                    raise UnseenError(f"{self.out}: appeared while unseen was writing; pass --overwrite to replace it")
                check_replaceable(self.out, self.names)  # again: it may have changed since the start
                if self.out.is_dir() and not self.out.is_symlink():
                    old = self.out.with_name(f".{self.out.name}.replaced-{uuid.uuid4().hex[:8]}")
                    os.replace(self.out, old)
            os.replace(self.tmp, self.out)
            self._done = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.out

    def abort(self) -> None:
        """Remove the temporary output."""
        if self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif self.tmp.exists():
            self.tmp.unlink()

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._done:
            with _signals_deferred():  # a second Ctrl-C or kill must not cut the clean-up short
                try:
                    self._finish()
                except Exception:  # noqa: BLE001 - the original error matters more
                    pass
                self.abort()


class PngFolderWriter(FrameWriter):
    """Writes PNG frames into a folder, named like the input frames or numbered 00000.png, 00001.png..."""

    def __init__(self, out: Path, names: list[str] | None, overwrite: bool = False) -> None:
        super().__init__(out, overwrite)
        if names is not None and len({Path(n).stem for n in names}) < len(names):
            print(
                "unseen: note: input frame names repeat without their extension (a.jpg, a.png); numbering the output frames 00000.png, ...",
                file=sys.stderr,
            )
            names = None  # one output file per frame, never one frame over another
        self.names = names
        self.tmp.mkdir()

    def write(self, frame: np.ndarray) -> None:
        import cv2

        if self.names is not None and self.count < len(self.names):
            name = Path(self.names[self.count]).stem + ".png"
        else:
            name = f"{self.count:05d}.png"
        ok = cv2.imwrite(str(self.tmp / name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if not ok:
            raise UnseenError(f"{self.out}: could not write frame {name}")
        self.count += 1


class VideoWriter(FrameWriter):
    """H.264 (yuv420p) video at the input's frame rate; the input's audio is carried over when present."""

    def __init__(self, out: Path, info: SourceInfo, overwrite: bool = False, crf: int = 18, audio_from: Path | None = None) -> None:
        import av

        super().__init__(out, overwrite)
        self.info = info
        self.audio_from = audio_from if info.has_audio else None
        self.container = None
        self.audio_in = None
        self.audio_out = None
        try:
            self._open(av, out, info, crf)
        except BaseException:
            self.__exit__()
            raise

    def _open(self, av, out: Path, info: SourceInfo, crf: int) -> None:
        self.container = av.open(str(self.tmp), mode="w", format=self._format(out))
        rate = Fraction(info.fps).limit_denominator(1001)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height = info.width, info.height
        even = info.width % 2 == 0 and info.height % 2 == 0
        if not even:
            print(f"unseen: note: odd frame size {info.width}x{info.height}; writing yuv444p to keep every pixel", file=sys.stderr)
        self.stream.pix_fmt = "yuv420p" if even and crf > 0 else "yuv444p"
        self.stream.options = {"crf": str(crf), "preset": "veryfast" if crf > 0 else "medium"}
        if crf == 0:
            self.stream.options["qp"] = "0"
        # a clock fine enough to keep each frame's own time (variable frame rate)
        self.stream.time_base = self.stream.codec_context.time_base = TIME_BASE
        self.step = max(1, round(1 / (rate * TIME_BASE)))  # one nominal frame, in TIME_BASE units
        self.first_time: float | None = None
        self.last_pts = -1
        self.end_pts = 0  # where the last frame written ends, in TIME_BASE units
        if self.audio_from is not None:
            self._add_audio()

    @staticmethod
    def _format(out: Path) -> str:
        return {".mkv": "matroska", ".mov": "mov"}.get(out.suffix.lower(), "mp4")

    def _add_audio(self) -> None:
        import av

        self.audio_in = av.open(str(self.audio_from))
        src = self.audio_in.streams.audio[0]
        try:
            self.audio_out = self.container.add_stream_from_template(src)
            self.audio_mode = "copy"
        except (ValueError, av.error.FFmpegError):
            self.audio_out = self.container.add_stream("aac", rate=src.rate or 48000)
            self.audio_mode = "encode"

    def write(self, frame: np.ndarray) -> None:
        self.write_at(frame, None)

    def write_at(self, frame: np.ndarray, time: float | None) -> None:
        pts = self.end_pts  # no time: the next slot at the nominal frame rate
        if time is not None:
            if self.first_time is None:
                self.first_time = time
            timed = round((time - self.first_time) / TIME_BASE)
            if timed > self.last_pts:
                pts = timed
            else:  # time went back (a spliced or broken file): one nominal frame on, and count on from here
                self.first_time = time - float(pts * TIME_BASE)
        encode_rgb(self.container, self.stream, frame, pts)
        self.last_pts, self.end_pts = pts, pts + self.step
        self.count += 1

    def copy_streams_from(self, src: Path) -> bool:
        """Replace what was encoded by `src`'s own video (and audio) packets, copied without re-encoding; False (the
        encoded output is kept) when they cannot be copied into this container frame for frame."""
        import av

        self._finish()
        alt = self.tmp.with_name(f"{self.tmp.stem}.copy{self.tmp.suffix}")
        video_packets = 0
        try:
            with av.open(str(src)) as inp, av.open(str(alt), "w", format=self._format(self.out)) as out:
                streams = [inp.streams.video[0], *inp.streams.audio[:1]]
                targets = {s.index: out.add_stream_from_template(s) for s in streams}
                if self.info.rotation:
                    targets[streams[0].index].set_display_rotation(self.info.rotation)
                for packet in inp.demux(streams):
                    if not packet.size:  # the demuxer's end-of-stream marker
                        continue
                    video_packets += packet.stream.type == "video"
                    packet.stream = targets[packet.stream.index]
                    out.mux(packet)
        except (av.error.FFmpegError, ValueError, TypeError):
            video_packets = -1
        except BaseException:
            alt.unlink(missing_ok=True)
            raise
        if video_packets != self.count:
            alt.unlink(missing_ok=True)
            return False
        os.replace(alt, self.tmp)
        return True

    def _mux_audio(self) -> None:
        import av

        src = self.audio_in.streams.audio[0]
        duration = float(self.end_pts * TIME_BASE)
        try:
            if self.audio_mode == "copy":
                for packet in self.audio_in.demux(src):
                    if packet.dts is None:
                        continue
                    if packet.pts is not None and packet.time_base and float(packet.pts * packet.time_base) > duration:
                        break
                    packet.stream = self.audio_out
                    self.container.mux(packet)
            else:
                for frame in self.audio_in.decode(src):
                    if frame.time is not None and frame.time > duration:
                        break
                    frame.pts = None
                    for packet in self.audio_out.encode(frame):
                        self.container.mux(packet)
                for packet in self.audio_out.encode(None):
                    self.container.mux(packet)
        except av.error.FFmpegError as exc:
            print(f"unseen: note: audio could not be carried over ({exc.__class__.__name__})", file=sys.stderr)

    def _finish(self) -> None:
        if self.container is None:
            return
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        if self.audio_in is not None:
            self._mux_audio()
            self.audio_in.close()
            self.audio_in = None
        self.container.close()
        self.container = None


def open_writer(
    out: str | Path,
    info: SourceInfo,
    overwrite: bool = False,
    crf: int = 18,
    names: list[str] | None = None,
    keep: Iterable[str | Path | None] = (),
) -> FrameWriter:
    """A video writer for .mp4/.mkv/.mov paths, else a PNG-folder writer; checks the path first (the input and
    every `keep` path, e.g. the masks, are never replaced)."""
    out = check_output_path(out, overwrite, (info.path, *keep), names)
    if out.suffix.lower() in VIDEO_OUT_EXTENSIONS:
        return VideoWriter(out, info, overwrite, crf, info.path if info.has_audio else None)
    if info.has_audio:
        print(f"unseen: note: {out} is a folder of PNG frames: the input's audio is not in it (write .mp4 to keep it)", file=sys.stderr)
    return PngFolderWriter(out, names, overwrite)


class StreamWriter(FrameWriter):
    """H.264 to a stream URL (rtsp://, rtmp://, udp://...) with zero-latency settings; nothing to rename."""

    def __init__(self, url: str, info: SourceInfo) -> None:
        import av

        self.url, self.count, self._done = url, 0, False
        fmt = "rtsp" if url.startswith("rtsp://") else "flv" if url.startswith("rtmp://") else "mpegts"
        try:
            self.container = av.open(url, mode="w", format=fmt)
        except av.error.FFmpegError as exc:
            raise UnseenError(f"{url}: cannot open the output stream ({exc.__class__.__name__})") from None
        self.stream = self.container.add_stream("libx264", rate=Fraction(info.fps).limit_denominator(1001))
        self.stream.width, self.stream.height, self.stream.pix_fmt = info.width, info.height, "yuv420p"
        self.stream.options = {"tune": "zerolatency", "preset": "ultrafast"}

    def write(self, frame: np.ndarray) -> None:
        encode_rgb(self.container, self.stream, frame, self.count)
        self.count += 1

    def commit(self):
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()
        self._done = True
        return self.url

    def abort(self) -> None:
        self.container.close()
