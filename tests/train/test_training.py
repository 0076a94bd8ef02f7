"""Training pipeline on generated data: layouts, determinism, masks, exact resume, DDP with 2 ranks."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import moving_square_clip, write_pngs, write_video
from unseen.datasets.clips import discover_clips
from unseen.datasets.holes import MaskConfig, MaskGenerator
from unseen.train.config import load_train_config
from unseen.train.data import ClipDataset, DataConfig


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    for k in range(2):
        frames, masks, _ = moving_square_clip(10, 72, 96, seed=k)
        write_pngs(root / "ytvos" / "JPEGImages" / f"clip{k}", frames, [f"{i:05d}.jpg" for i in range(10)])
        write_pngs(root / "ytvos" / "Annotations" / f"clip{k}", masks)
        write_pngs(root / "ipn" / f"video{k}", frames)
    (root / "mp4s").mkdir()
    write_video(root / "mp4s" / "a.mp4", moving_square_clip(20, 72, 96, seed=5)[0])
    return root


def test_layouts_are_discovered(dataset_root):
    assert [c.name for c in discover_clips(dataset_root / "ytvos")] == ["clip0", "clip1"]
    assert discover_clips(dataset_root / "ytvos")[0].annotations is not None
    assert len(discover_clips(dataset_root / "ipn")) == 2
    clips = discover_clips(dataset_root / "mp4s")
    assert len(clips) == 1 and clips[0].length == 20
    frames = clips[0].read([7, 8, 9])  # seek + decode forward, no full decode
    assert len(frames) == 3 and frames[0].shape == (72, 96, 3)


@pytest.mark.parametrize("cache", [True, False])
def test_samples_are_deterministic_and_well_formed(dataset_root, cache):
    cfg = DataConfig(roots=[str(dataset_root / "ytvos"), str(dataset_root / "mp4s")], height=48, width=64, frames=4, cache=cache)
    a, b = ClipDataset(cfg, seed=3), ClipDataset(cfg, seed=3)
    s1, s2 = a[11], b[11]
    for key in ("frames", "masks", "guide"):
        assert torch.equal(s1[key], s2[key])
    assert s1["frames"].shape == (4, 3, 48, 64) and s1["masks"].shape == (4, 1, 48, 64) and s1["guide"].shape == (4, 4, 48, 64)
    assert s1["frames"].min() >= -1 and s1["frames"].max() <= 1
    assert 0 < s1["masks"].mean() < 0.8
    known = s1["masks"].expand(4, 3, 48, 64) == 0
    assert torch.equal(s1["guide"][:, :3][known], s1["frames"][known])  # the guide keeps known pixels
    assert not torch.equal(a[12]["frames"], s1["frames"])


def test_mask_generator_is_reproducible_and_moves():
    gen = MaskGenerator(MaskConfig(p_moving=1.0))
    m1 = gen(np.random.default_rng(5), 6, 64, 80, moving=True)
    m2 = gen(np.random.default_rng(5), 6, 64, 80, moving=True)
    assert np.array_equal(m1, m2) and m1.any()
    still = gen(np.random.default_rng(6), 6, 64, 80, moving=False)
    assert all(np.array_equal(still[0], s) for s in still)


def _config(tmp: Path, root: Path, steps: int):
    return load_train_config(
        None,
        [
            f"out={tmp}",
            "model=tiny",
            f"steps={steps}",
            "batch=2",
            "workers=0",
            "checkpoint_every=2",
            "log_every=1",
            "warmup=2",
            "loss.adversarial_start=1",
            f"data.roots=[{root / 'ytvos'}]",
            "data.height=32",
            "data.width=32",
            "data.frames=3",
        ],
    )


def test_resume_is_exact(dataset_root, tmp_path):
    from unseen.train.trainer import train

    train(_config(tmp_path / "straight", dataset_root, 4), progress=False)
    train(_config(tmp_path / "split", dataset_root, 2), progress=False)
    train(_config(tmp_path / "split", dataset_root, 4), progress=False)  # resumes at step 2
    a = torch.load(tmp_path / "straight" / "last.ckpt", weights_only=False)
    b = torch.load(tmp_path / "split" / "last.ckpt", weights_only=False)
    assert a["step"] == b["step"] == 4
    for k in a["gen"]:
        assert torch.equal(a["gen"][k], b["gen"][k]), k
    assert (tmp_path / "split" / "generator.safetensors").exists()


def test_curriculum_changes_sample_size_and_loss_weights(dataset_root, tmp_path):
    from unseen.train.trainer import StepBatches, Trainer

    stages = "curriculum=[{start: 0, height: 32, width: 32, frames: 3}, {start: 2, height: 48, width: 64, frames: 4, batch: 1, adversarial: 0.05}]"
    cfg = _config(tmp_path / "cur", dataset_root, 4)
    cfg.curriculum = load_train_config(None, [stages]).curriculum
    assert cfg.stage(1).height == 32 and cfg.stage(1).batch == 2 and cfg.stage(1).adversarial == cfg.loss.adversarial
    assert (cfg.stage(3).height, cfg.stage(3).width, cfg.stage(3).frames, cfg.stage(3).batch) == (48, 64, 4, 1)
    assert cfg.stage(3).adversarial == 0.05
    trainer = Trainer(cfg, progress=False)
    batches = list(StepBatches(0, cfg, trainer.dist))
    assert [len(b) for b in batches] == [2, 2, 1, 1]
    dataset = ClipDataset(cfg.data, seed=cfg.seed)
    late = dataset[batches[3][0]]
    assert late["frames"].shape == (4, 3, 48, 64) and late["guide"].shape == (4, 4, 48, 64)
    trainer.fit()  # both stages train end to end
    assert trainer.step == 4


def test_config_errors_are_clear(tmp_path):
    from unseen.errors import UnseenError

    with pytest.raises(UnseenError, match="unknown keys"):
        load_train_config(None, ["nonsense=1"])
    with pytest.raises(UnseenError, match="no such config"):
        load_train_config(tmp_path / "missing.yaml")
    (tmp_path / "video.mkv").write_bytes(bytes(range(256)))
    with pytest.raises(UnseenError, match="not a YAML text file"):
        load_train_config(tmp_path / "video.mkv")
    with pytest.raises(UnseenError, match="config.steps: expected int, got 'abc'"):
        load_train_config(None, ["steps=abc"])
    with pytest.raises(UnseenError, match="config.data.height: expected int"):
        load_train_config(None, ["data.height=1.5"])
    assert load_train_config(None, ["lr=1"]).lr == 1.0  # an int is a fine float
    assert load_train_config(None, ["lr=3e-5"]).lr == 3e-5  # YAML 1.1 reads this as a string; it is a float
    with pytest.raises(UnseenError, match="config.lr: expected float, got 'fast'"):
        load_train_config(None, ["lr=fast"])
    with pytest.raises(UnseenError, match="config.lr: expected float, got 'inf'"):
        load_train_config(None, ["lr=inf"])  # a string that float() takes, but no learning rate


@pytest.mark.slow
def test_two_ranks_with_gloo_end_identical(dataset_root, tmp_path):
    script = tmp_path / "dump.py"
    script.write_text(
        "import sys, torch, torch.distributed as dist\n"
        "from unseen.train.config import load_train_config\n"
        "from unseen.train.trainer import Trainer\n"
        "cfg = load_train_config(None, sys.argv[2:])\n"
        "t = Trainer(cfg, progress=False)\n"
        "t.fit()\n"
        "torch.save(t.gen.state_dict(), sys.argv[1] + f'/rank{t.dist.rank}.pt')\n"
        "dist.destroy_process_group()\n"
    )
    overrides = [
        f"out={tmp_path / 'run'}",
        "model=tiny",
        "steps=3",
        "batch=1",
        "workers=0",
        "threads=1",
        "checkpoint_every=100",
        f"data.roots=[{dataset_root / 'ytvos'}]",
        "data.height=32",
        "data.width=32",
        "data.frames=3",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    from unseen.bench.browser import free_port

    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}", str(script), str(tmp_path)]
    result = subprocess.run(cmd + overrides, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    r0 = torch.load(tmp_path / "rank0.pt")
    r1 = torch.load(tmp_path / "rank1.pt")
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    fresh = torch.load(tmp_path / "run" / "last.ckpt", weights_only=False)
    assert fresh["step"] == 3


def test_tensorboard_option(dataset_root, tmp_path):
    from unseen.errors import UnseenError
    from unseen.train.trainer import train

    config = _config(tmp_path / "tb", dataset_root, 2)
    config.tensorboard = True
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(UnseenError, match="needs the tensorboard package"):
            train(config, progress=False)
        return
    train(config, progress=False)
    assert any((tmp_path / "tb" / "tb").iterdir())


def test_a_stop_sent_to_the_whole_process_group_is_one_line(dataset_root, tmp_path):
    """SIGTERM to the process group (data workers included): 'stopped by SIGTERM', exit 143, no traceback."""
    import signal
    import time

    out = tmp_path / "run"
    config = tmp_path / "tiny.yaml"
    config.write_text("model: tiny\n")
    cmd = [sys.executable, "-m", "unseen", "train", str(config), f"out={out}", "steps=100000", "batch=1", "workers=1"]
    cmd += ["threads=1", "checkpoint_every=1", f"data.roots=[{dataset_root / 'ytvos'}]", "data.height=32", "data.width=32"]
    cmd += ["data.frames=3", "data.cache=false", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        deadline = time.time() + 300
        while not (out / "last.ckpt").exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        time.sleep(0.5)  # mid-run, workers busy
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "stopped by SIGTERM" in err and "Traceback" not in err, err[-2000:]


def test_bf16_only_where_the_cpu_has_it(dataset_root, tmp_path, monkeypatch, capsys):
    """Emulated bf16 trains 10-15x slower: on a CPU without it `bf16=true` falls back to fp32, with a note."""
    from unseen.train import trainer as trainer_module

    for native in (True, False):
        monkeypatch.setattr(trainer_module, "native_bf16", lambda native=native: native)
        cfg = _config(tmp_path / f"bf16-{native}", dataset_root, 1)
        assert cfg.bf16
        t = trainer_module.Trainer(cfg, progress=False)
        assert t.bf16 is native
    t.fit()
    assert "bf16=true ignored: this CPU has no native bfloat16" in capsys.readouterr().out


def test_trainable_freezes_every_other_parameter(dataset_root, tmp_path):
    """`trainable=[blocks]` fine-tunes the transformer only: encoder and decoder weights end bit-identical."""
    from unseen.errors import UnseenError
    from unseen.train.trainer import Trainer

    cfg = _config(tmp_path / "frozen", dataset_root, 3)
    cfg.trainable = ["blocks"]
    trainer = Trainer(cfg, progress=False)
    before = {n: p.detach().clone() for n, p in trainer.gen.named_parameters()}
    trainer.fit()
    after = dict(trainer.gen.named_parameters())
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed and all(n.startswith("blocks") for n in changed)
    assert any(n.startswith("encoder") for n in before)
    cfg.trainable = ["nonsense"]
    with pytest.raises(UnseenError, match="no generator parameter starts with"):
        Trainer(cfg, progress=False)


def test_fine_tuning_may_change_the_guide_but_not_the_shapes(dataset_root, tmp_path):
    """init_from + model_overrides: guide_rim (which guide the network learns on) changes, a shape does not."""
    from unseen.errors import UnseenError
    from unseen.model.checkpoint import load_generator, save_generator
    from unseen.model.config import get_preset
    from unseen.model.generator import InpaintGenerator
    from unseen.train.trainer import Trainer

    start = save_generator(InpaintGenerator(get_preset("tiny")), tmp_path / "start.safetensors")
    cfg = _config(tmp_path / "rim", dataset_root, 2)
    cfg.init_from, cfg.model_overrides = str(start), {"guide_rim": 16}
    trainer = Trainer(cfg, progress=False)
    trainer.fit()
    assert load_generator(tmp_path / "rim" / "generator.safetensors").config.guide_rim == 16
    cfg.out, cfg.model_overrides = str(tmp_path / "wider"), {"dim": 48}
    with pytest.raises(UnseenError, match="change the shapes"):
        Trainer(cfg, progress=False)


def test_every_shipped_config_loads_and_builds_its_model():
    from unseen.model.config import get_preset

    configs = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))
    assert {p.name for p in configs} >= {"small.yaml", "small-v2.yaml", "base.yaml"}
    for path in configs:
        cfg = load_train_config(path)
        model = get_preset(cfg.model, **cfg.model_overrides)
        assert model.name == cfg.model and cfg.steps > 0 and cfg.data.roots, path.name
        assert [s.start for s in cfg.curriculum] == sorted(s.start for s in cfg.curriculum), path.name
    base = load_train_config(configs[[p.name for p in configs].index("base.yaml")])
    assert base.model == "base" and base.model_overrides == {"guide_rim": 16}
