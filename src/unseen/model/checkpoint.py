"""Generator weights in safetensors, with the model config in the file's metadata."""

from __future__ import annotations

import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from unseen.errors import UnseenError
from unseen.model.config import PRESETS, ModelConfig

if TYPE_CHECKING:  # torch is imported only when a generator is built (engine/graph.py starts without it)
    from unseen.model.generator import InpaintGenerator

CONFIG_KEY = "unseen.config"


def shipped_weights_path(preset: str) -> Path:
    """Where the package keeps the shipped weights of a preset (the file may be absent)."""
    return Path(str(resources.files("unseen") / "weights" / f"{preset}.safetensors"))


def save_generator(model: InpaintGenerator, path: str | Path, extra: dict[str, str] | None = None) -> Path:
    """Write the generator's weights (fp32 unless already otherwise) and config, atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {CONFIG_KEY: model.config.to_json(), **(extra or {})}
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The metadata dict stored in a safetensors file."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        return dict(f.metadata() or {})


def resolve_weights(name_or_path: str | Path) -> Path:
    """The weights file of a preset name (shipped weights) or a .safetensors path; a clear error when absent."""
    text = str(name_or_path)
    if text in PRESETS:
        path = shipped_weights_path(text)
        if not path.exists():
            raise UnseenError(f"no shipped weights for preset {text!r} (expected {path}); give a .safetensors path")
        return path
    path = Path(text)
    if not path.exists():
        raise UnseenError(f"{path}: no such weights file")
    return path


def load_generator(name_or_path: str | Path, device: str = "cpu") -> InpaintGenerator:
    """Load a generator from a preset name (shipped weights) or a .safetensors path, in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from unseen.model.generator import InpaintGenerator

    path = resolve_weights(name_or_path)
    try:
        meta = read_metadata(path)
        tensors = load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise UnseenError(f"{path}: not a readable safetensors file ({exc})") from None
    if CONFIG_KEY not in meta:
        raise UnseenError(f"{path}: no model config in the file's metadata; was it written by unseen?")
    config = ModelConfig.from_json(meta[CONFIG_KEY])
    model = InpaintGenerator(config)
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    wrong = sorted(k for k in set(own) & set(tensors) if own[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        detail = []
        if missing:
            detail.append(f"missing {missing[:3]}")
        if unexpected:
            detail.append(f"unexpected {unexpected[:3]}")
        if wrong:
            detail.append(f"wrong shape {wrong[:3]}")
        raise UnseenError(f"{path}: weights do not match config {config.name!r}: " + "; ".join(detail))
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()})
    return model.eval().to(device)
