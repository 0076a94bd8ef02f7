"""Training configuration: dataclasses filled from a YAML file plus `key=value` overrides."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unseen.datasets.holes import MaskConfig
from unseen.errors import UnseenError
from unseen.train.data import DataConfig


@dataclass
class LossConfig:
    """Weights of the loss terms."""

    hole_l1: float = 1.0
    valid_l1: float = 0.5
    adversarial: float = 0.01
    feature_matching: float = 0.1  # used when no VGG weights are given
    perceptual: float = 0.1  # used when vgg_weights is set
    temporal: float = 0.1
    vgg_weights: str | None = None  # path to a torchvision VGG16 state dict
    adversarial_start: int = 0  # generator step from which the GAN terms are on


@dataclass
class ValConfig:
    """Periodic validation on held-out clips with synthetic masks (online, through `step`)."""

    roots: list[str] = field(default_factory=list)
    every: int = 500
    clips: int = 5
    frames: int = 24
    height: int = 240
    width: int = 432
    seed: int = 1234


@dataclass
class StageConfig:
    """One stage of a training curriculum: from step `start` on, samples of this size and these loss weights.

    Fields left at None keep the value of the main config (`data.*`, `batch`, `loss.*`).
    """

    start: int = 0
    height: int | None = None
    width: int | None = None
    frames: int | None = None
    batch: int | None = None
    adversarial: float | None = None
    feature_matching: float | None = None


@dataclass
class TrainConfig:
    """Everything `unseen train` needs."""

    out: str = "runs/small"
    model: str = "small"  # preset name
    model_overrides: dict[str, Any] = field(default_factory=dict)
    init_from: str | None = None  # start from these generator weights (.safetensors or preset name)
    trainable: list[str] = field(default_factory=list)  # train only parameters whose names start so (empty: all)
    steps: int = 20000
    batch: int = 4  # per process
    lr: float = 5e-4
    d_lr: float = 2e-4
    min_lr_ratio: float = 0.05
    warmup: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    bf16: bool = True
    ema: float = 0.999
    seed: int = 0
    workers: int = 1
    threads: int = 0  # torch threads per process (0: leave default)
    checkpoint_every: int = 200
    log_every: int = 10
    tensorboard: bool = False  # also write TensorBoard scalars to OUT/tb (needs the tensorboard package)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    val: ValConfig = field(default_factory=ValConfig)
    curriculum: list[StageConfig] = field(default_factory=list)  # stages by start step (empty: one stage)

    def stage(self, step: int) -> StageConfig:
        """The curriculum stage in force at `step`, with every field filled from the main config."""
        current = StageConfig()
        for s in sorted(self.curriculum, key=lambda s: s.start):
            if s.start <= step:
                current = s
        defaults = {
            "height": self.data.height,
            "width": self.data.width,
            "frames": self.data.frames,
            "batch": self.batch,
            "adversarial": self.loss.adversarial,
            "feature_matching": self.loss.feature_matching,
        }
        return dataclasses.replace(current, **{k: v for k, v in defaults.items() if getattr(current, k) is None})


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise UnseenError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise UnseenError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    kwargs = {}
    for name, value in data.items():
        default = getattr(cls(), name) if name in known else None
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value or {}, f"{where}.{name}")
        else:
            kwargs[name] = _checked(value, default, f"{where}.{name}")
    return cls(**kwargs)


def _checked(value: Any, default: Any, where: str) -> Any:
    """`value` if it has the type of the field's default (ints and numeric strings such as 3e-5 pass for floats); a
    clear error otherwise."""
    if default is None:  # an optional field: any value
        return value
    kinds = {bool: (bool,), int: (int,), float: (int, float), str: (str,), list: (list,), dict: (dict,), tuple: (list, tuple)}
    wanted = kinds.get(type(default))
    if wanted is None:
        return value
    if type(default) is float and isinstance(value, str):  # YAML 1.1 reads 3e-5 (no dot) as a string
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if math.isfinite(number):  # a number written so, not "nan" or "inf" (refused below, as before)
            value = number
    if isinstance(value, bool) and type(default) is not bool or not isinstance(value, wanted):
        raise UnseenError(f"{where}: expected {type(default).__name__}, got {value!r}")
    return float(value) if type(default) is float else value


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise UnseenError(f"override {key}: {p} is not a section")
    node[parts[-1]] = value


def load_train_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML config and apply `a.b=value` overrides (values parsed as YAML)."""
    import yaml

    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise UnseenError(f"{p}: no such config file")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise UnseenError(f"{p}: not valid YAML ({exc.__class__.__name__})") from None
        except UnicodeDecodeError:
            raise UnseenError(f"{p}: not a YAML text file (a training config, e.g. configs/small.yaml)") from None
    for item in overrides or []:
        if "=" not in item:
            raise UnseenError(f"override {item!r} is not of the form key=value")
        key, _, raw = item.partition("=")
        _set_dotted(data, key.strip(), yaml.safe_load(raw))
    cfg = _build(TrainConfig, data, "config")
    if isinstance(cfg.data.masks, dict):
        cfg.data.masks = _build(MaskConfig, cfg.data.masks, "config.data.masks")
    if not isinstance(cfg.curriculum, list):
        raise UnseenError("config.curriculum: expected a list of stages")
    cfg.curriculum = [_build(StageConfig, s, f"config.curriculum[{i}]") for i, s in enumerate(cfg.curriculum)]
    return cfg
