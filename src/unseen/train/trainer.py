"""The training loop: generator + T-PatchGAN, AdamW, warm-up + cosine decay, EMA, exact resume, DDP.

Run as `unseen train CONFIG.yaml [key=value ...]`, or under `torchrun --nproc_per_node N -m unseen train ...`.
Outputs in `config.out`: `last.ckpt` (full state, for resuming), `generator.safetensors` (EMA weights),
`best.safetensors` (best validation PSNR), `log.csv`, `val.csv`.
"""

from __future__ import annotations

import copy
import csv
import math
import os
import random
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from unseen.engine.backends import native_bf16
from unseen.errors import UnseenError
from unseen.model.checkpoint import load_generator, save_generator
from unseen.model.config import get_preset
from unseen.model.discriminator import TPatchGAN
from unseen.model.generator import InpaintGenerator, count_parameters
from unseen.train.config import TrainConfig
from unseen.train.data import ClipDataset, SampleKey
from unseen.train.distributed import DistInfo, all_reduce_mean, init_distributed
from unseen.train.losses import (
    VGGPerceptual,
    feature_matching_loss,
    hinge_d_loss,
    hinge_g_loss,
    masked_l1,
    temporal_loss,
)
from unseen.train.validate import VAL_PROTOCOL

LOG_COLUMNS = ("step", "loss", "hole", "valid", "temp", "adv", "fm", "vgg", "d", "lr", "sec_per_step")  # every term, from the first row


def lr_factor(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """Linear warm-up then cosine decay to `min_ratio`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class StepBatches(torch.utils.data.Sampler):
    """One batch of sample keys per step `start..steps`, sharded by rank, sized by the curriculum stage.

    Sample j of step s on rank r has id ((s*W + r)*B + j) (B: the stage's batch), so the data order is a
    function of the seed and the step alone and a resumed run sees exactly the samples it would have seen.
    """

    def __init__(self, start: int, config: TrainConfig, dist: DistInfo) -> None:
        self.start, self.config, self.dist = start, config, dist

    def __iter__(self):
        w, r = self.dist.world, self.dist.rank
        for s in range(self.start, self.config.steps):
            st = self.config.stage(s)
            yield [SampleKey(((s * w + r) * st.batch + j,), st.height, st.width, st.frames) for j in range(st.batch)]

    def __len__(self) -> int:
        return max(0, self.config.steps - self.start)


def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
            pe.lerp_(pm.detach(), 1 - decay)
        for be, bm in zip(ema.buffers(), model.buffers(), strict=True):
            be.copy_(bm)


def _leave_stop_signals_to_the_main_process(_worker_id: int) -> None:
    """In a data worker: ignore Ctrl-C, SIGTERM and SIGHUP. They reach the whole process group (a terminal's
    Ctrl-C, `kill -- -PGID`, a job manager); the main process stops the run with one line and shuts the workers
    down, whereas a worker killed by the signal would make the data loader raise in the middle of that."""
    import signal

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            signal.signal(signum, signal.SIG_IGN)


class Trainer:
    """Owns the models, optimizers and loop; every piece of state needed to resume lives here."""

    def __init__(self, config: TrainConfig, progress: bool = True) -> None:
        self.cfg = config
        self.dist = init_distributed()
        self.progress = progress and self.dist.is_main
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.device = self.dist.device
        # bf16 autocast where it is native (a GPU, or a CPU with AVX-512/AMX): emulated on other CPUs, 10-15x slower
        self.bf16 = config.bf16 and (self.device.type != "cpu" or native_bf16())
        self.out = Path(config.out)
        if self.dist.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        if config.init_from:
            self.gen = load_generator(config.init_from).train()
            if config.model_overrides:  # settings that leave the weights' shapes alone (e.g. guide_rim)
                changed = replace(self.gen.config, **config.model_overrides)
                fresh = InpaintGenerator(changed).state_dict()
                own = self.gen.state_dict()
                if set(fresh) != set(own) or any(fresh[k].shape != own[k].shape for k in own):
                    raise UnseenError(f"model_overrides {config.model_overrides} change the shapes of {config.init_from}'s weights")
                self.gen.config = changed
        else:
            self.gen = InpaintGenerator(get_preset(config.model, **config.model_overrides))
        self.gen.to(self.device)
        if config.trainable:
            self._freeze_all_but(config.trainable)
        self.disc = TPatchGAN().to(self.device)
        self.ema = copy.deepcopy(self.gen).eval().requires_grad_(False)
        self.trained = [p for p in self.gen.parameters() if p.requires_grad]  # all, or those `trainable` names
        self.opt_g = torch.optim.AdamW(self.trained, lr=config.lr, betas=(0.9, 0.99), weight_decay=config.weight_decay)
        self.opt_d = torch.optim.AdamW(self.disc.parameters(), lr=config.d_lr, betas=(0.5, 0.99), weight_decay=0.0)
        self.step = 0
        self.best_psnr = -float("inf")
        self.perceptual = VGGPerceptual(config.loss.vgg_weights).to(self.device) if config.loss.vgg_weights else None
        self.gen_ddp: nn.Module = self.gen
        self.disc_ddp: nn.Module = self.disc
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.gen_ddp = DDP(self.gen, device_ids=ids)
            self.disc_ddp = DDP(self.disc, device_ids=ids)
        self.resume_if_possible()

    def _freeze_all_but(self, prefixes: list[str]) -> None:
        """Train only the generator's parameters whose names start with one of `prefixes`."""

        def under(name: str, prefix: str) -> bool:  # `blocks` names blocks.0.x, not blocksX
            return name == prefix or name.startswith(prefix + ".")

        names = [n for n, _ in self.gen.named_parameters()]
        unknown = [p for p in prefixes if not any(under(n, p) for n in names)]
        if unknown:
            tops = sorted({n.split(".")[0] for n in names})
            raise UnseenError(f"trainable: no generator parameter starts with {unknown} (top-level parts: {', '.join(tops)})")
        for name, param in self.gen.named_parameters():
            param.requires_grad_(any(under(name, p) for p in prefixes))

    # -- state -------------------------------------------------------------------------------
    @property
    def ckpt_path(self) -> Path:
        return self.out / "last.ckpt"

    def state_dict(self) -> dict:
        """Everything needed to continue exactly where we are."""
        return {
            "step": self.step,
            "best_psnr": self.best_psnr,
            "val_protocol": VAL_PROTOCOL,
            "gen": self.gen.state_dict(),
            "disc": self.disc.state_dict(),
            "ema": self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "model_config": self.gen.config.to_json(),
            "trainable": list(self.cfg.trainable),
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": np.random.get_state(),
            "python_rng": random.getstate(),
            "train_config": asdict(self.cfg),
        }

    def save_checkpoint(self) -> None:
        """Write last.ckpt (atomically) and the EMA generator weights (rank 0 only)."""
        if not self.dist.is_main:
            return
        tmp = self.ckpt_path.with_suffix(".tmp")
        torch.save(self.state_dict(), tmp)
        os.replace(tmp, self.ckpt_path)
        save_generator(self.ema, self.out / "generator.safetensors", {"unseen.step": str(self.step)})

    def resume_if_possible(self) -> None:
        """Continue from `out/last.ckpt` when it exists."""
        if not self.ckpt_path.exists():
            return
        state = torch.load(self.ckpt_path, map_location="cpu", weights_only=False)
        if state["model_config"] != self.gen.config.to_json():
            raise UnseenError(f"{self.ckpt_path}: checkpoint is for another model config; use a new `out` folder")
        if list(state.get("trainable", [])) != list(self.cfg.trainable):  # the optimizer holds only those parameters
            raise UnseenError(
                f"{self.ckpt_path}: checkpoint trained trainable={state.get('trainable', [])}, not {self.cfg.trainable}; use a new `out` folder"
            )
        self.gen.load_state_dict(state["gen"])
        self.disc.load_state_dict(state["disc"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])
        self.best_psnr = float(state.get("best_psnr", -float("inf")))
        if state.get("val_protocol", 1) != VAL_PROTOCOL:
            self.best_psnr = -float("inf")
            if self.dist.is_main:
                print("validation protocol changed since this checkpoint: the best score starts afresh", flush=True)
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
        if self.dist.is_main:
            print(f"resumed from {self.ckpt_path} at step {self.step}", flush=True)

    # -- one step ----------------------------------------------------------------------------
    def train_step(self, batch: dict) -> dict[str, float]:
        """One generator + discriminator update on a batch; returns the losses."""
        cfg, lc = self.cfg, self.cfg.loss
        frames = batch["frames"].to(self.device)
        masks = batch["masks"].to(self.device)
        guide = batch["guide"].to(self.device)
        factor = lr_factor(self.step, cfg.steps, cfg.warmup, cfg.min_lr_ratio)
        for g in self.opt_g.param_groups:
            g["lr"] = cfg.lr * factor
        for g in self.opt_d.param_groups:
            g["lr"] = cfg.d_lr * factor
        stage = cfg.stage(self.step)
        use_gan = stage.adversarial > 0 and self.step >= lc.adversarial_start
        amp = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
        with amp:
            raw = self.gen_ddp(frames, masks, guide, composite=False)
        raw = raw.float()
        comp = raw.clamp(-1, 1) * masks + frames * (1 - masks)
        logs: dict[str, float] = {}
        if use_gan:
            self.disc.requires_grad_(True)
            with amp:
                d_real = self.disc_ddp(frames)
                d_fake = self.disc_ddp(comp.detach())
            d_loss = hinge_d_loss(d_real.float(), d_fake.float())
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            logs["d"] = d_loss.item()
        hole = masked_l1(raw, frames, masks)
        valid = masked_l1(raw, frames, 1 - masks)
        loss = lc.hole_l1 * hole + lc.valid_l1 * valid
        logs["hole"], logs["valid"] = hole.item(), valid.item()
        if lc.temporal > 0:
            tl = temporal_loss(comp, frames, masks)
            loss = loss + lc.temporal * tl
            logs["temp"] = tl.item()
        if use_gan:
            self.disc.requires_grad_(False)
            with amp:
                g_logits, fake_feats = self.disc(comp, return_features=True)
                if self.perceptual is None:
                    with torch.no_grad():
                        _, real_feats = self.disc(frames, return_features=True)
            adv = hinge_g_loss(g_logits.float())
            loss = loss + stage.adversarial * adv
            logs["adv"] = adv.item()
            if self.perceptual is None:
                fm = feature_matching_loss([f.float() for f in fake_feats], [f.float() for f in real_feats])
                loss = loss + stage.feature_matching * fm
                logs["fm"] = fm.item()
        if self.perceptual is not None:
            b, t = frames.shape[:2]
            with amp:
                pl = self.perceptual(comp.flatten(0, 1), frames.flatten(0, 1))
            loss = loss + lc.perceptual * pl.float()
            logs["vgg"] = pl.item()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.trained, cfg.grad_clip)
        self.opt_g.step()
        _ema_update(self.ema, self.gen, min(cfg.ema, (1 + self.step) / (10 + self.step)))  # EMA warm-up
        logs["loss"] = loss.item()
        logs["lr"] = cfg.lr * factor
        return logs

    # -- loop --------------------------------------------------------------------------------
    def fit(self) -> None:
        """Train until `config.steps`, checkpointing, logging and validating on the way."""
        from tqdm import tqdm

        cfg = self.cfg
        if self.step >= cfg.steps:
            if self.dist.is_main:
                print(f"already at step {self.step} of {cfg.steps}; raise `steps` to train further", flush=True)
            return
        stages = [cfg.stage(s.start) for s in cfg.curriculum] or [cfg.stage(0)]
        need_side = max(min(st.height, st.width) for st in stages)
        data_cfg = replace(cfg.data, guide_rim=self.gen.config.guide_rim)  # the guide the network is trained on
        if data_cfg.cache and data_cfg.cache_short_side < need_side:  # never upsample cached frames to reach a crop
            data_cfg = replace(data_cfg, cache_short_side=need_side)
        dataset = ClipDataset(data_cfg, seed=cfg.seed)
        if cfg.data.cache:
            dataset.prefetch(progress=self.progress)
        validator = None
        if self.dist.is_main:
            loss_kind = "VGG16 perceptual" if self.perceptual is not None else "discriminator feature matching (no VGG weights given)"
            print(
                f"training {self.gen.config.name} ({count_parameters(self.gen) / 1e6:.2f}M params) on "
                f"{dataset.num_clips()} clips, {self.dist.world} process(es), perceptual term: {loss_kind}",
                flush=True,
            )
            if cfg.bf16 and not self.bf16:
                print("bf16=true ignored: this CPU has no native bfloat16 (training in fp32)", flush=True)
            if cfg.val.roots:
                from unseen.train.validate import Validator

                validator = Validator(cfg.val)
        loader = torch.utils.data.DataLoader(
            dataset,
            batch_sampler=StepBatches(self.step, cfg, self.dist),
            num_workers=cfg.workers,
            persistent_workers=False,
            prefetch_factor=4 if cfg.workers else None,
            worker_init_fn=_leave_stop_signals_to_the_main_process if cfg.workers else None,
        )
        log_path = self.out / "log.csv"
        board = None
        if cfg.tensorboard and self.dist.is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UnseenError("tensorboard=true needs the tensorboard package (pip install tensorboard)") from None
            board = SummaryWriter(str(self.out / "tb"))
        self.board = board
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.progress, dynamic_ncols=True, unit="step")
        last_t = time.perf_counter()
        running: dict[str, float] = {}
        self.gen.train()
        try:
            for batch in loader:
                if self.dist.is_main and any(st.start == self.step for st in cfg.curriculum):
                    st = cfg.stage(self.step)
                    print(
                        f"step {self.step}: curriculum stage {st.batch} x {st.frames} x {st.height}x{st.width}, "
                        f"adversarial {st.adversarial}, feature matching {st.feature_matching}",
                        flush=True,
                    )
                logs = self.train_step(batch)
                self.step += 1
                for k, v in logs.items():
                    running[k] = running.get(k, 0.0) + v
                if self.step % cfg.log_every == 0:
                    avg = {k: v / cfg.log_every for k, v in running.items()}
                    avg = {k: all_reduce_mean(v, self.dist) for k, v in avg.items()}
                    now = time.perf_counter()
                    avg["sec_per_step"] = (now - last_t) / cfg.log_every
                    last_t, running = now, {}
                    if self.dist.is_main:
                        self._append_csv(log_path, {k: avg.get(k, "") for k in LOG_COLUMNS} | {"step": self.step})
                        if board is not None:
                            for k, v in avg.items():
                                board.add_scalar(f"train/{k}", v, self.step)
                        bar.set_postfix({k: f"{avg[k]:.4f}" for k in ("hole", "valid") if k in avg})
                bar.update(1)
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    self.save_checkpoint()
                if validator is not None and (self.step % cfg.val.every == 0 or self.step == cfg.steps):
                    self.validate(validator)
        finally:
            bar.close()
            if board is not None:
                board.close()
        self.save_checkpoint()

    def validate(self, validator) -> None:
        """Validate the EMA generator; keep the best weights."""
        result = validator.run(self.ema)
        row = {"step": self.step, **result}
        self._append_csv(self.out / "val.csv", row)
        if getattr(self, "board", None) is not None:
            for k, v in result.items():
                self.board.add_scalar(f"val/{k}", v, self.step)
        print(f"val step {self.step}: " + ", ".join(f"{k} {v:.3f}" for k, v in result.items()), flush=True)
        if result["psnr_model"] > self.best_psnr:
            self.best_psnr = result["psnr_model"]
            save_generator(
                self.ema, self.out / "best.safetensors", {"unseen.step": str(self.step), "unseen.val_psnr": f"{self.best_psnr:.3f}"}
            )

    @staticmethod
    def _append_csv(path: Path, row: dict) -> None:
        new = not path.exists()
        fields = list(row)
        if not new:
            with path.open() as f:
                fields = next(csv.reader(f), fields)
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore", restval="")
            if new:
                writer.writeheader()
            writer.writerow(row)


def train(config: TrainConfig, progress: bool = True) -> Path:
    """Run training; returns the output folder."""
    trainer = Trainer(config, progress=progress)
    try:
        trainer.fit()
    finally:
        from unseen.train.distributed import shutdown_distributed

        shutdown_distributed(trainer.dist)
    return trainer.out
