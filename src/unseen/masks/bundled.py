"""The MediaPipe models that ship inside the package (models/, Apache-2.0, see models/NOTICE) and how to open them.

They run through `mediapipe`'s tasks API (`mediapipe.tasks.python.vision`), imported only when a built-in mask
source is made, so importing `unseen` stays light.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import zipfile
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import numpy as np

from unseen.errors import UnseenError

PERSON_MODEL = "selfie_segmentation_landscape.tflite"
PALM_MODEL = "palm_detection_full.tflite"
HAND_LANDMARK_MODELS = {"lite": "hand_landmark_lite.tflite", "full": "hand_landmark_full.tflite"}
FACE_MODEL = "face_detection_short_range.tflite"


def model_path(name: str) -> Path:
    """Path of a bundled model file (models/<name>); an UnseenError if the installation lacks it."""
    path = Path(str(files("unseen.masks") / "models" / name))
    if not path.is_file():
        raise UnseenError(f"bundled model {name} is missing from {path.parent}; reinstall unseen")
    return path


def hand_task_bytes(landmarks: str = "lite") -> bytes:
    """The palm detector and a hand-landmark model ('lite': half the time per hand, 'full') packed as the `.task`
    zip that MediaPipe's HandLandmarker reads (built in memory)."""
    if landmarks not in HAND_LANDMARK_MODELS:
        raise UnseenError(f"unknown hand-landmark model {landmarks!r}; choose from {', '.join(HAND_LANDMARK_MODELS)}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.write(model_path(PALM_MODEL), "hand_detector.tflite")
        z.write(model_path(HAND_LANDMARK_MODELS[landmarks]), "hand_landmarks_detector.tflite")
    return buf.getvalue()


def vision_api():
    """`mediapipe.tasks.python` (module); an UnseenError naming the package if it is not installed."""
    # MediaPipe's C++ side logs through glog/absl to stderr (INFO lines for every graph); keep it to warnings
    # unless the user asked for more
    os.environ.setdefault("GLOG_minloglevel", "2")
    try:
        from mediapipe.tasks import python as tasks
        from mediapipe.tasks.python import vision  # noqa: F401 - makes tasks.vision available
    except ImportError as exc:
        raise UnseenError(
            f"the built-in person/hand/face masks need the 'mediapipe' package ({exc}); pip install 'mediapipe==0.10.31'"
        ) from None
    return tasks


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Silence what MediaPipe's C++ side writes straight to the process's stderr (TFLite's "Created XNNPACK delegate",
    absl's pre-initialisation warnings, calculator notes: 4-5 lines of noise per run) while its graphs start and first
    run. Set UNSEEN_NATIVE_LOGS=1 to see them. Python's own errors are raised after the block, never lost."""
    if os.environ.get("UNSEEN_NATIVE_LOGS"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def mp_image(frame: np.ndarray):
    """Wrap a uint8 RGB (H, W, 3) frame as a mediapipe.Image (no copy if already contiguous)."""
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))


class VideoClock:
    """Strictly increasing millisecond timestamps for MediaPipe's VIDEO running mode (one tick per frame)."""

    def __init__(self, fps: float = 30.0) -> None:
        self.step = max(1, round(1000.0 / fps))
        self.now = 0

    def tick(self) -> int:
        """The next frame's timestamp in ms."""
        self.now += self.step
        return self.now
