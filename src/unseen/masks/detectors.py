"""Instance segmentation through ONNX Runtime: RTMDet-Ins exported by mmdeploy, YOLO-seg exported by ultralytics.

No weights ship with unseen (none can be downloaded here); the user passes the .onnx path. docs/MASKS.md
says how to export either model on a machine with internet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unseen.errors import UnseenError
from unseen.masks.coco import COCO_CLASSES
from unseen.masks.hygiene import dilate
from unseen.masks.source import MaskSource

INPUT_SIZE = 640


@dataclass
class Instance:
    """One detected object: box (x1, y1, x2, y2) in frame pixels, score, class id, bool mask (H, W) of the frame."""

    box: tuple[float, float, float, float]
    score: float
    label: int
    mask: np.ndarray


@dataclass
class Letterbox:
    """How a frame was fitted into the square network input."""

    scale: float
    pad_x: int
    pad_y: int
    width: int
    height: int

    def unmap_mask(self, mask: np.ndarray) -> np.ndarray:
        """A probability/bool map over the network input (any resolution) -> bool mask over the frame."""
        import cv2

        m = cv2.resize(mask.astype(np.float32), (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
        nw, nh = round(self.width * self.scale), round(self.height * self.scale)
        m = m[self.pad_y : self.pad_y + nh, self.pad_x : self.pad_x + nw]
        return cv2.resize(m, (self.width, self.height), interpolation=cv2.INTER_LINEAR) > 0.5

    def unmap_box(self, box: np.ndarray) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = box
        s = self.scale
        return ((x1 - self.pad_x) / s, (y1 - self.pad_y) / s, (x2 - self.pad_x) / s, (y2 - self.pad_y) / s)


def letterbox(frame: np.ndarray, centre: bool, pad_value: int = 114) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio into INPUT_SIZE^2 and pad (bottom-right for mmdet, centred for ultralytics)."""
    import cv2

    h, w = frame.shape[:2]
    s = min(INPUT_SIZE / h, INPUT_SIZE / w)
    nw, nh = round(w * s), round(h * s)
    canvas = np.full((INPUT_SIZE, INPUT_SIZE, 3), pad_value, np.uint8)
    px, py = ((INPUT_SIZE - nw) // 2, (INPUT_SIZE - nh) // 2) if centre else (0, 0)
    canvas[py : py + nh, px : px + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, Letterbox(s, px, py, w, h)


class OnnxSegmenter:
    """Base: an ONNX Runtime session and a `__call__(frame) -> list[Instance]`."""

    def __init__(self, path: str | Path, score_threshold: float = 0.3, threads: int = 0) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.exists():
            raise UnseenError(f"{path}: no such detector model")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - ORT raises several types
            raise UnseenError(f"{path}: not a loadable ONNX model ({str(exc)[:120]})") from None
        self.score_threshold = score_threshold
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def __call__(self, frame: np.ndarray) -> list[Instance]:
        raise NotImplementedError


class RTMDetIns(OnnxSegmenter):
    """mmdeploy's end2end.onnx of RTMDet-Ins: input `input` [1,3,640,640] (BGR, mean/std normalised, padded
    bottom-right with 114); outputs `dets` [1,N,5] (x1,y1,x2,y2,score in input pixels), `labels` [1,N], `masks`
    [1,N,h,w] sigmoid probabilities over the input."""

    MEAN = np.array([103.53, 116.28, 123.675], np.float32)  # BGR, as RTMDet's data preprocessor
    STD = np.array([57.375, 57.12, 58.395], np.float32)

    def __call__(self, frame: np.ndarray) -> list[Instance]:
        image, box = letterbox(frame[..., ::-1], centre=False)  # RGB -> BGR
        x = ((image.astype(np.float32) - self.MEAN) / self.STD).transpose(2, 0, 1)[None]
        dets, labels, masks = self.session.run(["dets", "labels", "masks"], {"input": np.ascontiguousarray(x)})
        out = []
        for det, label, mask in zip(dets[0], labels[0], masks[0], strict=True):
            if det[4] >= self.score_threshold:
                out.append(Instance(box.unmap_box(det[:4]), float(det[4]), int(label), box.unmap_mask(mask)))
        return out


class YoloSeg(OnnxSegmenter):
    """ultralytics' YOLO segmentation ONNX: input `images` [1,3,640,640] (RGB / 255, centred letterbox, pad 114);
    `output0` [1, 4+C+32, A] (cx, cy, w, h, class scores, mask coefficients), `output1` [1, 32, 160, 160] prototypes."""

    def __init__(self, path: str | Path, score_threshold: float = 0.3, iou_threshold: float = 0.5, threads: int = 0) -> None:
        super().__init__(path, score_threshold, threads)
        self.iou_threshold = iou_threshold

    def __call__(self, frame: np.ndarray) -> list[Instance]:
        import cv2

        image, box = letterbox(frame, centre=True)
        x = (image.astype(np.float32) / 255).transpose(2, 0, 1)[None]
        pred, protos = self.session.run(None, {self.inputs[0]: np.ascontiguousarray(x)})
        pred = pred[0].T  # (A, 4 + C + 32)
        nm = protos.shape[1]
        scores_all = pred[:, 4:-nm]
        labels = scores_all.argmax(1)
        scores = scores_all[np.arange(len(pred)), labels]
        keep = scores >= self.score_threshold
        if not keep.any():
            return []
        pred, labels, scores = pred[keep], labels[keep], scores[keep]
        cx, cy, bw, bh = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
        idx = cv2.dnn.NMSBoxes(
            [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes],
            scores.tolist(),
            self.score_threshold,
            self.iou_threshold,
        )
        idx = np.array(idx).reshape(-1)
        ph, pw = protos.shape[2:]
        proto = protos[0].reshape(nm, -1)
        out = []
        for i in idx:
            m = 1 / (1 + np.exp(-(pred[i, -nm:] @ proto).reshape(ph, pw)))
            m = cv2.resize(m.astype(np.float32), (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
            x1, y1, x2, y2 = np.clip(boxes[i], 0, INPUT_SIZE).astype(int)
            cropped = np.zeros_like(m)
            cropped[y1:y2, x1:x2] = m[y1:y2, x1:x2]  # the mask lives inside its box
            out.append(Instance(box.unmap_box(boxes[i]), float(scores[i]), int(labels[i]), box.unmap_mask(cropped)))
        return out


def load_segmenter(path: str | Path, kind: str = "auto", score_threshold: float = 0.3) -> OnnxSegmenter:
    """Open an RTMDet-Ins or YOLO-seg ONNX model; `auto` decides from the graph's input/output names."""
    if kind == "auto":
        probe = OnnxSegmenter(path, score_threshold)
        kind = "rtmdet" if {"dets", "labels", "masks"} <= set(probe.outputs) else "yolo" if len(probe.outputs) == 2 else "unknown"
        if kind == "unknown":
            raise UnseenError(f"{path}: outputs {probe.outputs} match neither RTMDet-Ins (dets, labels, masks) nor YOLO-seg (2 outputs)")
    if kind == "rtmdet":
        return RTMDetIns(path, score_threshold)
    if kind == "yolo":
        return YoloSeg(path, score_threshold)
    raise UnseenError(f"unknown detector kind {kind!r}; choose auto, rtmdet or yolo")


def class_ids(names: str) -> list[int]:
    """'bottle,cup' -> COCO ids; unknown names are an error that lists a few valid ones."""
    ids = []
    for name in (n.strip().lower() for n in names.split(",") if n.strip()):
        if name not in COCO_CLASSES:
            raise UnseenError(f"unknown class {name!r}; COCO classes include: {', '.join(COCO_CLASSES[:12])}, ...")
        ids.append(COCO_CLASSES.index(name))
    if not ids:
        raise UnseenError("--remove needs at least one class name")
    return ids


class DetectorMaskSource(MaskSource):
    """Union of the masks of all detected instances of the chosen classes, per frame."""

    def __init__(self, segmenter: OnnxSegmenter, classes: list[int], grow: int = 0) -> None:
        self.segmenter, self.classes, self.grow = segmenter, set(classes), grow

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        mask = np.zeros(frame.shape[:2], bool)
        for inst in self.segmenter(frame):
            if inst.label in self.classes:
                mask |= inst.mask
        return dilate(mask, self.grow) if self.grow else mask
