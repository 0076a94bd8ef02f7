"""Ways to run one generator step: torch eager, torch.compile, ONNX Runtime, OpenVINO. Same signature as `step_tensors`.

`auto` takes the fastest installed backend that passes a self-check against eager fp32 at start-up, in an order
measured by `unseen models --time`: on a CPU with native bfloat16 (AVX-512 or AMX; a 2-core Xeon) OpenVINO bf16,
then torch eager bf16; on one without (AVX2 only; a 2-core EPYC, where torch's emulated bf16 is 15x slower than
fp32) ONNX Runtime, OpenVINO fp32, then eager fp32. bf16 is never used where the CPU lacks it.

Threads: the default is one intra-op thread. On a 2-core machine with one core busy elsewhere, two OpenMP
threads spin-wait on each other and a step takes 20-50x longer; one thread keeps its speed, and the other
core is left to decoding, masks and encoding (`unseen.pipeline`).
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from pathlib import Path

import torch
from torch import Tensor

from unseen.engine.graph import DEFAULT_THREADS, OnnxSession, OpenVinoSession, resolve_threads  # noqa: F401 - re-exported
from unseen.engine.graph import cache_dir as default_cache_dir
from unseen.engine.registry import BACKENDS
from unseen.errors import UnseenError
from unseen.model.generator import InpaintGenerator

AUTO_ORDER = ("openvino", "eager")  # fastest first where bf16 is native; `auto` takes the first that passes `self_check`
AUTO_ORDER_FP32 = ("onnx", "openvino", "eager")  # ... where it is not (all fp32; ONNX Runtime >= OpenVINO on AVX2)
# largest |difference| from eager fp32 of the output (in [-1, 1]) on the self-check input; bf16 rounds to ~3 digits
TOLERANCE = {"fp32": 2e-3, "bf16": 6e-2}


# Runners are built one at a time in a process: two OpenVINO compilations sharing the model cache at once (the live
# server warming both of its workers) left an inference hanging for good in about 1 start in 10; built in turn, 0 in 34.
_BUILDING = threading.RLock()  # auto builds its candidates through make_runner


def native_bf16() -> bool:
    """Whether this CPU runs bfloat16 natively (oneDNN's own test: AVX-512 or AMX on x86, BF16 on Arm). Without it
    torch emulates bf16 and a step is 10-15x slower than in fp32, so every bf16 request falls back to fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # an older or unusual torch build
        return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())


def auto_order(bf16: bool = True) -> tuple[str, ...]:
    """The backends `auto` tries, fastest first: AUTO_ORDER with bf16 on a CPU that has it natively, else AUTO_ORDER_FP32."""
    return AUTO_ORDER if bf16 and native_bf16() else AUTO_ORDER_FP32


class EagerRunner:
    """`step_tensors` in torch, optionally under bfloat16 autocast."""

    name = "eager"

    def __init__(self, model: InpaintGenerator, bf16: bool) -> None:
        self.model, self.bf16 = model, bf16 and native_bf16()
        self.fn = model.step_tensors

    @property
    def precision(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    @torch.no_grad()
    def __call__(self, frame: Tensor, mask: Tensor, guide: Tensor | None, keys: list[Tensor], values: list[Tensor]):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            out, k, v = self.fn(frame, mask, guide, keys, values)
        return out.float(), k, v


class CompiledRunner(EagerRunner):
    """`step_tensors` through torch.compile (dynamic shapes: ROI size and past length vary)."""

    name = "compile"

    def __init__(self, model: InpaintGenerator, bf16: bool) -> None:
        super().__init__(model, bf16)
        self.fn = torch.compile(model.step_tensors, dynamic=True)


def step_graph_path(model: InpaintGenerator, cache_dir: str | Path | None = None) -> Path:
    """The model's exported ONNX step graph, exported once per weights and torch version and reused after."""
    from unseen.model.export import export_step_onnx

    digest = hashlib.sha256(model.config.to_json().encode())
    digest.update(torch.__version__.encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().contiguous().numpy().tobytes())
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / f"step-{model.config.name}-{digest.hexdigest()[:16]}.onnx"
    if path.is_file():
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return export_step_onnx(model, path)
    except OSError:  # no writable cache: a temporary export for this process
        tmp = Path(tempfile.mkdtemp(prefix="unseen-step-"))
        return export_step_onnx(model, tmp / "step.onnx")


class _GraphRunner:
    """An exported-graph session (engine/graph.py) behind the torch step signature: tensors in, tensors out."""

    session: OnnxSession | OpenVinoSession

    @property
    def path(self) -> Path:
        return self.session.path

    @property
    def version(self) -> str:
        return self.session.version

    @property
    def precision(self) -> str:
        return self.session.precision

    def __call__(self, frame: Tensor, mask: Tensor, guide: Tensor | None, keys: list[Tensor], values: list[Tensor]):
        arrays = [t.float().numpy() for t in (frame, mask, guide, *keys, *values)]
        out, k, v = self.session(arrays[0], arrays[1], arrays[2], arrays[3 : 3 + len(keys)], arrays[3 + len(keys) :])
        return torch.from_numpy(out), [torch.from_numpy(a) for a in k], [torch.from_numpy(a) for a in v]


class OnnxRunner(_GraphRunner):
    """The exported step graph in ONNX Runtime (fp32); the cache stays in torch tensors between steps."""

    name = "onnx"

    def __init__(
        self, model: InpaintGenerator, threads: int = 0, path: str | Path | None = None, cache_dir: str | Path | None = None
    ) -> None:
        self.session = OnnxSession(path or step_graph_path(model, cache_dir), threads)


class OpenVinoRunner(_GraphRunner):
    """The exported step graph in OpenVINO (CPU plugin; bf16 inference precision where the CPU has it)."""

    name = "openvino"

    def __init__(
        self,
        model: InpaintGenerator,
        bf16: bool = True,
        threads: int = 0,
        path: str | Path | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.session = OpenVinoSession(path or step_graph_path(model, cache_dir), bf16, threads)


def installed_backends() -> list[str]:
    """Backends whose runtime is importable here (eager and compile always are)."""
    import importlib.util

    found = ["eager", "compile"]
    for name, module in (("onnx", "onnxruntime"), ("openvino", "openvino")):
        if importlib.util.find_spec(module) is not None:
            found.append(name)
    return found


def self_check_inputs(model: InpaintGenerator, height: int = 96, width: int = 144, past: int = 2) -> tuple:
    """A fixed smooth test frame (1, 3, H, W) with a hole, its guide, and `past` frames of keys/values (eager fp32)."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
    frame = torch.stack([torch.sin(3 * xx + yy), torch.cos(2 * yy - xx), xx * yy], 0)[None].clamp(-1, 1)
    mask = torch.zeros(1, 1, height, width)
    mask[..., height // 4 : height // 2, width // 3 : width // 2] = 1
    guide = torch.cat([frame * (1 - mask), torch.zeros_like(mask)], 1)
    keys, values = model.empty_past(frame)
    with torch.no_grad():
        for i in range(past):
            _, k, v = model.step_tensors(frame.roll(i + 1, -1), mask, guide, keys, values)
            keys = [torch.cat([a, b], 3) for a, b in zip(keys, k, strict=True)]
            values = [torch.cat([a, b], 3) for a, b in zip(values, v, strict=True)]
    return frame, mask, guide, keys, values


def self_check(runner, model: InpaintGenerator) -> float:
    """Largest |difference| (output in [-1, 1]) between `runner` and eager fp32 on the self-check input."""
    frame, mask, guide, keys, values = self_check_inputs(model)
    with torch.no_grad():
        expected = model.step_tensors(frame, mask, guide, keys, values)[0]
    got = runner(frame, mask, guide, keys, values)[0]
    return float((got.float() - expected).abs().max())


def make_runner(model: InpaintGenerator, backend: str, bf16: bool, threads: int = 0):
    """A step runner for `backend` (auto, eager, compile, onnx or openvino); one is built at a time per process."""
    with _BUILDING:
        return _build_runner(model, backend, bf16, threads)


def _build_runner(model: InpaintGenerator, backend: str, bf16: bool, threads: int):
    if backend == "auto":
        return auto_runner(model, bf16, threads)
    if backend == "eager":
        return EagerRunner(model, bf16)
    if backend == "compile":
        return CompiledRunner(model, bf16)
    if backend == "onnx":
        return OnnxRunner(model, threads)
    if backend == "openvino":
        return OpenVinoRunner(model, bf16, threads)
    raise UnseenError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def _check_record(runner) -> Path | None:
    """Where an exported runner's passed self-check is recorded: beside its cached graph, named by a hash of the runtime,
    its version, the precision and the tolerance (the graph's name already holds the weights and torch version)."""
    path = getattr(runner, "path", None)
    if path is None:
        return None
    key = f"{runner.name} {runner.version} {runner.precision} {TOLERANCE[runner.precision]!r}"
    return path.with_name(f"{path.stem}.{runner.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.checked")


def passes_self_check(runner, model: InpaintGenerator) -> bool:
    """`self_check` within TOLERANCE; a pass of an exported graph is recorded in the cache, so later runs with the
    same weights, runtime and precision skip it (about 0.15 s of start-up)."""
    record = _check_record(runner)
    if record is not None and record.is_file():
        return True
    ok = self_check(runner, model) <= TOLERANCE[runner.precision]
    if ok and record is not None:
        try:
            record.write_text("passed\n")
        except OSError:  # a read-only cache: check again next time
            pass
    return ok


def auto_runner(model: InpaintGenerator, bf16: bool = True, threads: int = 0):
    """The first backend of `auto_order(bf16)` that is installed, builds, and agrees with eager fp32 within TOLERANCE."""
    installed = installed_backends()
    for name in auto_order(bf16):
        if name not in installed:
            continue
        try:
            runner = make_runner(model, name, bf16, threads)
        except UnseenError:
            continue
        if passes_self_check(runner, model):
            return runner
    return EagerRunner(model, bf16)
