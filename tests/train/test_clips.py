"""Training clips read from video files: random access by frame index, variable-rate streams."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from unseen.datasets.clips import VideoClip


def _variable_rate_video(path: Path, shown_at: list[int]) -> Path:
    """A 25 fps timeline with frames only at `shown_at` (as a camera that drops frames writes it); frame k is grey k*20."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 25)
        stream.codec_context.gop_size = 4
        for k, t in enumerate(shown_at):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * k + 10, np.uint8), format="rgb24")
            frame.pts, frame.time_base = t, Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_a_variable_rate_video_reads_the_frame_on_screen_at_any_index(tmp_path):
    shown_at = [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]
    clip = VideoClip(_variable_rate_video(tmp_path / "vfr.mkv", shown_at))
    which = lambda f: int(round((float(f.mean()) - 10) / 20))  # noqa: E731  (the codec shifts greys by a few levels)
    # index 13 falls between the frames at 12 and 15: the one at 12 (the fifth written, k = 4) is on screen
    assert [which(f) for f in clip.read([13, 14])] == [4, 4]
    assert [which(f) for f in clip.read([15, 16, 19])] == [5, 5, 6]
    assert which(clip.read([25])[0]) == 8  # after a seek as well as from the start
    assert [which(f) for f in clip.read([0, 1])] == [0, 1]  # from the start: decoded frames, counted


def test_a_cached_video_is_as_long_as_the_frames_that_decode(tmp_path):
    from unseen.datasets.clips import CachedClip

    video = VideoClip(_variable_rate_video(tmp_path / "dropped.avi", [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]))
    assert video.length == 28  # the AVI index counts the dropped frames
    cached = CachedClip(video, 256, 240)
    frames = cached.read([0, 9])
    assert cached.length == 10 and len(cached.frames) == 10  # not 18 copies of the last frame after them
    assert [int(round((float(f.mean()) - 10) / 20)) for f in frames] == [0, 9]
