"""Hands from the bundled palm detector + hand-landmark models: 21 keypoints per hand drawn as a silhouette.

The silhouette is the palm polygon plus a capsule along every finger bone, with widths in metres turned into
pixels by the hand's own scale (pixel length / metric length of its bones, from MediaPipe's world landmarks),
then grown by a margin, so a near hand and a far hand get the same fit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from unseen.masks.bundled import VideoClock, hand_task_bytes, mp_image, quiet_native_logs, vision_api
from unseen.masks.source import MaskSource

WRIST, MIDDLE_MCP = 0, 9
PALM = (0, 1, 2, 5, 9, 13, 17)  # wrist, thumb CMC and MCP, the four finger MCPs
FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))  # thumb .. pinky, base to tip
PALM_EDGES = ((0, 1), (0, 5), (5, 9), (9, 13), (13, 17), (0, 17))
BONES = tuple((a, b) for f in FINGERS for a, b in zip(f[:-1], f[1:], strict=True)) + PALM_EDGES
TYPICAL_PALM_M = 0.09  # wrist to middle-finger knuckle of an adult hand, for when world landmarks are missing


@dataclass
class HandConfig:
    """Detection and silhouette sizes (metres on the hand)."""

    max_hands: int = 2
    landmarks: str = "lite"  # hand-landmark model: 'lite' (about 5 ms a hand here) or 'full' (about 10 ms)
    min_detection: float = 0.5  # palm detector score to start a hand
    min_presence: float = 0.5  # landmark model's score that a hand is still there
    min_tracking: float = 0.5  # below this the palm detector runs again
    finger_radius_m: float = 0.011  # half a finger's width, around the bone axis
    thumb_radius_m: float = 0.013
    palm_margin_m: float = 0.013  # how far the palm reaches beyond its knuckles and wrist landmarks
    wrist_m: float = 0.035  # length of the forearm stub kept beyond the wrist landmark
    grow_m: float = 0.004  # extra margin around everything (soft edges, motion blur)
    grow_px: int = 2  # ... plus this many pixels
    hold_missing: int = 2  # frames a lost hand's last mask is kept when it is not found by motion and colour
    search_missing: int = 6  # frames a lost hand is searched for by motion and colour (fast hands blur; 0: off)
    hold: int = 1  # frames a pixel stays after the hand left it (a fast hand's blur)


@dataclass
class Hand:
    """One hand: keypoints (21, 2) in frame pixels (x, y), world keypoints (21, 3) in metres or None, handedness score
    and label ('Left' / 'Right' as MediaPipe names them)."""

    points: np.ndarray
    world: np.ndarray | None
    score: float
    side: str = ""


def pixels_per_metre(points: np.ndarray, world: np.ndarray | None) -> float:
    """Scale of a hand in the image: pixel length over metric length of its least foreshortened bones."""
    if world is not None:
        ratios = []
        for a, b in BONES:
            metric = float(np.linalg.norm(world[a] - world[b]))
            if metric > 0.01:
                ratios.append(float(np.linalg.norm(points[a] - points[b])) / metric)
        if len(ratios) >= 4:
            return float(np.percentile(ratios, 80))
    palm = max(float(np.linalg.norm(points[WRIST] - points[MIDDLE_MCP])), float(np.linalg.norm(points[5] - points[17])) * 1.25)
    return palm / TYPICAL_PALM_M


def hand_silhouette(hand: Hand, shape: tuple[int, int], config: HandConfig | None = None) -> np.ndarray:
    """Bool (H, W) mask of one hand: palm polygon + finger capsules + a wrist stub, grown by the margin. Drawn on a
    canvas around the hand only (the same pixels as on a whole frame's canvas, a fraction of the work)."""
    import cv2

    cfg = config or HandConfig()
    ppm = pixels_per_metre(hand.points, hand.world)
    shift = 4  # sub-pixel drawing: coordinates carry 4 fractional bits
    unit = 1 << shift
    # the wrist: from the wrist landmark away from the knuckles, as wide as the palm's margin on both sides
    axis = hand.points[WRIST] - hand.points[MIDDLE_MCP]
    norm = float(np.linalg.norm(axis))
    wrist_end = hand.points[WRIST] + axis / norm * cfg.wrist_m * ppm if norm > 1e-3 else None
    grow = int(round(cfg.grow_m * ppm)) + cfg.grow_px
    drawn = hand.points if wrist_end is None else np.vstack([hand.points, wrist_end[None]])
    radius = max(cfg.finger_radius_m, cfg.thumb_radius_m, cfg.palm_margin_m * 1.6) * ppm
    pad = int(np.ceil(radius)) + 2 + max(grow, 0)
    h, w = shape
    x0 = int(np.clip(np.floor(drawn[:, 0].min()) - pad, 0, w))
    y0 = int(np.clip(np.floor(drawn[:, 1].min()) - pad, 0, h))
    x1 = int(np.clip(np.ceil(drawn[:, 0].max()) + pad + 1, 0, w))
    y1 = int(np.clip(np.ceil(drawn[:, 1].max()) + pad + 1, 0, h))
    out = np.zeros(shape, bool)
    if x1 <= x0 or y1 <= y0:  # the hand lies wholly outside the frame
        return out
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    ox, oy = x0 * unit, y0 * unit  # whole pixels: the local drawing is the global one moved

    def at(p: np.ndarray) -> tuple[int, int]:
        return (int(round(p[0] * unit)) - ox, int(round(p[1] * unit)) - oy)

    def px(i: int) -> tuple[int, int]:
        return at(hand.points[i])

    def capsule(a: tuple[int, int], b: tuple[int, int], radius_m: float) -> None:
        thickness = max(1, int(round(2 * radius_m * ppm)))
        cv2.line(canvas, a, b, 1, thickness, cv2.LINE_8, shift)
        for p in (a, b):  # round caps and joints
            cv2.circle(canvas, p, int(round(radius_m * ppm * unit)), 1, -1, cv2.LINE_8, shift)

    hull = cv2.convexHull(np.array([px(i) for i in PALM], np.int32))
    cv2.fillConvexPoly(canvas, hull, 1, cv2.LINE_8, shift)
    for a, b in PALM_EDGES:
        capsule(px(a), px(b), cfg.palm_margin_m)
    for k, finger in enumerate(FINGERS):
        r = cfg.thumb_radius_m if k == 0 else cfg.finger_radius_m
        for a, b in zip(finger[:-1], finger[1:], strict=True):
            capsule(px(a), px(b), r)
    if wrist_end is not None:
        capsule(px(WRIST), at(wrist_end), cfg.palm_margin_m * 1.6)
    if grow > 0:
        canvas = cv2.dilate(canvas, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    out[y0:y1, x0:x1] = canvas > 0
    return out


class HandLandmarks:
    """MediaPipe HandLandmarker (VIDEO mode, tracks between frames): frame uint8 RGB (H, W, 3) -> list[Hand]."""

    def __init__(self, config: HandConfig | None = None, fps: float = 30.0) -> None:
        cfg = config or HandConfig()
        tasks = vision_api()
        vision = tasks.vision
        options = vision.HandLandmarkerOptions(
            base_options=tasks.BaseOptions(model_asset_buffer=hand_task_bytes(cfg.landmarks)),
            running_mode=vision.RunningMode.VIDEO,
            num_hands=cfg.max_hands,
            min_hand_detection_confidence=cfg.min_detection,
            min_hand_presence_confidence=cfg.min_presence,
            min_tracking_confidence=cfg.min_tracking,
        )
        with quiet_native_logs():
            self.task = vision.HandLandmarker.create_from_options(options)
        self.clock = VideoClock(fps)
        self.started = False  # the graph's first run writes notes to stderr (the landmark model's first run, at the
        # first hand found, adds one more line; muting every call until then could swallow other threads' errors)

    def __call__(self, frame: np.ndarray) -> list[Hand]:
        h, w = frame.shape[:2]
        with quiet_native_logs() if not self.started else contextlib.nullcontext():
            result = self.task.detect_for_video(mp_image(frame), self.clock.tick())
        self.started = True
        hands = []
        for k, marks in enumerate(result.hand_landmarks):
            points = np.array([(m.x * w, m.y * h) for m in marks], np.float32)
            world = None
            if k < len(result.hand_world_landmarks):
                world = np.array([(m.x, m.y, m.z) for m in result.hand_world_landmarks[k]], np.float32)
            category = result.handedness[k][0] if k < len(result.handedness) and result.handedness[k] else None
            score, side = (category.score, category.category_name or "") if category is not None else (1.0, "")
            hands.append(Hand(points, world, float(score), side))
        return hands

    def close(self) -> None:
        """Free the MediaPipe graph."""
        if self.task is not None:
            self.task.close()
            self.task = None


class HandMaskSource(MaskSource):
    """Every hand the landmarker finds, as silhouettes: bool (H, W) per frame; lost hands are held briefly."""

    def __init__(self, config: HandConfig | None = None, landmarks: HandLandmarks | None = None) -> None:
        from unseen.masks.hygiene import Hysteresis
        from unseen.masks.lost_hands import LostHandConfig, LostHands

        self.config = config or HandConfig()
        self.landmarks = landmarks or HandLandmarks(self.config)
        self.last: list[np.ndarray] = []
        self.sides: list[str] = []  # handedness of each of `last`
        search = self.config.search_missing > 0
        frames = max(self.config.search_missing, self.config.hold_missing)
        self.lost = LostHands(LostHandConfig(frames=frames, hold=self.config.hold_missing, search=search))
        self.hold = Hysteresis(self.config.hold) if self.config.hold > 0 else None

    def hand_masks(self, frame: np.ndarray) -> list[np.ndarray]:
        """One bool (H, W) silhouette per hand on this frame; a hand the detector lost is searched for by motion
        and colour for a few frames (`lost_hands.py`), else its last silhouette is kept briefly."""
        hands = self.landmarks(frame)
        found = [hand_silhouette(hand, frame.shape[:2], self.config) for hand in hands]
        self.last, self.sides = self.lost.update(frame, found, [hand.side for hand in hands])
        return list(self.last)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        mask = np.zeros(frame.shape[:2], bool)
        for m in self.hand_masks(frame):
            mask |= m
        return self.hold(mask) if self.hold is not None else mask

    def close(self) -> None:
        self.landmarks.close()
