"""The exported step graph without torch: ONNX Runtime or OpenVINO sessions on numpy arrays, the model's stream
cache in numpy, and the record that lets a later start skip `import torch` altogether.

`import torch` alone takes 1.1-3 s on a 2-core CPU, more than the rest of a start. The first run with a set of
weights loads the generator in torch, exports its step graph (`backends.step_graph_path`), lets `auto` choose and
self-check a backend, and writes a small JSON record of that choice (`remember_start`). Later runs with the same
weights file, the same request, the same CPU and the same runtime version find the record (`fast_start`) and run
the cached graph directly: no torch is imported. Anything missing or changed sends them down the torch path again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unseen.model.config import ModelConfig
from unseen.model.stream import StreamCache, open_past, past_shape, record

DEFAULT_THREADS = 1  # intra-op threads when the user gives 0 (see engine/backends.py)
EXPORTED_BACKENDS = ("auto", "onnx", "openvino")  # the requests a recorded exported graph can serve
RECORD_VERSION = 1


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, e.g. a container's share), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(threads: int) -> int:
    """Intra-op threads for the model: `threads` (at most the usable cores: more only fight each other), or
    DEFAULT_THREADS for 0."""
    return min(threads, usable_cores()) if threads > 0 else DEFAULT_THREADS


def cache_dir() -> Path:
    """Where exported step graphs are kept between runs ($XDG_CACHE_HOME/unseen or ~/.cache/unseen)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "unseen"


def clip_to_array(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., H, W, 3) -> float32 (..., 3, H, W) in [-1, 1]: the network's input scale (engine/tensors.py
    hands the same values to torch, for training and the eager path)."""
    x = np.moveaxis(np.asarray(frames), -1, -3).astype(np.float32)
    return x / np.float32(127.5) - np.float32(1.0)


def frame_to_array(frame: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> float32 (1, 3, H, W) in [-1, 1]."""
    return clip_to_array(frame)[None]


def _split(result: list[np.ndarray], layers: int) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    return result[0], list(result[1 : 1 + layers]), list(result[1 + layers :])


class OnnxSession:
    """The step graph in ONNX Runtime (fp32): (frame, mask, guide, past keys, past values) -> (output, keys, values)."""

    name = "onnx"
    precision = "fp32"

    def __init__(self, path: str | Path, threads: int = 0) -> None:
        import onnxruntime as ort

        from unseen.errors import UnseenError, interrupt_in

        self.path, self.version = Path(path), ort.__version__
        options = ort.SessionOptions()
        options.intra_op_num_threads = resolve_threads(threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - ORT raises several types
            if (stop := interrupt_in(exc)) is not None:
                raise stop from None
            raise UnseenError(f"cannot load ONNX step graph {path}: {exc}") from None
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.layers = (len(self.outputs) - 1) // 2

    def __call__(self, frame, mask, guide, keys, values):
        arrays = [frame, mask, guide, *keys, *values]
        feed = {name: np.ascontiguousarray(a, np.float32) for name, a in zip(self.inputs, arrays, strict=True)}
        return _split(self.session.run(self.outputs, feed), self.layers)


class OpenVinoSession:
    """The step graph in OpenVINO's CPU plugin (bf16 inference precision where the CPU has it, else fp32)."""

    name = "openvino"

    def __init__(self, path: str | Path, bf16: bool = True, threads: int = 0) -> None:
        from unseen.errors import UnseenError, interrupt_in

        try:
            import openvino as ov
        except ImportError:
            raise UnseenError("the openvino backend needs OpenVINO: pip install 'unseen[openvino]' (or pip install openvino)") from None
        self.path, self.version = Path(path), ov.__version__
        core = ov.Core()
        self.precision = "bf16" if bf16 and "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES") else "fp32"
        config = {
            "INFERENCE_PRECISION_HINT": {"bf16": "bf16", "fp32": "f32"}[self.precision],
            "INFERENCE_NUM_THREADS": resolve_threads(threads),
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
            "CACHE_DIR": str(Path(path).parent / "openvino"),  # compiled once (~2 s), loaded from there after (~0.3 s)
        }
        try:
            self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError subclasses
            if (stop := interrupt_in(exc)) is not None:
                raise stop from None
            raise UnseenError(f"OpenVINO cannot compile the step graph {path}: {exc}") from None
        self.request = self.compiled.create_infer_request()
        self.layers = (len(self.compiled.outputs) - 1) // 2

    def __call__(self, frame, mask, guide, keys, values):
        self.request.infer([np.ascontiguousarray(a, np.float32) for a in (frame, mask, guide, *keys, *values)])
        # the request reuses its output buffers: copy, the cache keeps these keys/values
        return _split([self.request.get_output_tensor(i).data.copy() for i in range(1 + 2 * self.layers)], self.layers)


class GraphModel:
    """Stands in for `InpaintGenerator` in the online engine when only the exported step graph runs: the same
    `config`, `new_cache` and `step`, on numpy arrays."""

    def __init__(self, config: ModelConfig, layers: int) -> None:
        self.config, self.layers = config, layers

    def eval(self) -> GraphModel:
        return self

    def new_cache(self) -> StreamCache:
        """An empty cache for `step`."""
        return StreamCache()

    def empty_past(self, frame: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Zero-length past keys/values matching a (B, 3, H, W) frame."""
        empty = np.zeros(past_shape(self.config, frame.shape[0], *frame.shape[-2:]), np.float32)
        return [empty] * self.layers, [empty] * self.layers

    def step(self, frame: np.ndarray, mask: np.ndarray, guide: np.ndarray | None, cache: StreamCache, runner) -> np.ndarray:
        """Inpaint the next frame of a stream (as `InpaintGenerator.step`); `runner` is an OnnxSession or OpenVinoSession."""
        keys, values = open_past(cache, frame.shape, self.config, lambda: self.empty_past(frame), _join)
        out, new_keys, new_values = runner(frame, mask, guide, keys, values)
        record(cache, self.config, [[k] for k in new_keys], [[v] for v in new_values])
        return out


def _join(layer: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(layer, axis=3)


# -- starting without torch -------------------------------------------------------------------------------------
def _cpu_identity() -> str:
    """What decides `auto`'s choice on this CPU (model and instruction-set flags)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        lines = [ln for ln in text.splitlines() if ln.startswith(("model name", "flags", "Features"))]
        return "\n".join(sorted(set(lines)))
    except OSError:
        return f"{platform.machine()} {platform.processor()}"


def _versions() -> str:
    """What an upgrade or install changes the exported graph or `auto`'s choice by: unseen's and torch's versions and
    which runtimes are installed (found without importing torch or the runtimes; the runtime that runs is checked
    against the record's version when it opens)."""
    import importlib.util

    import unseen

    found = [f"unseen={unseen.__version__}"]
    spec = importlib.util.find_spec("torch")
    version = Path(spec.origin).with_name("version.py") if spec is not None and spec.origin else None
    found.append(f"torch={version.read_text() if version is not None and version.is_file() else '-'}")
    found += [f"{name}={importlib.util.find_spec(name) is not None}" for name in ("onnxruntime", "openvino")]
    return " ".join(found)


def weights_digest(data: bytes) -> str:
    """Hex digest of a weights file's bytes."""
    return hashlib.sha256(data).hexdigest()


def _record_path(digest: str, backend: str, bf16: bool, folder: Path) -> Path:
    key = f"{RECORD_VERSION} {digest} {backend} {bf16} {_versions()} {_cpu_identity()}"
    return folder / f"start-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"


def remember_start(digest: str, weights: str | Path, backend: str, bf16: bool, runner, folder: str | Path | None = None) -> Path | None:
    """After a start through torch from weights whose bytes hashed to `digest` before they were loaded: record which
    exported graph and runtime `backend` ran (only runners with a cached graph file; `auto` only after its
    self-check passed), so `fast_start` can skip torch next time. Nothing is recorded if the file changed since."""
    graph = getattr(runner, "path", None)
    if graph is None or not Path(graph).is_file():
        return None
    folder = Path(folder) if folder is not None else cache_dir()
    try:
        if weights_digest(Path(weights).read_bytes()) != digest:  # replaced while it was loaded and exported
            return None
        path = _record_path(digest, backend, bf16, folder)
        record = {"runtime": runner.name, "version": runner.version, "precision": runner.precision, "graph": str(graph)}
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".start-", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(record))
        os.replace(tmp, path)
        return path
    except OSError:  # no writable cache: the next start goes through torch again
        return None


def _metadata(data: bytes) -> dict[str, str]:
    """The `__metadata__` of a safetensors file's bytes (its header: 8-byte little-endian length, then JSON)."""
    size = int.from_bytes(data[:8], "little")
    return dict(json.loads(data[8 : 8 + size]).get("__metadata__") or {})


@dataclass
class FastStart:
    """A model and runner that need no torch."""

    model: GraphModel
    runner: OnnxSession | OpenVinoSession


def fast_start(weights: str | Path, backend: str, bf16: bool, threads: int = 0, folder: str | Path | None = None) -> FastStart | None:
    """The recorded exported graph for these weights and this request, opened without torch; None when there is no
    valid record (first run, other weights, another CPU, a runtime upgraded or removed, a graph deleted)."""
    from unseen.model.checkpoint import CONFIG_KEY, resolve_weights

    if backend not in EXPORTED_BACKENDS:
        return None
    folder = Path(folder) if folder is not None else cache_dir()
    try:
        data = resolve_weights(weights).read_bytes()  # read once: the digest and the config come from the same bytes
        record = json.loads(_record_path(weights_digest(data), backend, bf16, folder).read_text())
        graph = Path(record["graph"])
        if not graph.is_file():
            return None
        if record["runtime"] == "onnx":
            import onnxruntime

            if onnxruntime.__version__ != record["version"]:
                return None
            runner: OnnxSession | OpenVinoSession = OnnxSession(graph, threads)
        elif record["runtime"] == "openvino":
            import openvino

            if openvino.__version__ != record["version"]:
                return None
            runner = OpenVinoSession(graph, record["precision"] == "bf16", threads)
            if runner.precision != record["precision"]:
                return None
        else:
            return None
        config = ModelConfig.from_json(_metadata(data)[CONFIG_KEY])
    except Exception as exc:  # noqa: BLE001 - any doubt about the record: take the torch path, which checks everything
        from unseen.errors import interrupt_in

        if (stop := interrupt_in(exc)) is not None:  # Ctrl-C while a runtime loaded: stop, do not fall back
            raise stop from None
        return None
    return FastStart(GraphModel(config, runner.layers), runner)
