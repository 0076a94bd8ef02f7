"""Box selection and tracking on a generated scene with known truth."""

import numpy as np
import pytest

from tests.conftest import write_pngs, write_video
from unseen.cli import main
from unseen.datasets.synthetic import moving_object_scene
from unseen.errors import UnseenError
from unseen.masks.tracker import BoxTrackerSource, TrackerConfig, parse_box


def _box_around(mask: np.ndarray, pad: int = 4) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min() - pad), int(ys.min() - pad), int(xs.max() - xs.min() + 2 * pad + 1), int(ys.max() - ys.min() + 2 * pad + 1)


def test_tracked_mask_keeps_iou_over_300_frames():
    scene = moving_object_scene(300, 240, 320, seed=1)
    paused = sum(np.array_equal(a, b) for a, b in zip(scene.masks[:-1], scene.masks[1:], strict=True))
    assert paused > 10  # the scene does pause, and the object turns and changes speed
    tracker = BoxTrackerSource(_box_around(scene.masks[0]))
    ious = []
    for frame, truth in zip(scene.frames, scene.masks, strict=True):
        pred = tracker(frame)
        ious.append((pred & truth).sum() / (pred | truth).sum())
    assert min(ious) >= 0.8, (min(ious), int(np.argmin(ious)))


def test_masks_are_empty_before_the_selected_frame():
    scene = moving_object_scene(6, 96, 128, seed=2)
    tracker = BoxTrackerSource(_box_around(scene.masks[3]), start=3)
    got = [tracker(f) for f in scene.frames]
    assert not any(g.any() for g in got[:3])
    assert (got[3] & scene.masks[3]).sum() / (got[3] | scene.masks[3]).sum() > 0.8


@pytest.mark.parametrize(
    "text,message", [("1,2,3", "four numbers"), ("a,b,c,d", "four numbers"), ("0,0,2,2", "at least 4x4"), ("130,10,50,50", "lies outside")]
)
def test_bad_boxes_are_clear_errors(text, message):
    with pytest.raises(UnseenError, match=message):
        parse_box(text, 128, 96)


def test_remove_with_a_box_end_to_end(tmp_path):
    from unseen.io.frames import open_frames
    from unseen.masks.hygiene import dilate

    scene = moving_object_scene(40, 96, 128, seed=3)
    write_video(tmp_path / "in.mp4", scene.frames)
    write_pngs(tmp_path / "in", scene.frames)
    box = ",".join(map(str, _box_around(scene.masks[0])))
    assert main(["masks", str(tmp_path / "in.mp4"), "--box", box, "--out", str(tmp_path / "preview.mp4"), "-q"]) == 0
    assert main(["remove", str(tmp_path / "in"), "--box", box, "--out", str(tmp_path / "out"), "--method", "memory", "-q"]) == 0
    with open_frames(tmp_path / "out") as out:
        frames = list(out)
    assert len(frames) == 40
    # where the object stood on frame 0 and the background was later uncovered, memory restores it
    revealed = scene.masks[0] & (~dilate(scene.masks[1:], 6)).any(0)
    assert revealed.sum() > 100
    err = np.abs(frames[-1][revealed].astype(int) - scene.background[revealed]).mean()
    assert err < 2, err


def test_a_hand_passing_over_the_object_is_not_swallowed():
    """A still red disc; a skin-coloured bar sweeps in from the side, touches and overlaps it, and leaves."""
    from tests.conftest import textured_background

    h, w = 120, 160
    bg = textured_background(h, w, seed=4)
    yy, xx = np.mgrid[:h, :w]
    disc = (yy - 60) ** 2 + (xx - 80) ** 2 <= 22**2
    tracker = BoxTrackerSource(_box_around(disc, pad=3))
    worst_ratio, ious = 0.0, []
    for i in range(60):
        frame = bg.copy()
        frame[disc] = (200, 30, 30)
        left = -40 + 3 * i if i < 30 else 47 - 3 * (i - 30)  # in, overlapping the disc's left third, and out
        bar = (yy > 45) & (yy < 75) & (xx >= left) & (xx < left + 40)
        frame[bar] = (225, 180, 150)
        mask = tracker(frame)
        visible = disc & ~bar
        worst_ratio = max(worst_ratio, mask.sum() / visible.sum())
        ious.append((mask & visible).sum() / (mask | visible).sum())
    assert worst_ratio < 1.5, worst_ratio
    assert min(ious) > 0.6 and np.mean(ious) > 0.8, (min(ious), np.mean(ious))


def test_box_on_the_coffee_mug_does_not_bleed(shared_data):
    """The tripod clip of the issue: a box on the mug; the hand holding it, the kettle and the stream stay out."""
    import cv2

    from unseen.io.frames import open_frames
    from unseen.masks.trackeval import bbox, blue_mug_truth, iou

    tracker, ious, ratios = None, [], []
    with open_frames(shared_data / "val" / "videos" / "04_coffee.mp4") as source:
        for i, frame in enumerate(source):
            if i >= 100:
                break
            frame = cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA)
            truth = blue_mug_truth(frame)
            tracker = tracker or BoxTrackerSource(bbox(truth))
            mask = tracker(frame)
            ious.append(iou(mask, truth))
            ratios.append(mask.sum() / truth.sum())
    tracker.close()
    assert tracker.mode == "colour"
    assert np.mean(ious) > 0.9 and min(ious) > 0.8, (np.mean(ious), min(ious))
    assert max(ratios) < 1.3, max(ratios)


def test_the_coffee_mug_held_for_minutes_at_every_fourth_frame_keeps_its_mask(shared_data):
    """The live page's case: the clip looped as a webcam, a busy server seeing every fourth frame. The motion's scale
    jitters more per processed frame; passed on alone it shrank the base area until the mask gave way (0.90 mean IoU
    on the tenth pass, 0.68 by the twelfth)."""
    import cv2

    from unseen.io.frames import open_frames
    from unseen.masks.trackeval import bbox, blue_mug_truth, iou

    with open_frames(shared_data / "val" / "videos" / "04_coffee.mp4") as source:
        frames = [cv2.resize(f, (480, 270), interpolation=cv2.INTER_AREA) for f in source]
    truths = [blue_mug_truth(f) for f in frames]
    tracker = BoxTrackerSource(bbox(truths[0]))
    passes = [[] for _ in range(10)]
    for i in range(0, 10 * len(frames), 4):
        j = i % len(frames)
        passes[i // len(frames)].append(iou(tracker(frames[j]), truths[j]))
    tracker.close()
    means = [float(np.mean(p)) for p in passes]
    assert min(means) > 0.95, means


def test_box_around_a_hand_follows_it_with_the_landmarker(shared_data):
    from unseen.io.frames import open_frames
    from unseen.masks.hands import HandLandmarks, HandMaskSource
    from unseen.masks.trackeval import bbox

    with open_frames(shared_data / "val" / "videos" / "asl-hungry.mkv") as source:
        frames = list(source)
    probe = HandMaskSource(landmarks=HandLandmarks())
    hands = probe.hand_masks(frames[0])
    probe.close()
    target = max(hands, key=lambda m: m.sum())
    tracker = BoxTrackerSource(bbox(target), use_segmenters=True)
    check = HandLandmarks()
    try:
        first = tracker(frames[0])
        assert tracker.mode == "hand"
        assert (first & target).sum() / (first | target).sum() > 0.9
        inside = []
        for frame in frames[1:]:
            mask = tracker(frame)
            assert mask.sum() < 2.0 * target.sum()
            for hand in check(frame):
                xs, ys = np.clip(np.round(hand.points).astype(int), 0, [frame.shape[1] - 1, frame.shape[0] - 1]).T
                share = mask[ys, xs].mean()
                if share > 0.3:  # this is the followed hand
                    inside.append(share)
        assert len(inside) > 0.7 * (len(frames) - 1) and np.mean(inside) > 0.9, (len(inside), np.mean(inside) if inside else 0)
    finally:
        tracker.close()
        check.close()


def _jpeg(frame: np.ndarray, quality: int = 70) -> np.ndarray:
    """The frame as the live page sends it: JPEG-encoded at `quality`, decoded again (uint8 RGB)."""
    import cv2

    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_a_plain_disc_through_jpeg_is_followed(shared_data):
    """A textureless red disc moving over a real tripod clip, each frame JPEG-encoded at quality 70 as the page
    sends them: the flow finds little to follow, so colour and the repeated step must carry it."""
    import cv2

    from unseen.io.frames import open_frames
    from unseen.masks.trackeval import iou

    tracker, ious = None, []
    yy, xx = np.mgrid[:360, :640]
    with open_frames(shared_data / "val" / "videos" / "04_coffee.mp4") as source:
        for i, frame in enumerate(source):
            if i >= 90:
                break
            frame = cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA)
            cx, cy = 120 + 5 * i, 120 + 60 * np.sin(i / 15)  # about 5-7 px per frame, turning
            disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= 26**2
            frame[disc] = (205, 35, 30)
            frame = _jpeg(frame)
            tracker = tracker or BoxTrackerSource(_box_around(disc, pad=4))
            ious.append(iou(tracker(frame), disc))
    tracker.close()
    assert min(ious) > 0.85 and np.mean(ious) > 0.9, (min(ious), int(np.argmin(ious)), np.mean(ious))


def test_a_box_too_small_or_inside_out_is_a_clear_error():
    from unseen.errors import UnseenError
    from unseen.masks.tracker import BoxTrackerSource

    for box in [(97, 52, -55, 92), (10, 10, 3, 40), (0, 0, 0, 0)]:
        with pytest.raises(UnseenError, match="at least 4 px"):
            BoxTrackerSource(box)


def test_a_still_piece_left_apart_from_a_moving_object_leaves_the_mask():
    rng = np.random.default_rng(0)
    before = rng.integers(0, 255, (60, 80), dtype=np.uint8)
    after = before.copy()
    after[10:30, 10:30] = rng.integers(0, 255, (20, 20), dtype=np.uint8)  # the object moved: its pixels changed
    after[40:48, 10:18] = rng.integers(0, 255, (8, 8), dtype=np.uint8)  # ... and so did a small piece of it
    fg = np.zeros((60, 80), bool)
    fg[10:30, 10:30] = True  # the object
    fg[40:48, 10:18] = True  # a piece apart from it that moved too
    fg[40:50, 50:60] = True  # a piece apart from it, on pixels that did not change
    tracker = BoxTrackerSource((10, 10, 20, 20))
    tracker.prev_grey, tracker.camera_still = before, True
    kept = tracker._drop_left_behind(after, fg)
    assert kept[10:30, 10:30].all() and kept[40:48, 10:18].all() and not kept[40:50, 50:60].any()
    # the object itself still: nothing tells its pieces from the scene, all stay
    assert np.array_equal(tracker._drop_left_behind(before, fg), fg)
    # a moving camera: frame differences say nothing, all stay
    tracker.camera_still = False
    assert np.array_equal(tracker._drop_left_behind(after, fg), fg)
    # switched off
    off = BoxTrackerSource((10, 10, 20, 20), config=TrackerConfig(left_behind=0))
    off.prev_grey, off.camera_still = before, True
    assert np.array_equal(off._drop_left_behind(after, fg), fg)


def test_the_tracker_knows_when_the_camera_is_still():
    scene = moving_object_scene(6, 120, 160, seed=3)
    tracker = BoxTrackerSource(_box_around(scene.masks[0]))
    for frame in scene.frames[:3]:
        tracker(frame)
    assert tracker.camera_still
    panned = np.roll(scene.frames[3], 4, axis=1)  # the whole view moved 4 px: a panning camera
    tracker(panned)
    assert not tracker.camera_still


def test_a_box_past_the_frame_edge_is_cut_to_the_frame():
    assert parse_box("-10,-4,50,60", 128, 96) == (0, 0, 40, 56)
    assert parse_box("100,80,50,50", 128, 96) == (100, 80, 28, 16)
    assert parse_box("10.4,20.6,30,40", 128, 96) == (10, 21, 30, 40)


def test_size_evidence_drops_scale_jitter_and_passes_a_change_of_size():
    """A still object's per-frame scale wanders with a bias (measured on 04_coffee's mug: area scale 0.9996 +- 0.0017
    a frame); compounded over 2,000 frames that would shrink its base area by half, and the tracker would lose it.
    An object coming closer (1% more area a frame) must still count, within a few frames."""
    from unseen.masks.tracker import SizeEvidence

    steps = np.exp(np.random.default_rng(0).normal(-0.0004, 0.0017, 2000))
    evidence = SizeEvidence()
    kept = np.prod([evidence.update(s) for s in steps])
    assert np.prod(steps) < 0.6  # what the base did before
    assert 0.95 < kept < 1.05
    evidence = SizeEvidence()
    grown = np.cumprod([evidence.update(1.01) for _ in range(60)])
    assert abs(grown[-1] / 1.01**60 - 1) < 0.05 and grown[5] > 1.04  # passed on in steps of 4%, the first by frame 5
