"""OnlineInpainter: the real-time engine around the generator.

Per frame: build the classical guide at full resolution (`GuideBuilder`: a still camera's exact memory, a
moving camera's flow-guided propagation, Telea elsewhere, and its confidence; resets on cuts); scale to the
working resolution; crop a region of interest around the holes; step the generator on the frame, the hole,
the guide and its confidence with its cache of past frames; upsample the correction and composite it into the
full-resolution original (no pixel under the hole is used).

The generator runs in torch (`InpaintGenerator` and a runner from engine/backends.py) or, on a start that found
a record of its exported graph, as a `GraphModel` with an ONNX Runtime or OpenVINO session: no torch at all.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from unseen.engine.composite import composite_frame, composite_patch
from unseen.engine.graph import GraphModel, frame_to_array, resolve_threads
from unseen.engine.inpainter import Inpainter
from unseen.engine.propagation import GuideBuilder, guide_config
from unseen.engine.roi import RoiTracker

if TYPE_CHECKING:
    from unseen.model.generator import InpaintGenerator


@dataclass
class _Prep:
    """One frame on its way through the engine."""

    frame: np.ndarray
    mask: np.ndarray
    value: np.ndarray  # the classical guide, full resolution
    from_memory: np.ndarray  # hole pixels the still camera's memory knows exactly
    confidence: np.ndarray | None = None  # the guide's confidence, float32 [0, 1], 0 outside the hole
    done: np.ndarray | None = None
    trusted: bool = False
    work: tuple[int, int] = (0, 0)
    small: np.ndarray | None = None
    small_mask: np.ndarray | None = None
    small_known: np.ndarray | None = None
    need: np.ndarray | None = None
    guide: np.ndarray | None = None
    seen: np.ndarray | None = None  # the guide's confidence over the network's box at working size, 0 outside the hole
    cut: bool = False  # the guide saw a scene cut on this frame: the network's cache starts over
    kept: np.ndarray | None = None  # hole pixels whose earlier network fill is kept (still camera)
    kept_into: np.ndarray | None = None  # the engine's kept-fill map when this frame was planned
    carried: bool = False  # moving camera: the guide's flow carried the last frame faithfully (`EngineConfig.carry`)


@dataclass
class EngineConfig:
    """Settings of the online engine."""

    work_width: int = 480  # working resolution the network runs at (frames are scaled to fit inside)
    work_height: int = 288
    roi: bool = True  # run the network only on a window around the holes
    roi_margin: int = 16  # context around the holes, in working-resolution pixels
    context_frames: int | None = 5  # frames the temporal attention sees (None: the model's own setting)
    reference_frames: bool = False  # keep the model's sparse long-range reference frames
    backend: str = "eager"  # eager, compile (torch.compile), onnx (ONNX Runtime), openvino, or auto (see engine/backends.py)
    bf16: bool = True  # bfloat16 autocast on CPU (torch backends) where it is faster
    threads: int = 0  # intra-op threads of the model (0: one, which never collapses when other work shares the CPU)
    feather: int = 0  # >0: ramp from the original to the fill over this many px inside the hole's rim. That
    # mixes in pixels under the hole (fine with a generously dilated mask, wrong under the evaluation protocol)
    delay: int = 0  # k: batch the network over k + 1 frames, adding k frames of delay (0: none)
    masks_lag: bool = False  # the masks may lag or miss the object's edge (box tracker, segmenters, detectors, the
    # live page): the guide then lets a changed rim pixel into its memory only once it settles (no ghosts)
    trust_memory: int = 5  # with the camera still this many frames, hole pixels the memory has seen are final:
    # the network runs only around the rest (0: always run the network on the whole hole)
    keep_fill: int = 30  # with the camera still (as above), the network's fill of a never-seen pixel is kept while
    # nothing visible around it changes, for up to this many frames, so the network runs only where the hole
    # reaches pixels it has not filled yet or whose surroundings changed. 0: off
    keep_change: float = 10.0  # grey-level change (3x3 mean) of a visible pixel that counts as its surroundings changing
    fill_blend: float = 0.5  # with the camera still (as above), a never-seen pixel the network fills anew is this much
    # its earlier fill and (1 - this) the new one: the guesses where nothing was seen change smoothly (0: off)
    carry: float = 0.6  # with the camera moving, a hole pixel the guide carried from a seen pixel is this much the
    # last output, carried along the flow from it to this frame's answer, and (1 - this) that answer (0: off)
    carry_unseen: float = 0.4  # ... and a hole pixel the guide has never seen (its fill is a guess on every frame)
    smooth_unseen: float = 1.5  # sigma (working-resolution px) of a Gaussian on the network's correction where the
    # guide never saw the pixel: over large never-seen areas the correction carries a faint checkerboard at the period
    # of the network's 4-px feature grid, which this removes (to 6% of its amplitude) at -0.003 to -0.006 dB on val
    # (docs/SPEED.md; 0: off)


def _resize(image: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    import cv2

    if image.shape[1] == size[0] and image.shape[0] == size[1]:
        return image
    interp = cv2.INTER_NEAREST if nearest else (cv2.INTER_AREA if size[0] < image.shape[1] else cv2.INTER_LINEAR)
    return cv2.resize(image, size, interpolation=interp)


class OnlineInpainter(Inpainter):
    """Frame-by-frame inpainting with the generator, a KV cache, background memory and a region of interest."""

    name = "model"

    def __init__(self, model: InpaintGenerator | GraphModel, config: EngineConfig | None = None, runner=None) -> None:
        """`runner`: how to run a step (default: built for `config.backend`); a `GraphModel` needs its session here."""
        self.config = config or EngineConfig()
        overrides: dict = {}
        if self.config.context_frames:
            overrides["cache_frames"] = self.config.context_frames
        if not self.config.reference_frames:
            overrides["ref_count"] = 0
        if overrides:  # on a shallow copy: the caller's model (shared weights) keeps its own config
            model = copy.copy(model)
            model.config = replace(model.config, **overrides)
        self.model = model.eval()
        self.in_torch = not isinstance(model, GraphModel)
        if self.in_torch:
            import torch

            from unseen.engine.backends import make_runner

            torch.set_num_threads(resolve_threads(self.config.threads))  # 0: one thread (see engine/backends.py)
            self._array = torch.from_numpy
            runner = runner or make_runner(model, self.config.backend, self.config.bf16, self.config.threads)
        else:
            if runner is None:
                raise ValueError("a GraphModel runs through its session: pass runner=")
            self._array = np.asarray
        self.runner = runner
        self.memory = GuideBuilder(guide_config(self.config.masks_lag, rim_fill=model.config.guide_rim))
        self.cache = model.new_cache()
        self.roi = RoiTracker(model.config.unit, self.config.roi_margin, grow=self.config.roi_margin // 2)
        self.pending: list[_Prep] = []
        self.kept: np.ndarray | None = None  # the network's fills of never-seen pixels (still camera), full resolution
        self.kept_ok: np.ndarray | None = None  # bool (H, W): where `kept` holds a fill
        self.kept_any: np.ndarray | None = None  # bool (H, W): where `kept` holds a fill, current or not (see fill_blend)
        self.kept_frames = 0  # frames since the kept fills were last all refreshed
        self.kept_last: tuple[np.ndarray, np.ndarray] | None = None  # last frame's grey and hole at working size
        self.last_out: np.ndarray | None = None  # the last frame given out (see `carry`)
        self._dis = None  # DIS optical flow for `carry`, made on first use

    @classmethod
    def from_weights(cls, weights: str = "small", config: EngineConfig | None = None) -> OnlineInpainter:
        """Load shipped weights by preset name, or a .safetensors path. With an exported backend (auto, onnx,
        openvino) the first start records its graph and later starts with the same weights run it without torch."""
        from unseen.engine import graph
        from unseen.model.checkpoint import load_generator, resolve_weights

        config = config or EngineConfig()
        fast = graph.fast_start(weights, config.backend, config.bf16, config.threads)
        if fast is not None:
            return cls(fast.model, config, runner=fast.runner)
        exported = config.backend in graph.EXPORTED_BACKENDS
        path = resolve_weights(weights)
        digest = graph.weights_digest(path.read_bytes()) if exported else ""  # before loading: see remember_start
        engine = cls(load_generator(path), config)
        if exported:
            graph.remember_start(digest, path, config.backend, config.bf16, engine.runner)
        return engine

    def reset(self) -> None:
        self.memory.reset()
        self.cache.reset()
        self.roi.reset()
        self.pending = []
        self.kept = self.kept_ok = self.kept_any = self.kept_last = None
        self.last_out = None

    def work_size(self, width: int, height: int) -> tuple[int, int]:
        """Working (width, height) for a frame size: scaled down to fit, never up."""
        s = min(1.0, self.config.work_width / width, self.config.work_height / height)
        return max(8, round(width * s)), max(8, round(height * s))

    # -- one frame: prepare (sequential, causal) -> network -> finish ------------------------------
    def prepare(self, frame: np.ndarray, mask: np.ndarray) -> _Prep:
        """Update the memory with this frame and decide what the network must do for it: the classical guide and
        the plan, no network and no cache, so it may run one frame ahead of `push_prepared` in another thread (the
        guide of frame t + 1 overlaps the network of frame t)."""
        height, width = mask.shape
        value, confidence = self.memory.step(frame, mask)
        from_memory = confidence >= 1.0 if self.memory.still else np.zeros_like(mask)
        prep = _Prep(frame, mask, value, from_memory, confidence, cut=self.memory.cut, carried=self.memory.carried)
        if not mask.any():
            prep.done = frame.copy()
            return prep
        prep.trusted = self.config.trust_memory > 0 and self.memory.still and self.memory.still_frames >= self.config.trust_memory
        if prep.trusted and not (mask & ~from_memory).any():
            prep.done = composite_frame(frame, value, mask, self.config.feather)  # all seen: no network needed
            return prep
        ww, wh = self.work_size(width, height)
        prep.work = (ww, wh)
        prep.small = _resize(frame, (ww, wh))
        prep.small_mask = _resize(mask.astype(np.uint8) * 255, (ww, wh)) > 0
        prep.small_known = _resize((~mask | from_memory).astype(np.uint8) * 255, (ww, wh)) == 255
        need = prep.small_mask & ~prep.small_known if prep.trusted else prep.small_mask
        prep.need = need if need.any() else prep.small_mask
        return prep

    def _network_inputs(self, prep: _Prep, box: tuple[int, int, int, int]) -> tuple:
        """Crop the frame, hole, classical guide and its confidence to the box; tensors for the generator."""
        x0, y0, x1, y1 = box
        crop = prep.small[y0:y1, x0:x1]
        crop_mask = prep.small_mask[y0:y1, x0:x1]
        guide = _resize(prep.value, prep.work)[y0:y1, x0:x1].copy()
        guide[~crop_mask] = crop[~crop_mask]
        seen = _resize(prep.confidence, prep.work)[y0:y1, x0:x1] * crop_mask
        prep.guide, prep.seen = guide, seen
        f = frame_to_array(crop)
        m = crop_mask[None, None].astype(np.float32)
        g = np.concatenate([frame_to_array(guide), np.asarray(seen, np.float32)[None, None]], axis=1)
        return self._array(f), self._array(m), self._array(g)

    def _finish(self, prep: _Prep, out, box: tuple[int, int, int, int]) -> np.ndarray:
        """Upsample the network's correction into the full-resolution frame and composite it."""
        frame, mask, value, from_memory = prep.frame, prep.mask, prep.value, prep.from_memory
        height, width = mask.shape
        ww, wh = prep.work
        x0, y0, x1, y1 = box
        out = out if isinstance(out, np.ndarray) else out.float().numpy()
        pred = (out[0].transpose(1, 2, 0) + np.float32(1.0)) * np.float32(127.5)  # (h, w, 3) float 0..255
        residual = pred - prep.guide.astype(np.float32)
        if self.config.smooth_unseen > 0 and prep.seen is not None:  # the feature grid out of never-seen fills
            import cv2

            unseen = prep.seen <= 0
            residual = np.where(unseen[..., None], cv2.GaussianBlur(residual, (0, 0), self.config.smooth_unseen), residual)
            pred = prep.guide.astype(np.float32) + residual
        sx, sy = width / ww, height / wh
        fx0, fy0 = int(np.floor(x0 * sx)), int(np.floor(y0 * sy))
        fx1, fy1 = min(width, int(np.ceil(x1 * sx))), min(height, int(np.ceil(y1 * sy)))
        size = (fx1 - fx0, fy1 - fy0)
        full_mask = mask[fy0:fy1, fx0:fx1]
        if size == (x1 - x0, y1 - y0):
            patch = pred
        else:
            patch = value[fy0:fy1, fx0:fx1].astype(np.float32) + _resize(residual, size)  # the full-resolution guide
        patch = np.clip(np.round(patch), 0, 255).astype(np.uint8)
        if prep.trusted:  # seen pixels come from memory, the network's patch fills the rest of its box
            fill = value.copy()  # the memory's value: the frame where unmasked, the memory where seen (and kept fills)
            region = fill[fy0:fy1, fx0:fx1]
            inside = full_mask & ~from_memory[fy0:fy1, fx0:fx1]
            if prep.kept is not None:
                inside &= ~prep.kept[fy0:fy1, fx0:fx1]
            if self.kept is not None and self.kept_ok is not None and self.kept_any is not None and prep.kept_into is self.kept_ok:
                kept, seen_before = self.kept[fy0:fy1, fx0:fx1], self.kept_any[fy0:fy1, fx0:fx1]
                again = inside & seen_before
                if self.config.fill_blend > 0 and again.any():  # filled anew: partly the earlier guess (no flicker)
                    b = np.float32(self.config.fill_blend)
                    patch = patch.copy()
                    patch[again] = np.round((1 - b) * patch[again] + b * kept[again]).astype(np.uint8)
                kept[inside] = patch[inside]
                self.kept_ok[fy0:fy1, fx0:fx1] |= inside
                seen_before |= inside
            region[inside] = patch[inside]
            # unseen pixels outside the box (rare) keep the classical fill
            return composite_frame(frame, fill, mask, self.config.feather)
        patch = self._carry(prep, patch, full_mask, (fx0, fy0))
        return composite_patch(frame, patch, full_mask, self.config.feather, (fx0, fy0))

    def _carry(self, prep: _Prep, patch: np.ndarray, hole: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
        """Moving camera: blend the patch's hole pixels with the last output carried along the flow to this answer.

        Each frame's answer is a fresh estimate with errors of its own; the last output, carried onto it along the
        flow between the two, is another, so a running mix errs less and flickers less. The flow is measured between
        this answer (the frame with the patch in its hole) and the last output, so it follows the fill as well as the
        scene; only on frames whose guide judged the camera's flow faithful (no cut, no failed propagation).
        Measured on val: docs/RESULTS.md."""
        import cv2

        from unseen.vision.motion import warp

        c = self.config
        last = self.last_out
        if not prep.carried or (c.carry <= 0 and c.carry_unseen <= 0) or last is None or last.shape != prep.frame.shape:
            return patch
        x0, y0 = origin
        h, w = hole.shape
        cur = prep.frame[y0 : y0 + h, x0 : x0 + w].copy()
        cur[hole] = patch[hole]
        before = np.ascontiguousarray(last[y0 : y0 + h, x0 : x0 + w])
        scale = min(1.0, prep.work[0] / prep.frame.shape[1])  # the flow at working resolution (large inputs)
        grey_now, grey_before = cv2.cvtColor(cur, cv2.COLOR_RGB2GRAY), cv2.cvtColor(before, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            size = (max(8, round(w * scale)), max(8, round(h * scale)))
            grey_now = cv2.resize(grey_now, size, interpolation=cv2.INTER_AREA)
            grey_before = cv2.resize(grey_before, size, interpolation=cv2.INTER_AREA)
        if self._dis is None:
            self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        flow = self._dis.calc(grey_now, grey_before, None)
        if scale < 1.0:
            flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(w / flow.shape[1])
        carried = warp(before, flow)
        seen = prep.confidence[y0 : y0 + h, x0 : x0 + w] > 0 if prep.confidence is not None else np.zeros_like(hole)
        weight = np.where(seen, np.float32(c.carry), np.float32(c.carry_unseen))[hole][:, None]
        patch = patch.copy()
        patch[hole] = np.round((1 - weight) * patch[hole] + weight * carried[hole]).astype(np.uint8)
        return patch

    def _use_kept(self, prep: _Prep) -> None:
        """Still camera: hole pixels the network filled on earlier frames keep that fill (no flicker, no work), so
        the network runs only where the hole reaches pixels neither the memory nor the network has filled. The
        kept fills go when the camera stops being still, and are all filled anew every `keep_fill` frames."""
        import cv2

        if prep.cut or not prep.trusted or self.config.keep_fill <= 0:  # also on frames with nothing to fill
            self.kept = self.kept_ok = self.kept_any = self.kept_last = None
            return
        if prep.done is not None:
            return
        if self.kept is None or self.kept_ok is None or self.kept_ok.shape != prep.mask.shape:
            self.kept, self.kept_ok, self.kept_frames = np.zeros_like(prep.frame), np.zeros(prep.mask.shape, bool), 0
            self.kept_any = np.zeros(prep.mask.shape, bool)
            self.kept_last = None
        prep.kept_into = self.kept_ok  # the map this frame's fill belongs to (a batch may replace it: see _finish)
        self.kept_frames += 1
        if self.kept_frames > self.config.keep_fill:
            self.kept_ok[:] = False
            self.kept_frames = 1
        # a fill is the network's answer to everything around its part of the hole (the classical guide alone
        # carries the rim's colours across the whole part): where a visible pixel beside a connected part of the
        # hole changed since the last frame (a person moving next to it), that whole part is filled anew
        grey = cv2.cvtColor(prep.small, cv2.COLOR_RGB2GRAY)
        last, self.kept_last = self.kept_last, (grey, prep.small_mask)
        if last is not None and last[0].shape == grey.shape:
            visible = ~prep.small_mask & ~last[1]
            diff = cv2.absdiff(grey, last[0])
            diff[~visible] = 0  # nothing under the hole may count, not even blurred into its neighbours
            change = (cv2.blur(diff, (3, 3)) > self.config.keep_change) & visible
            if change.any():
                reach = 2 * self.config.roi_margin + 1
                near = cv2.dilate(change.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))) > 0
                count, parts = cv2.connectedComponents(prep.small_mask.view(np.uint8))
                touched = np.zeros(count, bool)
                touched[parts[near]] = True
                touched[0] = False
                if touched.any():
                    h, w = prep.mask.shape
                    stale = cv2.resize(touched[parts].view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
                    self.kept_ok &= ~stale
        kept = self.kept_ok & prep.mask & ~prep.from_memory
        if not kept.any():
            return
        prep.kept = kept
        prep.value = prep.value.copy()
        prep.value[kept] = self.kept[kept]
        if prep.confidence is not None:
            prep.confidence = prep.confidence.copy()
            prep.confidence[kept] = 1.0
        covered = ~prep.mask | prep.from_memory | kept
        need = prep.small_mask & ~(_resize(covered.view(np.uint8) * 255, prep.work) == 255)
        if need.any():
            prep.need = need
        else:
            prep.done = composite_frame(prep.frame, prep.value, prep.mask, self.config.feather)

    def _box(self, need: np.ndarray, work: tuple[int, int]) -> tuple[int, int, int, int]:
        ww, wh = work
        box = self.roi.update(need, ww, wh) if self.config.roi else (0, 0, ww, wh)
        if self.roi.moved:
            self.cache.reset()
        return box

    def step(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """uint8 RGB (H, W, 3) + bool hole (H, W) -> inpainted frame at full resolution (no added delay)."""
        if self.config.delay:
            raise RuntimeError("this engine has a delay: use push() and flush()")
        return self.push_prepared(self.prepare(frame, mask))[0]

    def push_prepared(self, prepared: object) -> list[np.ndarray]:
        """Run the network on a prepared frame (after `prepare`, in frame order)."""
        prep = prepared
        if not isinstance(prep, _Prep):
            raise TypeError("push_prepared takes what this engine's prepare() returned")
        if prep.cut:
            self.cache.reset()
        if not self.config.delay:
            return [self._run_one(prep)]
        self.pending.append(prep)
        return self._run_pending() if len(self.pending) > self.config.delay else []

    def _run_one(self, prep: _Prep) -> np.ndarray:
        self._use_kept(prep)
        if prep.done is None:
            box = self._box(prep.need, prep.work)
            f, m, g = self._network_inputs(prep, box)
            out = self.model.step(f, m, g if self.model.config.guide else None, self.cache, runner=self.runner)
            prep.done = self._finish(prep, out, box)
        self.last_out = prep.done
        return prep.done

    # -- bounded delay: the network runs on k + 1 frames at once -----------------------------------
    def push(self, frame: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        """Add a frame; returns the frames finished by it, in order (with delay k: up to k + 1 at a time)."""
        return self.push_prepared(self.prepare(frame, mask))

    def flush(self) -> list[np.ndarray]:
        """Finish every frame still waiting (end of stream)."""
        return self._run_pending() if self.pending else []

    def _run_pending(self) -> list[np.ndarray]:
        for p in self.pending:
            self._use_kept(p)
        batch = [p for p in self.pending if p.done is None]
        stepped: dict[int, tuple] = {}  # id(prep) -> (the network's output, its box)
        if batch and self.runner.name == "eager":  # torch runs k + 1 frames at once; exported graphs step one by one
            import torch

            work = batch[0].work
            same = [p for p in batch if p.work == work]
            need = np.any([p.need for p in same], axis=0)
            box = self._box(need, work)
            inputs = [self._network_inputs(p, box) for p in same]
            f, m, g = (torch.stack([x[i] for x in inputs], dim=1) for i in range(3))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.runner.precision == "bf16"):
                out = self.model.step_many(f, m, g if self.model.config.guide else None, self.cache)
            stepped = {id(p): (out[:, i].float(), box) for i, p in enumerate(same)}
        for p in batch:  # another backend, or a size change inside a batch (rare): one by one through the runner
            if id(p) not in stepped:
                box = self._box(p.need, p.work)
                f1, m1, g1 = self._network_inputs(p, box)
                stepped[id(p)] = (self.model.step(f1, m1, g1 if self.model.config.guide else None, self.cache, runner=self.runner), box)
        for p in self.pending:  # finished in frame order: each may carry the one before it (`carry`)
            if p.done is None:
                p.done = self._finish(p, *stepped[id(p)])
            self.last_out = p.done
        done = [p.done for p in self.pending]
        self.pending = []
        return done
