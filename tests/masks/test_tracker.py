"""Box selection and tracking on a generated scene with known truth."""

import numpy as np
import pytest

from tests.conftest import write_pngs, write_video
from unseen.cli import main
from unseen.errors import UnseenError
from unseen.eval.synthetic import moving_object_scene
from unseen.masks.tracker import BoxTrackerSource, parse_box


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
    "text,message", [("1,2,3", "four numbers"), ("a,b,c,d", "four numbers"), ("0,0,2,2", "at least 4x4"), ("90,10,50,50", "leaves the")]
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
