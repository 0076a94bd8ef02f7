"""Objects that leave the frame and come back: the box tracker empties its mask and finds the object again."""

import numpy as np

from unseen.datasets.synthetic import textured_image
from unseen.masks.reacquire import Appearance
from unseen.masks.tracker import BoxTrackerSource, visible_share
from unseen.masks.trackeval import bbox, iou


def _paste(frame: np.ndarray, sprite: np.ndarray, silhouette: np.ndarray, x: int, y: int) -> np.ndarray:
    """Draw sprite (h, w, 3) under its bool silhouette with its top-left corner at (x, y), clipped; the frame's truth."""
    h, w = frame.shape[:2]
    sh, sw = silhouette.shape
    truth = np.zeros((h, w), bool)
    ys, xs = slice(max(0, y), min(h, y + sh)), slice(max(0, x), min(w, x + sw))
    if ys.start >= ys.stop or xs.start >= xs.stop:
        return truth
    sil = silhouette[ys.start - y : ys.stop - y, xs.start - x : xs.stop - x]
    frame[ys, xs][sil] = sprite[ys.start - y : ys.stop - y, xs.start - x : xs.stop - x][sil]
    truth[ys, xs] = sil
    return truth


def _textured_sprite(h: int, w: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A reddish textured ellipse: (sprite (h, w, 3) uint8 RGB, silhouette bool (h, w))."""
    import cv2

    rng = np.random.default_rng(seed)
    tex = textured_image(h, w, rng, cells=4)
    tex = (tex.astype(np.int16) // 2 + np.array([110, 20, 40])).clip(0, 255).astype(np.uint8)
    sil = np.zeros((h, w), np.uint8)
    cv2.ellipse(sil, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, 1, -1)
    return tex, sil > 0


def _exit_and_return_path(w: int, sprite_w: int, steps: int = 6) -> list[int]:
    """x of the sprite's left edge: right until it is wholly outside, out for a while, back in from the same side."""
    out_at = w + 10
    xs = list(range(w // 3, out_at, steps)) + [out_at] * 12 + list(range(out_at, w // 2, -steps)) + [w // 2] * 15
    return xs


def test_visible_share_of_a_box():
    assert visible_share(np.array([50.0, 50.0]), np.array([20.0, 20.0]), 100, 100) == 1.0
    assert visible_share(np.array([100.0, 50.0]), np.array([20.0, 20.0]), 100, 100) == 0.5
    assert visible_share(np.array([130.0, 50.0]), np.array([20.0, 20.0]), 100, 100) == 0.0


def test_an_object_that_leaves_the_frame_is_lost_and_found_when_it_returns():
    h, w = 180, 240
    bg = textured_image(h, w, np.random.default_rng(7), cells=10)
    sprite, sil = _textured_sprite(48, 64, seed=8)
    tracker = BoxTrackerSource((0, 0, 4, 4))  # replaced below by the box on frame 0
    first = True
    back, out_masks, ious = [], [], []
    for x in _exit_and_return_path(w, 64):
        frame = bg.copy()
        truth = _paste(frame, sprite, sil, x, 60)
        if first:
            bx, by, bw, bh = bbox(truth)
            tracker.reset((bx - 3, by - 3, bw + 6, bh + 6))
            first = False
        mask = tracker(frame)
        if not truth.any():
            out_masks.append(int(mask.sum()))
        elif truth.sum() == sil.sum():  # wholly in view
            ious.append(iou(mask, truth))
            back.append(len(out_masks) > 0)
    assert out_masks and max(out_masks) == 0, out_masks  # empty while it is out
    after = [v for v, returned in zip(ious, back, strict=True) if returned]
    assert len(after) > 10
    assert min(after[6:]) >= 0.7 and np.mean(after) > 0.6, after  # found again a few frames after it is back
    assert min(v for v, returned in zip(ious, back, strict=True) if not returned) > 0.8


def test_appearance_search_refuses_a_lookalike_pair():
    """Two copies of the remembered object in view: ambiguous, so no match; one copy: found where it is."""
    h, w = 120, 200
    bg = textured_image(h, w, np.random.default_rng(3), cells=10)
    sprite, sil = _textured_sprite(30, 40, seed=4)
    frame = bg.copy()
    truth = _paste(frame, sprite, sil, 20, 30)
    look = Appearance()
    look.remember(frame, truth)
    moved = bg.copy()
    where = _paste(moved, sprite, sil, 120, 70)
    match = look.search(moved)
    assert match is not None and iou(match.mask, where) > 0.8
    _paste(moved, sprite, sil, 20, 10)
    assert look.search(moved) is None


def _real_exit_scene(shared_data, count: int = 80):
    """A real object (the dog of davis-dog, cut out by its annotation) carried out of a real static clip (vtest:
    pedestrians, a still camera) to the left and back in: (frames, truths), uint8 RGB 640x480 and bool."""
    import cv2

    from unseen.io.frames import open_frames, read_image_rgb

    root = shared_data / "val"
    dog = read_image_rgb(root / "JPEGImages" / "davis-dog" / "00000.jpg")
    sil = read_image_rgb(root / "Annotations" / "davis-dog" / "00000.png")[..., 0] > 0
    x, y, w, h = bbox(sil)
    k = 110 / max(w, h)
    size = (round(w * k), round(h * k))
    sprite = cv2.resize(dog[y : y + h, x : x + w], size, interpolation=cv2.INTER_AREA)
    sil = cv2.resize(sil[y : y + h, x : x + w].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    path = list(range(200, -size[0] - 12, -8))  # out to the left, gone for 10 frames, back in, still for 20
    path += [path[-1]] * 10 + list(range(path[-1], 230, 8)) + [230] * 20
    frames, truths = [], []
    with open_frames(shared_data / "val" / "videos" / "vtest.avi") as source:
        for frame, px in zip(source, path[:count] if count else path, strict=False):
            frame = cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA)
            truths.append(_paste(frame, sprite, sil, px, 300))
            frames.append(frame)
    return frames, truths


def test_a_real_object_leaves_a_real_clip_and_comes_back(shared_data):
    frames, truths = _real_exit_scene(shared_data, count=0)
    x, y, w, h = bbox(truths[0])
    tracker = BoxTrackerSource((x - 3, y - 3, w + 6, h + 6))
    masks = [tracker(f) for f in frames]
    tracker.close()
    gone = [i for i, t in enumerate(truths) if not t.any()]
    assert gone and not any(masks[i].any() for i in gone), [int(masks[i].sum()) for i in gone]  # empty while out
    back = [i for i, t in enumerate(truths) if i > gone[-1] and t.sum() == truths[0].sum()]  # wholly in view again
    ious = [iou(masks[i], truths[i]) for i in back]
    assert len(ious) > 10 and min(ious[6:]) >= 0.7, ious


def test_an_object_lifted_away_in_place_is_lost_and_not_found_on_the_background():
    """A textured object stands still, vanishes where it stood (lifted out of view) and is put back: the mask
    empties within a few frames, nothing is 'found' on the background it left, and it is found when back."""
    h, w = 180, 240
    bg = textured_image(h, w, np.random.default_rng(7), cells=10)
    sprite, sil = _textured_sprite(48, 64, seed=8)
    tracker, masks, truths = None, [], []
    for i in range(60):
        frame = bg.copy()
        present = i < 20 or i >= 45
        truth = _paste(frame, sprite, sil, 80 + min(i, 20) if i < 20 else 100, 60) if present else np.zeros((h, w), bool)
        if tracker is None:
            x, y, bw, bh = bbox(truth)
            tracker = BoxTrackerSource((x - 3, y - 3, bw + 6, bh + 6))
        masks.append(tracker(frame))
        truths.append(truth)
    assert not any(m.any() for m in masks[32:45]), [int(m.sum()) for m in masks[20:45]]  # empty, no false match
    assert all(iou(m, t) > 0.8 for m, t in zip(masks[50:], truths[50:], strict=True))  # found again
