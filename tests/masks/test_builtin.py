"""Built-in person / hand / face masks from the bundled MediaPipe models: crafted inputs and real webcam clips."""

import numpy as np
import pytest

from unseen.errors import UnseenError
from unseen.masks.builtin import builtin_classes, parse_builtin
from unseen.masks.hands import FINGERS, HandConfig, hand_silhouette, pixels_per_metre
from unseen.masks.hygiene import fill_small_holes
from unseen.masks.person import hysteresis_mask


def _flat_hand(ppm: float, origin=(200.0, 300.0)) -> tuple[np.ndarray, np.ndarray]:
    """An open right hand facing the camera: world keypoints (21, 3) in metres and their pixels at `ppm`."""
    world = np.zeros((21, 3), np.float32)
    world[0] = (0, 0, 0)
    bases = [(-0.035, -0.03), (-0.025, -0.09), (-0.005, -0.095), (0.015, -0.09), (0.032, -0.08)]  # thumb CMC, finger MCPs
    lengths = [0.03, 0.045, 0.05, 0.047, 0.037]
    for (bx, by), length, finger in zip(bases, lengths, FINGERS, strict=True):
        direction = np.array([bx, by]) / np.hypot(bx, by)
        for k, idx in enumerate(finger):
            world[idx, :2] = np.array([bx, by]) + direction * length * k / 1.5
    pixels = np.array(origin, np.float32) + world[:, :2] * ppm
    return world, pixels


def test_builtin_classes_and_parsing():
    assert builtin_classes() == ("person", "hand", "face")
    assert parse_builtin("person, Hands") == ["person", "hand"]
    assert parse_builtin(["face", "face"]) == ["face"]
    assert parse_builtin("person,bottle") is None  # a COCO class: the detector's job
    assert parse_builtin("") is None


def test_hand_scale_ignores_foreshortened_bones():
    world, pixels = _flat_hand(2000.0)
    assert pixels_per_metre(pixels, world) == pytest.approx(2000.0, rel=0.02)
    tilted = world.copy()
    tilted[5:9, 2] = np.linspace(0, 0.08, 4)  # the index finger points at the camera: its bones look short
    assert pixels_per_metre(pixels, tilted) == pytest.approx(2000.0, rel=0.05)
    # without world keypoints, the palm's pixel size and a typical palm give the scale
    assert 1200 < pixels_per_metre(pixels, None) < 3000


@pytest.mark.parametrize("ppm", [800.0, 2000.0])
def test_hand_silhouette_covers_the_landmarks_with_a_sane_area(ppm):
    from unseen.masks.hands import Hand

    world, pixels = _flat_hand(ppm, origin=(400.0, 600.0))
    mask = hand_silhouette(Hand(pixels, world, 1.0), (800, 800), HandConfig())
    assert pixels.min() > 0 and pixels.max() < 800  # the whole hand is in the frame
    xs, ys = np.round(pixels).astype(int).T
    assert mask[ys, xs].all()
    # an adult hand's silhouette with margins is ~150-250 cm^2 seen flat; allow a wide band in m^2 * ppm^2
    area_m2 = mask.sum() / ppm**2
    assert 0.008 < area_m2 < 0.04, area_m2
    # its reach: nothing further than 3 cm beyond the outermost landmarks
    ys_m, xs_m = np.nonzero(mask)
    assert xs_m.min() >= pixels[:, 0].min() - 0.03 * ppm and xs_m.max() <= pixels[:, 0].max() + 0.03 * ppm


def test_person_hysteresis_keeps_weak_pixels_only_next_to_sure_ones():
    conf = np.zeros((40, 60), np.float32)
    conf[5:15, 5:15] = 0.9  # a sure blob
    conf[5:15, 15:25] = 0.4  # weak, touching it: kept
    conf[25:35, 40:50] = 0.4  # weak, alone: dropped
    mask = hysteresis_mask(conf, 0.6, 0.3)
    assert mask.sum() == 200 and mask[10, 20] and not mask[30, 45]
    # a weak region that was in last frame's mask stays (temporal hysteresis)
    previous = np.zeros_like(mask)
    previous[25:35, 40:50] = True
    assert hysteresis_mask(conf, 0.6, 0.3, previous)[30, 45]


def test_fill_small_holes_fills_only_small_enclosed_gaps():
    mask = np.zeros((50, 50), bool)
    mask[5:45, 5:45] = True
    mask[10:13, 10:13] = False  # 9 px hole
    mask[20:40, 20:40] = False  # 400 px hole
    out = fill_small_holes(mask, 50)
    assert out[11, 11] and not out[30, 30] and out.sum() == mask.sum() + 9


def _asl_frames(shared_data, name="asl-hungry", limit=0):
    from unseen.io.frames import open_frames

    frames = []
    with open_frames(shared_data / "val" / "videos" / f"{name}.mkv") as source:
        for frame in source:
            frames.append(frame)
            if limit and len(frames) >= limit:
                break
    return frames


@pytest.mark.parametrize("landmarks", ["lite", "full"])
def test_hand_masks_on_a_signing_webcam_clip(shared_data, landmarks):
    from unseen.masks.hands import HandConfig, HandLandmarks, HandMaskSource

    frames = _asl_frames(shared_data)
    config = HandConfig(landmarks=landmarks)
    source = HandMaskSource(config, landmarks=HandLandmarks(config))
    found = 0
    try:
        for frame in frames:
            hands = source.landmarks(frame)
            if not hands:
                continue
            found += 1
            for hand in hands:
                mask = hand_silhouette(hand, frame.shape[:2], source.config)
                xs, ys = np.clip(np.round(hand.points).astype(int), 0, [frame.shape[1] - 1, frame.shape[0] - 1]).T
                assert mask[ys, xs].mean() == 1.0
                share = mask.mean()
                assert 0.003 < share < 0.08, share  # a hand at arm's length from a 640x480 webcam
    finally:
        source.close()
    assert found >= 0.8 * len(frames), (found, len(frames))


def test_the_hand_task_packs_the_chosen_landmark_model():
    import io
    import zipfile

    from unseen.masks.bundled import HAND_LANDMARK_MODELS, PALM_MODEL, hand_task_bytes, model_path

    for name, file in HAND_LANDMARK_MODELS.items():
        with zipfile.ZipFile(io.BytesIO(hand_task_bytes(name))) as task:
            assert task.read("hand_landmarks_detector.tflite") == model_path(file).read_bytes()
            assert task.read("hand_detector.tflite") == model_path(PALM_MODEL).read_bytes()
    assert model_path(HAND_LANDMARK_MODELS["lite"]).stat().st_size < model_path(HAND_LANDMARK_MODELS["full"]).stat().st_size
    with pytest.raises(UnseenError, match="unknown hand-landmark model 'huge'"):
        hand_task_bytes("huge")


def test_person_mask_on_a_signing_webcam_clip(shared_data):
    from unseen.masks.faces import FaceMaskSource
    from unseen.masks.person import PersonMaskSource

    frames = _asl_frames(shared_data, "asl-want")
    person, face = PersonMaskSource(), FaceMaskSource()
    try:
        on_person = []
        for frame in frames[::3]:
            p, f = person(frame), face(frame)
            assert 0.08 < p.mean() < 0.6, p.mean()  # one person, head to hips, in a webcam frame
            if f.any():
                on_person.append((p & f).sum() / f.sum())
        assert len(on_person) >= 0.7 * len(frames[::3])
        assert np.median(on_person) > 0.75, on_person  # the face ellipse lies on the person's head
    finally:
        person.close()
        face.close()


def test_remove_hand_needs_no_detector(shared_data, tmp_path):
    from tests.conftest import write_pngs
    from unseen.cli import main
    from unseen.io.frames import open_frames
    from unseen.pipeline.removal import RemoveOptions, build_mask_source

    write_pngs(tmp_path / "in", np.stack(_asl_frames(shared_data, limit=8)))
    assert main(["masks", str(tmp_path / "in"), "--remove", "hand,face", "--out", str(tmp_path / "prev.mp4"), "-q"]) == 0
    with open_frames(tmp_path / "in") as src:
        masks = build_mask_source(RemoveOptions(input=str(tmp_path / "in"), out="unused", remove="hands"), src)
        got = [masks(f) for f in src]
        masks.close()
    assert all(0.003 < g.mean() < 0.2 for g in got), [round(float(g.mean()), 4) for g in got]


def test_unknown_class_without_detector_is_a_clear_error(tmp_path, capsys):
    from tests.conftest import moving_square_clip, write_pngs
    from unseen.cli import main

    frames, _, _ = moving_square_clip(3, 32, 32)
    write_pngs(tmp_path / "in", frames)
    assert main(["masks", str(tmp_path / "in"), "--remove", "bottle", "--out", str(tmp_path / "p.mp4"), "-q"]) == 2
    assert "only person, hand, face work without --detector" in capsys.readouterr().err


def test_builtin_factory_rejects_coco_names():
    from unseen.masks.builtin import builtin_mask_source

    with pytest.raises(UnseenError, match="built-in classes"):
        builtin_mask_source("bottle")


@pytest.mark.parametrize("name", ["person", "hand", "face"])
def test_the_bundled_models_start_without_writing_to_stderr(name):
    """MediaPipe's C++ side prints TFLite/absl notes straight to fd 2 while its graphs start: a user must not see them
    (a fresh process, since they are printed once per process)."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from unseen.masks.builtin import builtin_mask_source\n"
        f"s = builtin_mask_source({name!r})\n"
        "frame = np.full((240, 320, 3), 128, np.uint8)\n"
        "for _ in range(3):\n"
        "    assert s(frame).shape == (240, 320)\n"
        "s.close()\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-800:]
    assert run.stderr == "", run.stderr[-800:]
