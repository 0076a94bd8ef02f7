"""Step backends: each agrees with eager fp32 within its stated tolerance; `auto` picks and checks; one thread by default."""

import numpy as np
import pytest
import torch

from unseen.datasets.synthetic import moving_object_scene
from unseen.engine import backends
from unseen.engine.backends import TOLERANCE, auto_runner, installed_backends, make_runner, self_check, step_graph_path
from unseen.engine.online import EngineConfig, OnlineInpainter
from unseen.eval.metrics import psnr
from unseen.masks.hygiene import dilate
from unseen.model.checkpoint import load_generator


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Exported graphs go to a temporary cache, not the user's."""
    folder = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


@pytest.fixture(scope="module")
def model():
    return load_generator("small").eval()


BUILDS = [("eager", True), ("onnx", False), ("openvino", False), ("openvino", True)]


def _installed(name: str) -> None:
    if name not in installed_backends():
        pytest.skip(f"{name} is not installed")


@pytest.mark.parametrize("name,bf16", BUILDS, ids=[f"{n}-{'bf16' if b else 'fp32'}" for n, b in BUILDS])
def test_step_agrees_with_eager_fp32_within_tolerance(cache, model, name, bf16):
    _installed(name)
    runner = make_runner(model, name, bf16, threads=1)
    diff = self_check(runner, model)
    assert diff <= TOLERANCE[runner.precision]
    if runner.precision == "fp32":
        assert diff <= 1e-3


@pytest.mark.parametrize("name", ["onnx", "openvino"])
def test_engine_output_matches_eager_on_a_moving_object(cache, model, name):
    """Whole engine, 12 frames with the ROI and the cache moving: frames within 40 dB of eager bf16's."""
    _installed(name)
    s = moving_object_scene(12, 144, 240, seed=3, area=0.06)
    holes = dilate(s.masks, 3)
    runs = {}
    for backend in ("eager", name):
        engine = OnlineInpainter(model, EngineConfig(backend=backend, work_width=240, work_height=144, trust_memory=0))
        runs[backend] = [engine.step(f, m) for f, m in zip(s.frames, holes, strict=True)]
    for a, b, h in zip(runs["eager"], runs[name], holes, strict=True):
        assert np.array_equal(a[~h], b[~h])  # outside the hole: the original, exactly
        assert psnr(a, b) >= 40.0


def test_auto_takes_the_first_installed_backend_that_passes(cache, model):
    runner = auto_runner(model, bf16=True, threads=1)
    expected = next(n for n in backends.auto_order() if n in installed_backends())
    assert runner.name == expected


def test_auto_falls_back_to_eager_when_the_check_fails(cache, model, monkeypatch):
    monkeypatch.setattr(backends, "native_bf16", lambda: True)
    monkeypatch.setattr(backends, "AUTO_ORDER", ("onnx", "eager"))
    monkeypatch.setitem(backends.TOLERANCE, "fp32", -1.0)  # nothing in fp32 can pass: onnx is refused
    runner = auto_runner(model, bf16=True, threads=1)
    assert runner.name == "eager" and runner.precision == "bf16"


def test_no_bf16_where_the_cpu_lacks_it(cache, model, monkeypatch):
    """Emulated bf16 is 10-15x slower than fp32: without native bf16 every runner and `auto` run fp32, in the
    fp32 order (ONNX Runtime, OpenVINO, eager), and the engine's output is eager fp32's."""
    monkeypatch.setattr(backends, "native_bf16", lambda: False)
    assert backends.EagerRunner(model, True).precision == "fp32"
    runner = auto_runner(model, bf16=True, threads=1)
    installed = installed_backends()
    expected = next(n for n in ("onnx", "openvino", "eager") if n in installed)
    assert runner.name == expected and runner.precision == "fp32"
    s = moving_object_scene(4, 96, 160, seed=1, area=0.06)
    holes = dilate(s.masks, 2)
    outs = {}
    for bf16 in (True, False):
        engine = OnlineInpainter(model, EngineConfig(backend="eager", bf16=bf16, work_width=160, work_height=96, trust_memory=0))
        outs[bf16] = [engine.step(f, m) for f, m in zip(s.frames, holes, strict=True)]
    assert all(np.array_equal(a, b) for a, b in zip(outs[True], outs[False], strict=True))


def test_a_passed_self_check_of_an_exported_graph_is_recorded_and_skipped_after(tmp_path, model, monkeypatch):
    # the exported graph `auto` takes first here: OpenVINO where bf16 is native, ONNX Runtime where it is not
    name = next(n for n in backends.auto_order() if n in installed_backends())
    if name not in ("openvino", "onnx"):
        pytest.skip("no exported-graph backend comes first here")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # a cache of its own: nothing recorded yet
    cache = tmp_path
    calls = []
    real = backends.self_check
    monkeypatch.setattr(backends, "self_check", lambda r, m: calls.append(r.name) or real(r, m))
    runner = auto_runner(model, bf16=True, threads=1)
    assert runner.name == name and calls == [name]
    assert len(list(cache.rglob("*.checked"))) == 1
    assert auto_runner(model, bf16=True, threads=1).name == name and calls == [name]  # not checked again
    tolerance = backends.TOLERANCE[runner.precision] * 0.9  # another tolerance: another record, checked again
    monkeypatch.setitem(backends.TOLERANCE, runner.precision, tolerance)
    auto_runner(model, bf16=True, threads=1)
    assert calls == [name, name]


def test_exported_graph_is_reused(tmp_path, model):
    first = step_graph_path(model, tmp_path)
    stamp = first.stat().st_mtime_ns
    assert step_graph_path(model, tmp_path) == first
    assert first.stat().st_mtime_ns == stamp
    assert len(list(tmp_path.glob("step-*.onnx"))) == 1


def test_one_intra_op_thread_by_default(model):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        OnlineInpainter(model, EngineConfig(threads=0))
        assert torch.get_num_threads() == 1
        OnlineInpainter(model, EngineConfig(threads=2))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_openvino_missing_is_a_user_error(model, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_openvino(name, *args, **kwargs):
        if name == "openvino" or name.startswith("openvino."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openvino)
    from unseen.errors import UnseenError

    with pytest.raises(UnseenError, match="pip install"):
        make_runner(model, "openvino", True)


def test_runners_are_built_one_at_a_time(monkeypatch, model):
    """The live server builds its workers' engines in parallel threads; OpenVINO compilations sharing the model cache
    at once could hang an inference for good, so building is serialised per process (auto nests builds: no deadlock)."""
    import threading
    import time

    inside, overlaps = [0], [0]
    real_init = backends.EagerRunner.__init__

    def slow_init(self, model, bf16):
        inside[0] += 1
        overlaps[0] += inside[0] > 1
        time.sleep(0.05)
        inside[0] -= 1
        real_init(self, model, bf16)

    monkeypatch.setattr(backends.EagerRunner, "__init__", slow_init)
    monkeypatch.setattr(backends, "AUTO_ORDER", ("eager",))
    monkeypatch.setattr(backends, "AUTO_ORDER_FP32", ("eager",))  # bf16=False below: `auto` tries this order
    threads = [threading.Thread(target=backends.make_runner, args=(model, kind, False)) for kind in ("eager", "auto", "eager", "auto")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and overlaps[0] == 0


def test_threads_never_exceed_the_usable_cores():
    from unseen.engine.graph import resolve_threads, usable_cores

    assert resolve_threads(0) == 1
    assert resolve_threads(1) == 1
    assert resolve_threads(10_000) == usable_cores()
