"""The one place where mask sources and inpainters are built, with one set of defaults.

The CLI, the live server, `unseen eval`, training's validation, the benchmarks and the Python API all build
their mask sources with `build_masks(MaskSpec(...), info)` and their inpainters with `load_inpainter(...)`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from unseen.engine.inpainter import Inpainter
from unseen.masks.source import MaskSource

DILATE_FILES = 4  # holes from mask files or segmenters grow by this (annotations miss soft edges, blur, shadow)
DILATE_BOX = 2  # the box tracker already adds a margin
TRACK_PIXELS = 854 * 480  # the box tracker works on frames scaled down to this many pixels (04_coffee, 1280x720: 234
# ms per frame at full size, 97 ms at 854x480, on a busy 2-core machine; its masks were the same to 0.2% of area)
HOLD_CLASSES = 3  # segmenters flicker: a pixel stays in the hole this many frames after its last detection


@dataclass
class MaskSpec:
    """Where the holes come from: exactly one of mask files, a box to track, or class names; then hygiene.

    `dilate` and `hold` left at None take the defaults for the kind (files/classes: dilate 4; box: 2;
    classes: hold 3). Used by the CLI, the live server and the Python API alike.
    """

    masks: str | None = None  # folder of PNGs, one PNG for every frame, or a mask video
    box: tuple[int, int, int, int] | str | None = None  # (x, y, w, h) of the object on frame `at`, input pixels
    at: int = 0
    classes: str | list[str] | None = None  # "person", "hand", "face" (bundled), or COCO names with `detector`
    detector: str | None = None  # RTMDet-Ins / YOLO-seg .onnx for COCO classes
    detector_kind: str = "auto"
    score: float = 0.3
    segmenter: object | None = None  # an already loaded instance segmenter (shared, e.g. by a server's clients)
    box_segmenters: bool = True  # a box around a person or a hand is followed by the bundled segmenters (their first
    # load costs 0.5-2 s: a live server starts plain and stays responsive)
    dilate: int | None = None
    min_area: int = 0  # drop hole components smaller than this many pixels
    hold: int | None = None

    def class_names(self) -> str | None:
        """The classes as one comma-separated string (or None)."""
        if self.classes is None or isinstance(self.classes, str):
            return self.classes or None
        return ",".join(self.classes) or None


def build_masks(spec: MaskSpec, info) -> MaskSource:
    """The mask source for `spec` over a video described by `info` (`unseen.io.frames.SourceInfo`)."""
    from unseen.errors import UnseenError
    from unseen.masks.source import CleanMaskSource, DilatedMaskSource, IteratorMaskSource, ScaledMaskSource, fit_pixels

    classes = spec.class_names()
    if sum([bool(spec.masks), spec.box is not None, bool(classes or spec.detector or spec.segmenter)]) != 1:
        raise UnseenError(
            "give exactly one of --masks (mask files), --box (x,y,w,h of the object) or --remove CLASSES (person, hand, face,"
            " or COCO classes with --detector MODEL.onnx)"
        )
    if spec.at and spec.box is None:
        raise UnseenError("--at is the frame --box refers to; it needs --box")
    if not 0.0 < spec.score < 1.0:
        raise UnseenError(f"--score {spec.score}: a detector score threshold lies between 0 and 1 (default 0.3)")
    hold = 0 if spec.hold is None else spec.hold
    dil = DILATE_FILES
    if spec.masks:
        from unseen.io.masks import MaskFiles

        files = MaskFiles(spec.masks, info)
        inner: MaskSource = IteratorMaskSource(iter(files), on_close=files.close)
    elif spec.box is not None:
        from unseen.masks.tracker import BoxTrackerSource, parse_box

        text = spec.box if isinstance(spec.box, str) else ",".join(str(v) for v in spec.box)
        check_at(spec.at, info.frame_count)
        x, y, w, h = parse_box(text, info.width, info.height)
        if tuple(round(float(v)) for v in text.split(",")) != (x, y, w, h):
            print(f"unseen: note: --box {text} reaches past the {info.width}x{info.height} frame; using {x},{y},{w},{h}", file=sys.stderr)
        size = fit_pixels(info.width, info.height, TRACK_PIXELS)  # HD and larger: the tracker follows a scaled copy
        sx, sy = size[0] / info.width, size[1] / info.height
        box = (round(x * sx), round(y * sy), max(4, round(w * sx)), max(4, round(h * sy)))
        inner = BoxTrackerSource(box, start=spec.at, use_segmenters=spec.box_segmenters)
        if size != (info.width, info.height):
            inner = ScaledMaskSource(inner, size)
        dil = DILATE_BOX
    else:
        inner = _class_source(spec, classes)
        hold = HOLD_CLASSES if spec.hold is None else spec.hold
    dil = dil if spec.dilate is None else spec.dilate
    if dil < 0 or spec.min_area < 0 or hold < 0:
        raise UnseenError("--dilate, --min-area and --hold must be 0 or more")
    if spec.min_area or hold:
        inner = CleanMaskSource(inner, spec.min_area, hold)
    return DilatedMaskSource(inner, dil) if dil else inner


def check_at(at: int, frames: int) -> None:
    """Refuse a --box frame index outside the input (`frames`: the input's frame count, 0 when unknown)."""
    from unseen.errors import UnseenError

    if at < 0:
        raise UnseenError(f"--at {at}: a frame index is 0 or more")
    if frames and at >= frames:
        raise UnseenError(f"--at {at}: the input has {frames} frames (0..{frames - 1})")


def _class_source(spec: MaskSpec, classes: str | None) -> MaskSource:
    """Bundled segmenters for person/hand/face; an instance segmenter (ONNX) for COCO classes; both when mixed."""
    from unseen.errors import UnseenError
    from unseen.masks.builtin import BUILTIN_CLASSES, UnionMaskSource, builtin_mask_source, parse_builtin

    if not classes:
        raise UnseenError("--detector needs --remove CLASSES (COCO names, e.g. bottle,cup)")
    has_detector = bool(spec.detector or spec.segmenter)
    names = [n.strip() for n in classes.split(",") if n.strip()]
    builtin = [n for n in names if parse_builtin(n) and not (has_detector and n == "person")]  # a detector's own person wins
    coco = [n for n in names if n not in builtin]
    if coco and not has_detector:
        raise UnseenError(
            f"--remove {classes}: only {', '.join(BUILTIN_CLASSES)} work without --detector MODEL.onnx"
            " (RTMDet-Ins or YOLO-seg; see docs/MASKS.md)"
        )
    sources: list[MaskSource] = [builtin_mask_source(builtin)] if builtin else []
    if coco:
        from unseen.masks.detectors import DetectorMaskSource, class_ids, load_segmenter

        segmenter = spec.segmenter or load_segmenter(spec.detector, spec.detector_kind, spec.score)
        sources.append(DetectorMaskSource(segmenter, class_ids(",".join(coco))))
    return sources[0] if len(sources) == 1 else UnionMaskSource(sources)


def load_inpainter(method: str = "model", weights="small", engine=None, **engine_options: object) -> Inpainter:
    """The inpainter called `method` (model, memory, lastseen, telea): the only constructor of inpainters.

    Model only: `weights` is a preset name, a .safetensors path or an already loaded `InpaintGenerator` (shared,
    e.g. by the live server's sessions); `engine` an `unseen.engine.online.EngineConfig`; `engine_options`
    (delay, backend, threads, work_width, ...) replace fields of it (None: the defaults). `masks_lag=True`: the
    masks come from a tracker or segmenter and may miss the object's edge (used by model and memory; the
    methods without a memory have nothing to protect and ignore it).
    """
    from unseen.engine.registry import BACKENDS, METHODS
    from unseen.errors import UnseenError

    masks_lag = bool(engine_options.pop("masks_lag", False if engine is None else engine.masks_lag))
    threads = engine_options.get("threads", 0 if engine is None else engine.threads)
    if not isinstance(threads, int) or threads < 0:
        raise UnseenError("--threads must be 0 (automatic) or more")
    from unseen.engine.graph import usable_cores

    cores = usable_cores()
    if method == "model" and threads > cores:
        print(f"unseen: note: --threads {threads} is more than the {cores} cores here; using {cores}", file=sys.stderr)
    if method != "model":
        tuned = {
            k: v
            for k, v in engine_options.items()
            if (k, v) not in (("delay", 0), ("backend", "auto"), ("backend", "eager"), ("threads", 0))
        }
        if engine is not None or tuned:
            raise UnseenError(f"--delay, --backend and other engine settings apply to the model only; {method} has none")
    if method == "telea":
        from unseen.engine.telea import TeleaInpainter

        return TeleaInpainter()
    if method == "lastseen":
        from unseen.engine.memory import LastSeenInpainter

        return LastSeenInpainter()
    if method == "memory":
        from unseen.engine.memory import MemoryInpainter
        from unseen.engine.propagation import guide_config

        return MemoryInpainter(guide_config(masks_lag))
    if method != "model":
        raise UnseenError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    from dataclasses import replace

    from unseen.engine.online import EngineConfig, OnlineInpainter

    config = replace(engine or EngineConfig(), masks_lag=masks_lag, **engine_options)
    if config.backend not in BACKENDS:
        raise UnseenError(f"unknown backend {config.backend!r}; choose one of {', '.join(BACKENDS)}")
    if isinstance(weights, str):
        return OnlineInpainter.from_weights(weights, config)
    return OnlineInpainter(weights, config)
