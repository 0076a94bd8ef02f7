"""The classical guide: a still camera is exact, a moving camera carries what it saw, no ghosts, only frames <= t."""

import numpy as np
import pytest

from unseen.datasets.synthetic import textured_image
from unseen.engine.memory import BackgroundMemory, LastSeenInpainter, MemoryInpainter, memory_fill
from unseen.engine.propagation import GuideBuilder, guide_config


def _ellipse(h: int, w: int, cx: float, cy: float, a: int, b: int) -> np.ndarray:
    import cv2

    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (int(cx), int(cy)), (a, b), 0, 0, 360, 1, -1)
    return m > 0


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def _grow(mask: np.ndarray, r: int) -> np.ndarray:
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0


def still_scene(t: int = 36, h: int = 120, w: int = 200, seed: int = 3):
    """A still camera: a masked object crossing, an unmasked person-like mover, sensor noise, JPEG flicker."""
    rng = np.random.default_rng(seed)
    background = textured_image(h, w, rng, cells=10)
    other = textured_image(h, w, rng, cells=3)
    frames, masks = [], []
    for i in range(t):
        frame = background.astype(np.float32)
        mover = _ellipse(h, w, 30 + 3 * i, 25 + 8 * np.sin(i / 3), 22, 16)  # moves on its own, never masked
        frame[mover] = other[mover]
        obj = _ellipse(h, w, 40 + 3.5 * i, 80, 18, 14)
        frame[obj] = (200, 40, 40)
        frame += rng.normal(0, 2.0, frame.shape)  # sensor noise
        frame = _jpeg(np.clip(frame, 0, 255).astype(np.uint8), int(rng.integers(70, 95)))  # compression flicker
        frames.append(frame)
        masks.append(_grow(obj, 4))
    return np.stack(frames), np.stack(masks), background


def test_still_camera_memory_equals_lastseen_where_background_was_seen():
    frames, masks, background = still_scene()
    builder, lastseen = GuideBuilder(), LastSeenInpainter()
    compared = differ = 0
    for t, (f, m) in enumerate(zip(frames, masks, strict=True)):
        shown = f.copy()
        shown[m] = 0
        guide, confidence = builder.step(shown, m)
        base = lastseen.step(shown, m)
        assert builder.still, t  # people moving, noise and flicker are not camera motion
        seen = m & lastseen.memory.known
        err = np.abs(lastseen.memory.value.astype(int) - background).mean(axis=2)
        where = seen & (err <= 12)  # lastseen holds the background there
        assert (confidence[where] > 0.5).all(), t  # used (1, or 0.6 for the first frame's doubtful rim)
        other = where & (guide != base).any(axis=2)
        # a value a compression artefact at the object's edge pushed past the colour tolerance is not taken: the
        # memory keeps an observation at least as close to the background
        err_guide = np.abs(guide[other].astype(int) - background[other]).mean(axis=1)
        assert (err_guide <= err[other] + 0.5).all(), t
        compared += int(where.sum())
        differ += int(other.sum())
    assert compared > 5000 and differ <= 0.001 * compared


def planes_scene(t: int = 24, h: int = 160, w: int = 200):
    """A camera panning over a smooth far plane (top, 2 px/frame) and a high-contrast near plane (bottom, 5 px/frame),
    with a hole fixed in the frame over the far plane (like a logo)."""
    rng = np.random.default_rng(5)
    far = textured_image(h, w + 2 * t + 10, rng, cells=12)
    near = textured_image(h, w + 5 * t + 10, rng, cells=4)
    near = np.where(near > 127, 230, 25).astype(np.uint8)  # strong corners: a global estimate follows the near plane
    split = 90
    frames = []
    for i in range(t):
        frame = np.empty((h, w, 3), np.uint8)
        frame[:split] = far[:split, 2 * i : 2 * i + w]
        frame[split:] = near[split:, 5 * i : 5 * i + w]
        frames.append(frame)
    hole = np.zeros((h, w), bool)
    hole[28:58, 85:115] = True
    return np.stack(frames), hole


def test_propagation_recovers_the_far_plane_where_a_single_similarity_cannot():
    frames, hole = planes_scene()
    builder, similarity = GuideBuilder(), BackgroundMemory()
    for f in frames:
        shown = f.copy()
        shown[hole] = 0
        guide, confidence = builder.step(shown, hole)
        old, _ = memory_fill(similarity, shown, hole)
    truth = frames[-1]
    assert not builder.still
    carried = confidence > 0
    assert carried.sum() > 0.9 * hole.sum()  # the far plane seen earlier is carried into the whole hole
    err = np.abs(guide[hole].astype(int) - truth[hole]).mean()
    err_similarity = np.abs(old[hole].astype(int) - truth[hole]).mean()
    assert err < 6.0  # stated error: mean absolute 6 grey levels after 24 frames of warping
    assert err_similarity > 2 * err


@pytest.mark.parametrize("masks_lag", [False, True], ids=["exact-masks-config", "lagging-masks-config"])
def test_no_ghosts_from_masks_that_miss_a_rim_and_a_limb(masks_lag):
    """A textured object under a lagging mask (two frames behind, grown 2 px: it misses a 3-6 px leading rim, and for
    a few frames the arm); still camera. In the hole where the object no longer is and the background was seen
    before, the output must show that background, not the object's colours."""
    rng = np.random.default_rng(7)
    h, w, t = 120, 200, 40
    background = textured_image(h, w, rng, cells=10)
    skin = (textured_image(h, w, rng, cells=3) // 3 + np.array([150, 60, 20], np.uint8)).astype(np.uint8)  # orange
    builder, lastseen = GuideBuilder(guide_config(masks_lag)), LastSeenInpainter()
    ghosts = {"memory": 0, "lastseen": 0}
    xs = np.cumsum([0] + [2.5 + 0.5 * (i % 3) for i in range(24)] + [-3.0] * 16) + 50  # crosses, then comes back
    bodies = []
    seen_background = np.zeros((h, w), bool)
    for i in range(t):
        obj = _ellipse(h, w, xs[i], 60, 20, 16)
        limb = np.zeros((h, w), bool)
        limb[58:62, int(xs[i]) + 18 : int(xs[i]) + 24] = True  # an arm sticking out of the body
        bodies.append((obj, limb))
        frame = background.copy()
        body = obj | limb
        frame[body] = np.roll(skin, int(xs[i]), axis=1)[body]  # the texture moves with the object
        lag_obj, lag_limb = bodies[max(0, i - 2)]
        mask = _grow(lag_obj if 10 <= i < 14 else lag_obj | lag_limb, 2)  # the arm is missed for a few frames
        shown = frame.copy()
        shown[mask] = 0
        gone = mask & ~body & seen_background  # hole pixels where the truth is the background, seen before
        seen_background |= ~mask & ~body
        for name, out in (("memory", builder.step(shown, mask)[0]), ("lastseen", lastseen.step(shown, mask))):
            ghosts[name] += int((gone & (np.abs(out.astype(int) - background).mean(axis=2) > 30)).sum())
    assert ghosts["lastseen"] > 300  # the trivial memory paints the missed rim back into the hole: the test can fail
    # measured: 1845 against 4206 ghost pixels over the clip with the settings for exact masks: while the mask stands
    # still and the object moves (the first frames) or the mask overshoots a reversal, the missed rim does not travel
    # with the hole. With the settings for lagging masks (a changed pixel waits to settle): 0
    assert ghosts["memory"] < (0.05 if masks_lag else 0.5) * ghosts["lastseen"]


class LookAheadGuard:
    """Frames that raise when frame t+1 is asked for before the consumer has finished frame t."""

    def __init__(self, frames: np.ndarray) -> None:
        self.frames = frames
        self.finished = 0

    def __iter__(self):
        for t in range(len(self.frames)):
            if self.finished < t:
                raise AssertionError(f"frame {t} read before frame {t - 1} was finished")
            yield self.frames[t]


@pytest.mark.parametrize("make", [GuideBuilder, MemoryInpainter, LastSeenInpainter], ids=["guide", "memory", "lastseen"])
def test_causal_no_frame_after_t_is_read(make):
    frames, hole = planes_scene(t=10)
    source = LookAheadGuard(frames)
    method = make()
    step = method.step
    outputs = []
    for frame in source:
        shown = frame.copy()
        shown[hole] = 0
        outputs.append(step(shown, hole))
        source.finished += 1
    assert len(outputs) == len(frames)
    changed = frames.copy()
    changed[6:] = 255 - changed[6:]  # another future: frames <= 5 come out the same
    again = make()
    for t, frame in enumerate(changed[:6]):
        shown = frame.copy()
        shown[hole] = 0
        a, b = again.step(shown, hole), outputs[t]
        for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True):
            assert np.array_equal(x, y), t


def test_new_frame_size_and_cut_start_over():
    frames, hole = planes_scene(t=4)
    builder = GuideBuilder()
    for f in frames:
        builder.step(f, hole)
    guide, confidence = builder.step(255 - frames[-1], hole)  # a cut
    assert builder.cut and confidence.max() == 0.0
    small = frames[0][:64, :96]
    guide, confidence = builder.step(small, hole[:64, :96])
    assert guide.shape == small.shape and confidence.shape == small.shape[:2] and confidence.dtype == np.float32


def mover_scene(t: int = 24, h: int = 120, w: int = 200):
    """A camera panning over a grey textured background (2 px/frame) with a hole fixed in the frame, and a colourful
    textured disc that moves up and down on its own (3 px/frame) right beside the hole (touching its upstream edge,
    never inside it)."""
    rng = np.random.default_rng(11)
    far = textured_image(h, w + 2 * t + 10, rng, cells=10).mean(axis=2, keepdims=True).repeat(3, 2).astype(np.uint8)
    skin = rng.integers(0, 256, (2 * h, w, 3), dtype=np.uint8)  # its texture moves with it
    hole = np.zeros((h, w), bool)
    hole[40:80, 80:110] = True
    frames = []
    for i in range(t):
        frame = far[:, 2 * i : 2 * i + w].copy()
        dy = 3 * (i % 12 if i % 24 < 12 else 12 - i % 12) - 18
        disc = _ellipse(h, w, 121, 60 + dy, 11, 11)
        disc[:, :110] = False
        frame[disc] = skin[h // 2 - dy : h // 2 - dy + h][disc]
        frames.append(frame)
    return np.stack(frames), hole


def _guides(builder: GuideBuilder, frames: np.ndarray, hole: np.ndarray):
    """(guide, confidence) of each frame, its pixels under the fixed hole zeroed first (as the engine sees them)."""
    for f in frames:
        shown = f.copy()
        shown[hole] = 0
        yield builder.step(shown, hole)


@pytest.mark.parametrize("movers", [True, False])
def test_a_mover_beside_the_hole_is_not_carried_into_it(movers):
    from unseen.engine.propagation import GuideConfig

    frames, hole = mover_scene()
    builder = GuideBuilder(GuideConfig(movers=movers))
    stamped = 0
    for guide, confidence in _guides(builder, frames, hole):
        colourful = np.ptp(guide.astype(int), axis=2) > 60  # the background is grey, the disc is not
        stamped += int((hole & colourful & (confidence > 0)).sum())  # carried into the hole by the flow
    assert not builder.still
    # the truth inside the hole is the background only. Measured: 262 disc-coloured pixel-frames carried into the
    # hole with the rule (most from the first frames, before anything could be judged), 3,031 without it
    if movers:
        assert stamped < 400
    else:
        assert stamped > 2000  # without the rule the test fails


def framed_hole_scene(t: int = 20, h: int = 240, w: int = 320):
    """A camera panning over a far background (3 px/frame) with a hole fixed in the frame, seen through a nearer
    object around it (a square annulus 12-56 px from the hole, its texture sliding down 2 px/frame): the ring
    around the hole moves with the object, the background next to the hole and in the rest of the frame does not."""
    rng = np.random.default_rng(13)
    far = textured_image(h, w + 3 * t + 10, rng, cells=6)
    near = textured_image(h + 2 * t + 10, w, rng, cells=24)  # smoother: fewer corners than the background
    hole = np.zeros((h, w), bool)
    hole[105:135, 145:175] = True
    outer = np.zeros((h, w), bool)
    outer[105 - 56 : 135 + 56, 145 - 56 : 175 + 56] = True
    inner = np.zeros((h, w), bool)
    inner[105 - 12 : 135 + 12, 145 - 12 : 175 + 12] = True
    annulus = outer & ~inner
    frames = []
    for i in range(t):
        frame = far[:, 3 * i : 3 * i + w].copy()
        frame[annulus] = near[2 * t - 2 * i : 2 * t - 2 * i + h][annulus]
        frames.append(frame)
    return np.stack(frames), hole


@pytest.mark.parametrize("camera_model", [True, False])
def test_the_hole_moves_with_the_background_when_its_ring_does_not(camera_model):
    from unseen.engine.propagation import GuideConfig

    frames, hole = framed_hole_scene()
    builder = GuideBuilder(GuideConfig(camera_model=camera_model))
    *_, (guide, confidence) = _guides(builder, frames, hole)
    assert not builder.still
    err = np.abs(guide[hole].astype(int) - frames[-1][hole]).mean()
    # measured: 3.0 grey levels with the background's homography as a candidate, 61.8 with the ring's alone
    if camera_model:
        assert err < 6.0 and (confidence[hole] > 0).all()
    else:
        assert err > 20.0  # the ring's motion alone carries the wrong content: the test can fail


def test_engines_for_tracked_masks_use_the_lagging_masks_guide():
    """Masks from files are exact (the evaluation's, a user's); tracked or segmented ones are not."""
    from unseen.engine.memory import MemoryInpainter
    from unseen.pipeline import load_inpainter
    from unseen.server.app import LiveConfig, inpainter_factory

    assert load_inpainter("memory").memory.config.settle_changes == 0
    memory = load_inpainter("memory", masks_lag=True)
    assert isinstance(memory, MemoryInpainter) and memory.memory.config.settle_changes == 3
    live = inpainter_factory(LiveConfig(method="memory"))()
    assert live.memory.config.settle_changes == 3


def test_rim_fill_is_telea_near_the_rim_and_coarse_deeper():
    """rim_telea_fill: plain Telea for a hole with nothing deeper than the band; for a large hole the pixels
    within the band equal Telea run around the coarse interior, and a smooth gradient is filled about as well."""
    from unseen.engine.telea import rim_telea_fill, telea_fill

    h, w = 120, 200
    yy, xx = np.mgrid[0:h, 0:w]
    frame = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (h + w)], -1).astype(np.uint8)
    thin = np.zeros((h, w), bool)
    thin[50:60, 20:180] = True  # 10 px wide: nothing deeper than 16 px
    assert np.array_equal(rim_telea_fill(frame, thin), telea_fill(frame, thin))
    big = np.zeros((h, w), bool)
    big[20:100, 40:160] = True
    out = rim_telea_fill(frame, big)
    assert np.array_equal(out[~big], frame[~big])  # known pixels untouched
    err_rim = np.abs(out[big].astype(int) - frame[big]).mean()
    err_telea = np.abs(telea_fill(frame, big)[big].astype(int) - frame[big]).mean()
    assert err_rim <= err_telea + 2.0, (err_rim, err_telea)


def _coarse_scene(seed: int, h: int = 120, w: int = 260) -> np.ndarray:
    """A coarse textured RGB scene (blobs a few tens of px across), mean grey about 128."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(40, 216, (h // 20 + 2, w // 20 + 2, 3), dtype=np.uint8)
    return cv2.resize(small, (w + 40, h + 40), interpolation=cv2.INTER_CUBIC)[20 : 20 + h, 20 : 20 + w]


def test_a_cut_between_two_shots_of_the_same_brightness_starts_over_and_a_pan_does_not():
    """Two shots of about the same brightness (mean grey 125 and 129): their full-resolution difference (32 grey
    levels here) was under the old threshold (60), as most cuts between real shots were (31-90 on the val clips); the
    thumbnail of the unmasked pixels changes by 29 at the cut and by at most 10 in the pan."""
    hole = np.zeros((120, 200), bool)
    hole[40:80, 80:120] = True
    wide = np.concatenate([_coarse_scene(1, 120, 260), _coarse_scene(2, 120, 260)], axis=1)
    builder = GuideBuilder()
    for t in range(8):  # a pan of 6 px a frame: no cut
        builder.step(wide[:, 6 * t : 6 * t + 200].copy(), hole)
        assert not builder.cut
    other = _coarse_scene(7, 120, 200)
    builder.step(other, hole)  # another shot
    assert builder.cut
    builder.step(other, hole)
    assert not builder.cut
