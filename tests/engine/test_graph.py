"""Starting without torch: a recorded exported graph runs the engine with numpy arrays, with the torch path's output."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from unseen.datasets.synthetic import moving_object_scene
from unseen.engine import graph
from unseen.engine.backends import installed_backends
from unseen.engine.online import EngineConfig, OnlineInpainter
from unseen.masks.hygiene import dilate
from unseen.model.attention import visible_frames
from unseen.model.checkpoint import save_generator
from unseen.model.config import get_preset
from unseen.model.generator import InpaintGenerator
from unseen.model.stream import visible

pytestmark = pytest.mark.skipif("onnx" not in installed_backends(), reason="onnxruntime is not installed")


@pytest.fixture()
def weights(tmp_path, monkeypatch):
    """Tiny random weights (with reference frames, so the cache evicts by both rules) and a private graph cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    torch.manual_seed(0)
    model = InpaintGenerator(get_preset("tiny", ref_stride=3, ref_count=1))
    return save_generator(model, tmp_path / "tiny.safetensors")


def _run(engine: OnlineInpainter, seed: int = 4) -> list[np.ndarray]:
    s = moving_object_scene(10, 96, 144, seed=seed, area=0.08)
    return [engine.step(f, m) for f, m in zip(s.frames, dilate(s.masks, 2), strict=True)]


def test_a_recorded_graph_runs_without_torch_and_gives_the_same_frames(weights):
    config = EngineConfig(backend="onnx", work_width=144, work_height=96, trust_memory=0)
    assert graph.fast_start(weights, "onnx", config.bf16) is None  # nothing recorded yet
    first = OnlineInpainter.from_weights(str(weights), config)
    assert first.in_torch and first.runner.name == "onnx"
    fast = OnlineInpainter.from_weights(str(weights), config)  # the record written by the first start
    assert not fast.in_torch and fast.runner.name == "onnx"
    for a, b in zip(_run(first), _run(fast), strict=True):
        assert np.array_equal(a, b)
    # another request, other weights, a deleted graph or a damaged record: back to the torch path
    assert graph.fast_start(weights, "openvino", config.bf16) is None
    record = next((weights.parent / "cache" / "unseen").glob("start-*.json"))
    saved = record.read_text()
    record.write_text("{not json")
    assert graph.fast_start(weights, "onnx", config.bf16) is None
    record.write_text(json.dumps({**json.loads(saved), "version": "0.0.0"}))
    assert graph.fast_start(weights, "onnx", config.bf16) is None
    record.write_text(saved)
    assert graph.fast_start(weights, "onnx", config.bf16) is not None
    graph_file = Path(json.loads(saved)["graph"])
    moved = graph_file.rename(graph_file.with_suffix(".moved"))  # the cached graph deleted
    assert graph.fast_start(weights, "onnx", config.bf16) is None
    moved.rename(graph_file)
    assert graph.fast_start(weights, "onnx", config.bf16) is not None
    weights.write_bytes(weights.read_bytes()[:-1] + b" ")  # the same name, other bytes
    assert graph.fast_start(weights, "onnx", config.bf16) is None


def test_nothing_is_recorded_for_weights_replaced_while_loading(weights, tmp_path):
    config = EngineConfig(backend="onnx", work_width=144, work_height=96)
    engine = OnlineInpainter.from_weights(str(weights), config)
    stale = graph.weights_digest(b"the bytes hashed before another file replaced them")
    assert graph.remember_start(stale, weights, "onnx", config.bf16, engine.runner, tmp_path / "other") is None


def test_the_fast_start_imports_no_torch(weights):
    config = EngineConfig(backend="onnx", work_width=144, work_height=96)
    OnlineInpainter.from_weights(str(weights), config)
    code = (
        "import sys, numpy as np\n"
        "from unseen.pipeline import load_inpainter\n"
        f"e = load_inpainter('model', {str(weights)!r}, backend='onnx', work_width=144, work_height=96)\n"
        "m = np.zeros((96, 144), bool); m[30:60, 40:90] = True\n"
        "out = e.step(np.full((96, 144, 3), 120, np.uint8), m)\n"
        "print(type(e.model).__name__, out.shape, 'torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["GraphModel", "(96,", "144,", "3)", "False"]


def test_the_numpy_cache_keeps_the_frames_attention_sees():
    config = get_preset("tiny", ref_stride=3, ref_count=2)
    for query in range(12):
        keys = torch.arange(12)
        expected = visible_frames(torch.tensor([query]), keys, config.cache_frames, config.ref_stride, config.ref_count)[0]
        got = [visible(query - k, k, config) for k in range(12)]
        assert got == expected.tolist()


def test_ctrl_c_while_a_runtime_loads_stops_the_start(weights, monkeypatch):
    """An extension module interrupted while it loads raises ImportError caused by the KeyboardInterrupt: the fast
    start must stop (the CLI says "interrupted"), not swallow it and fall back to the torch path."""

    def interrupted(data: bytes) -> str:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as stop:
            raise ImportError("initialization failed") from stop

    monkeypatch.setattr(graph, "weights_digest", interrupted)
    with pytest.raises(KeyboardInterrupt):
        graph.fast_start(weights, "onnx", True)
    monkeypatch.setattr(graph, "weights_digest", lambda data: (_ for _ in ()).throw(ImportError("not interrupted")))
    assert graph.fast_start(weights, "onnx", True) is None  # any other doubt: the torch path
