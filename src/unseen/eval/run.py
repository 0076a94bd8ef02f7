"""`unseen eval`: every method, online, on the same clips and masks; per-clip rows and aggregates.

Synthetic-mask protocol (truth known): frames resized to 432x240, masks from a seed (stationary free-form
strokes and moving object silhouettes, dilated with a 3x3 cross x4), masked pixels overwritten before a
method sees them. Real-object mode: the clips' own annotations as holes, no truth: temporal stability only.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from unseen.errors import UnseenError
from unseen.eval.metrics import hole_flicker, psnr, ssim, warping_error
from unseen.eval.protocol import PROTOCOL_DILATION, moving_masks, stationary_masks
from unseen.eval.vfid import vfid


@dataclass
class EvalConfig:
    """What `unseen eval` runs."""

    methods: list[str] = field(default_factory=lambda: ["telea", "lastseen", "memory", "model"])
    weights: str = "small"
    width: int = 432
    height: int = 240
    frames: int = 40  # at most this many frames per clip
    max_clips: int = 0  # 0: all
    seeds: tuple[int, ...] = (0,)  # mask seeds: every clip and mask kind runs once per seed (rows keep theirs)
    kinds: tuple[str, ...] = ("stationary", "moving")
    ssim_default_window: bool = False  # also report SSIM with skimage's 7-px window
    real: bool = False  # real-object mode
    lpips: tuple[str, str] | None = None  # (torchvision AlexNet state dict, LPIPS v0.1 alex linear layers)
    i3d: str | None = None  # pytorch-i3d state dict (rgb_imagenet.pt) for VFID
    shard: tuple[int, int] = (0, 1)  # (k, n): only every n-th (clip, mask kind) job from the k-th, to run in parallel


@dataclass
class EvalRow:
    """One method on one clip with one mask kind."""

    clip: str
    camera: str  # static | moving
    masks: str  # stationary | moving | real
    method: str
    seed: int
    psnr: float
    ssim: float
    ssim7: float
    ewarp: float
    flicker: float
    fps: float
    lpips: float = float("nan")
    # I3D features of the output and of the truth (VFID is a distance between sets of videos: see aggregate)
    i3d_out: np.ndarray | None = field(default=None, repr=False)
    i3d_true: np.ndarray | None = field(default=None, repr=False)
    crops: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)  # input, output, truth


METRICS = ("psnr", "ssim", "ssim7", "lpips", "ewarp", "flicker", "fps")  # EvalRow's numbers, averaged per table row


def method_name(method: str) -> str:
    """A method as the tables name it: a weights path by its file stem (checkpoints/small-v2.safetensors -> small-v2)."""
    return Path(method).stem if method.endswith(".safetensors") else method


@dataclass
class EvalClip:
    name: str
    frames: np.ndarray  # (T, H, W, 3)
    annotations: np.ndarray | None  # (T, H, W) bool


def load_eval_clips(root: str | Path, config: EvalConfig) -> list[EvalClip]:
    """Clips under `root` (YouTube-VOS/DAVIS layout, frame folders or videos), resized to the protocol size."""
    import cv2

    from unseen.datasets.clips import discover_clips
    from unseen.io.frames import list_images
    from unseen.masks.hygiene import dilate

    clips = [c for c in discover_clips(root) if c.length >= 2]
    if not clips:
        raise UnseenError(f"{root}: no clips found (expected JPEGImages/<clip>/, videos/ or frame folders)")
    if config.max_clips:
        clips = clips[: config.max_clips]
    size = (config.width, config.height)
    out = []
    for clip in clips:
        n = min(config.frames, clip.length)
        frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in clip.read(list(range(n)))])
        ann = None
        if clip.annotations is not None:
            files = list_images(clip.annotations)[:n]
            if len(files) == n:
                masks = [
                    cv2.resize((cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 0).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
                    for p in files
                ]
                ann = dilate(np.stack(masks), PROTOCOL_DILATION)
        out.append(EvalClip(clip.name, frames, ann))
    return out


def camera_kind(frames: np.ndarray) -> str:
    """'static' or 'moving': whether the camera moved, judged on frame pairs (0, 1), (2, 3), ...

    A pair counts as a moving camera when its global motion is at least half a pixel and explains the second frame
    better than no motion (`motion_explains`: a still camera with a hand pouring from a kettle in front of it is still).
    Pairs whose motion cannot be estimated count as moving; the clip's kind is the majority's.
    """
    import cv2

    from unseen.vision.motion import global_motion, is_translation, motion_explains

    moving = []
    for a, b in zip(frames[:-1:2], frames[1::2], strict=False):
        ga, gb = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
        m = global_motion(ga, gb)
        if m is None:
            moving.append(True)
            continue
        if float(np.hypot(*m[:, 2])) < 0.5 and is_translation(m):
            moving.append(False)
            continue
        moving.append(motion_explains(ga, gb, m))
    return "moving" if moving and 2 * sum(moving) > len(moving) else "static"


def run_method(method: str, weights: str, frames: np.ndarray, masks: np.ndarray, work: tuple[int, int]) -> tuple[list[np.ndarray], float]:
    """Run one method online over a clip; returns outputs and frames per second."""
    from unseen.pipeline import load_inpainter

    if method == "model" or method.endswith(".safetensors"):
        inpainter = load_inpainter("model", weights if method == "model" else method, work_width=work[0], work_height=work[1])
    else:
        inpainter = load_inpainter(method)
    start = time.perf_counter()
    outputs = [inpainter.step(f, m) for f, m in zip(frames, masks, strict=True)]
    return outputs, len(frames) / (time.perf_counter() - start)


def _silhouettes(clips: list[EvalClip]) -> list[np.ndarray]:
    shapes = []
    for c in clips:
        if c.annotations is not None:
            for m in c.annotations[:: max(1, len(c.annotations) // 3)]:
                ys, xs = np.nonzero(m)
                if len(ys) > 64:
                    shapes.append(m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])
    return shapes


def evaluate(root: str | Path, config: EvalConfig, progress: bool = True, sheets: Path | None = None) -> list[EvalRow]:
    """Score every method on every clip and mask kind. Each row keeps a crop around the hole of its output three
    quarters into the clip (with the input's and the truth's) for the reports' contact sheets."""
    from tqdm import tqdm

    clips = load_eval_clips(root, config)
    silhouettes = _silhouettes(clips)
    work = (config.width, config.height)
    rows: list[EvalRow] = []
    seeds = (0,) if config.real else config.seeds
    jobs = [(i, c, k, s) for s in seeds for i, c in enumerate(clips) for k in (("real",) if config.real else config.kinds)]
    if config.real:
        jobs = [j for j in jobs if j[1].annotations is not None]
        if not jobs:
            raise UnseenError(f"{root}: real-object mode needs clips with Annotations/ on every frame")
    k, n = config.shard
    jobs = jobs[k::n]
    lpips = None
    if config.lpips:
        from unseen.eval.lpips import LPIPS

        lpips = LPIPS(*config.lpips)
    i3d = None
    if config.i3d:
        from unseen.eval.vfid import I3DFeatures

        i3d = I3DFeatures.from_file(config.i3d)
    bar = tqdm(total=len(jobs) * len(config.methods), unit="run", disable=not progress)
    for i, clip, kind, mask_seed in jobs:
        t, h, w = clip.frames.shape[:3]
        camera = camera_kind(clip.frames)
        if kind == "real":
            masks, shown, truth = clip.annotations, clip.frames, None
        else:
            seed = mask_seed * 1000 + i
            masks = stationary_masks(seed, t, h, w) if kind == "stationary" else moving_masks(seed, t, h, w, silhouettes)
            shown = clip.frames.copy()
            shown[masks] = 0  # what is under the hole never reaches a method
            truth = clip.frames
        true_feat = i3d.video(truth) if i3d is not None and truth is not None else None
        at = int(0.75 * (t - 1))
        box = crop_box(masks[at])
        for method in config.methods:
            outputs, fps = run_method(method, config.weights, shown, masks, work)
            name = method_name(method)
            if truth is not None:
                p = float(np.mean([psnr(o, g) for o, g in zip(outputs, truth, strict=True)]))
                s = float(np.mean([ssim(o, g) for o, g in zip(outputs, truth, strict=True)]))
                s7 = (
                    float(np.mean([ssim(o, g, None) for o, g in zip(outputs, truth, strict=True)]))
                    if config.ssim_default_window
                    else float("nan")
                )
                ew = warping_error(outputs, list(truth))
                fl = hole_flicker(outputs, list(truth), list(masks))
                lp = float(np.mean([lpips.frames(o, g) for o, g in zip(outputs, truth, strict=True)])) if lpips else float("nan")
            else:
                p = s = s7 = lp = float("nan")
                ew = warping_error(outputs, outputs)  # no truth: flow between the outputs themselves
                fl = hole_flicker(outputs, outputs[:1] * len(outputs), list(masks))  # change inside the hole
            out_feat = i3d.video(outputs) if true_feat is not None else None
            row = EvalRow(clip.name, camera, kind, name, mask_seed, p, s, s7, ew, fl, fps, lp, out_feat, true_feat)
            if truth is not None:
                row.crops = tuple(crop(im, box) for im in (shown[at], outputs[at], truth[at]))
            rows.append(row)
            if sheets is not None:
                suffix = f"-s{mask_seed}" if len(seeds) > 1 else ""
                contact_sheet(sheets / f"{clip.name}-{kind}-{name}{suffix}.jpg", clip.frames, masks, outputs)
            bar.update(1)
    bar.close()
    return rows


def crop_box(hole: np.ndarray, context: int = 24) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around a bool hole (H, W) with `context` px on each side (the whole frame if empty)."""
    ys, xs = np.nonzero(hole)
    h, w = hole.shape
    if ys.size == 0:
        return 0, 0, w, h
    return max(0, xs.min() - context), max(0, ys.min() - context), min(w, xs.max() + 1 + context), min(h, ys.max() + 1 + context)


def crop(image: np.ndarray, box: tuple[int, int, int, int], height: int = 150) -> np.ndarray:
    """The box of a uint8 RGB image scaled to `height` px."""
    import cv2

    x0, y0, x1, y1 = box
    size = (max(1, round((x1 - x0) * height / (y1 - y0))), height)
    return cv2.resize(image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)


def crop_sheets(rows: list[EvalRow], out_dir: Path) -> list[Path]:
    """One contact sheet per mask kind and camera kind, `crops_<masks>_<camera>.jpg`: a row per clip with the crops
    input | each method | truth."""
    import cv2

    methods = list(dict.fromkeys(r.method for r in rows))
    rows = [r for r in rows if r.seed == rows[0].seed]  # several mask seeds: the crops of the first
    written = []
    for masks, camera in dict.fromkeys((r.masks, r.camera) for r in rows if r.crops is not None):
        strips = []
        for clip in dict.fromkeys(r.clip for r in rows if (r.masks, r.camera) == (masks, camera)):
            got = {r.method: r for r in rows if (r.clip, r.masks) == (clip, masks) and r.crops is not None}
            if not got:
                continue
            first = next(iter(got.values())).crops
            strip = np.concatenate([first[0], *(got[m].crops[1] for m in methods if m in got), first[2]], 1)
            label = np.zeros((16, strip.shape[1], 3), np.uint8)
            cv2.putText(label, clip, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
            strips.append(np.concatenate([label, strip], 0))
        if strips:
            written.append(crop_sheet(out_dir / f"crops_{masks}_{camera}.jpg", strips, ["input", *methods, "truth"]))
    return written


def crop_sheet(path: Path, strips: list[np.ndarray], columns: list[str]) -> Path:
    """Stack strips (padded to one width) under a header naming the columns; JPEG."""
    import cv2

    width = max(s.shape[1] for s in strips)
    rows = [np.pad(s, ((0, 4), (0, width - s.shape[1]), (0, 0))) for s in strips]
    header = np.zeros((18, width, 3), np.uint8)
    cv2.putText(header, " | ".join(columns), (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate([header, *rows], 0), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    return path


def contact_sheet(path: Path, frames: np.ndarray, masks: np.ndarray, outputs: list[np.ndarray], times: int = 4) -> Path:
    """An image with input, mask and output (rows) at a few times (columns)."""
    import cv2

    idx = np.linspace(0, len(frames) - 1, times).astype(int)
    rows = [
        np.concatenate([frames[i] for i in idx], 1),
        np.concatenate([np.repeat((masks[i] * 255).astype(np.uint8)[..., None], 3, 2) for i in idx], 1),
        np.concatenate([outputs[i] for i in idx], 1),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, 0), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return path


def aggregate(rows: list[EvalRow]) -> list[dict]:
    """Mean of every metric per (masks, camera, method), plus 'all' cameras."""
    out = []
    keys = sorted({(r.masks, r.camera) for r in rows} | {(r.masks, "all") for r in rows})
    methods = list(dict.fromkeys(r.method for r in rows))
    for masks, camera in keys:
        for method in methods:
            sel = [r for r in rows if r.masks == masks and r.method == method and (camera == "all" or r.camera == camera)]
            if not sel:
                continue
            agg = {"masks": masks, "camera": camera, "method": method, "clips": len({r.clip for r in sel})}
            for metric in METRICS:
                agg[metric] = float(np.mean([getattr(r, metric) for r in sel]))
            feats = [(r.i3d_true, r.i3d_out) for r in sel if r.i3d_out is not None]
            agg["vfid"] = vfid([t for t, _ in feats], [o for _, o in feats]) if feats else float("nan")
            out.append(agg)
    return out


def mean_over_seeds(rows: list[EvalRow]) -> list[EvalRow]:
    """One row per (clip, mask kind, method): the metrics averaged over its mask seeds (the first seed's crops and
    I3D features kept; `seed` is the first seed). Rows from a single seed come back unchanged."""
    groups: dict[tuple[str, str, str], list[EvalRow]] = {}
    for r in rows:
        groups.setdefault((r.clip, r.masks, r.method), []).append(r)
    out = []
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        means = {m: float(np.mean([getattr(r, m) for r in group])) for m in METRICS}
        out.append(replace(group[0], **means))
    return out


def rows_as_dicts(rows: list[EvalRow]) -> list[dict]:
    """Rows as plain dicts (CSV); the I3D feature vectors stay out."""
    return [{k: v for k, v in asdict(r).items() if not k.startswith("i3d_") and k != "crops"} for r in rows]
