"""The evaluation's camera test: a still camera with a large object moving in front of it is still."""

import numpy as np

from unseen.eval.run import camera_kind


def _scene(seed: int, h: int = 240, w: int = 432) -> np.ndarray:
    """A textured RGB scene a little larger than the frame, so that it can be panned."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (h // 4 + 20, w // 4 + 20, 3), dtype=np.uint8)
    return cv2.resize(noise, (w + 80, h + 80), interpolation=cv2.INTER_CUBIC)


def test_a_pan_is_a_moving_camera() -> None:
    scene = _scene(0)
    frames = np.stack([scene[40:280, 3 * t : 3 * t + 432] for t in range(12)])
    assert camera_kind(frames) == "moving"


def test_a_still_camera_is_static() -> None:
    scene = _scene(1)[40:280, 40:472]
    rng = np.random.default_rng(2)
    frames = np.stack([np.clip(scene + rng.normal(0, 1.5, scene.shape), 0, 255).astype(np.uint8) for _ in range(12)])
    assert camera_kind(frames) == "static"


def test_a_big_object_moving_before_a_still_camera_is_static() -> None:
    """The object (a sixth of the frame, more texture than the scene) moves 8 px a frame: its corners dominate the
    global motion, but moving the whole frame with it explains the next frame worse than a still camera."""
    import cv2

    scene = (_scene(3)[40:280, 40:472] // 2 + 64).astype(np.uint8)  # a coarser, lower-contrast background
    scene = cv2.resize(cv2.resize(scene, (108, 60), interpolation=cv2.INTER_AREA), (432, 240), interpolation=cv2.INTER_CUBIC)
    patch = _scene(4)[:120, :150]
    frames = []
    for t in range(12):
        f = scene.copy()
        y = 10 + 8 * t
        f[y : y + 120, 140:290] = patch
        frames.append(f)
    assert camera_kind(np.stack(frames)) == "static"


def test_motion_explains_a_shift_and_not_an_object() -> None:
    """The function behind both the evaluation's camera test and the box tracker's background model."""
    import cv2

    from unseen.vision.motion import motion_explains

    grey = cv2.cvtColor(_scene(5), cv2.COLOR_RGB2GRAY)
    a, b = grey[40:280, 40:472], grey[40:280, 46:478]  # the camera panned 6 px
    shift = np.array([[1.0, 0.0, -6.0], [0.0, 1.0, 0.0]])
    assert motion_explains(a, b, shift)
    assert not motion_explains(a, a.copy(), shift)  # nothing moved: the shift explains less than no motion
