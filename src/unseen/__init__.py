"""unseen: online, real-time removal of objects from video.

The Python API (imported lazily: `import unseen` loads no torch):

- `unseen.remove(input, output, box=(x, y, w, h))`: one call, like `unseen remove`.
- `unseen.open_frames(path)`: frames of a video file or folder (uint8 RGB), with `.info`.
- `unseen.MaskSpec(...)` + `unseen.build_masks(spec, info)`: a mask source (mask files, a tracked box, or
  classes: person, hand, face, or COCO names with an ONNX detector); `source(frame) -> bool (H, W)` hole.
- `unseen.load_inpainter(method="model", weights="small", engine=unseen.EngineConfig(...))`: an online
  inpainter; `inpainter.stream(frames, masks)` yields inpainted frames in order, `inpainter.step(frame, hole)`
  does one.
- `unseen.run(frames, masks, inpainter, sink)`: the overlapped pipeline (decode, masks, engine, sink in threads).

See docs/API.md.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "remove": "unseen.api",
    "open_frames": "unseen.io.frames",
    "MaskSpec": "unseen.pipeline",
    "build_masks": "unseen.pipeline",
    "load_inpainter": "unseen.pipeline",
    "run": "unseen.pipeline",
    "EngineConfig": "unseen.engine.online",
    "Inpainter": "unseen.engine.inpainter",
    "UnseenError": "unseen.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    """Load the public API on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'unseen' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
