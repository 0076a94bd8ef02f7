"""The public Python API: lazy import, the documented example runs, the one-liner equals the CLI."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import moving_square_clip, write_pngs

ROOT = Path(__file__).resolve().parents[2]


def test_import_unseen_loads_no_torch():
    code = "import sys, unseen; unseen.MaskSpec; unseen.remove; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute_is_an_attribute_error():
    import unseen

    with pytest.raises(AttributeError):
        unseen.does_not_exist  # noqa: B018


def test_documented_stream_example_runs():
    text = (ROOT / "docs" / "API.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    runnable = [b for b in blocks if "synthetic clip" in b]
    assert len(runnable) == 1
    exec(compile(runnable[0], "docs/API.md", "exec"), {})  # asserts inside: frame count and error in the hole


def test_remove_one_liner_matches_the_cli(tmp_path):
    import unseen
    from unseen.cli import main

    frames, masks, _ = moving_square_clip(8, 48, 64, seed=2)
    write_pngs(tmp_path / "in", frames)
    write_pngs(tmp_path / "masks", masks)
    report = unseen.remove(tmp_path / "in", tmp_path / "api", masks=tmp_path / "masks", method="memory")
    assert report.frames == 8
    assert (
        main(
            ["remove", str(tmp_path / "in"), "--masks", str(tmp_path / "masks"), "--method", "memory", "--out", str(tmp_path / "cli"), "-q"]
        )
        == 0
    )
    a = sorted((tmp_path / "api").iterdir())
    b = sorted((tmp_path / "cli").iterdir())
    assert [p.name for p in a] == [p.name for p in b] and all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))


def test_remove_rejects_unknown_options(tmp_path):
    import unseen

    with pytest.raises(unseen.UnseenError, match="unknown option"):
        unseen.remove(tmp_path / "in.mp4", tmp_path / "out.mp4", box=(1, 2, 3, 4), colour="red")


def test_mask_spec_needs_exactly_one_source():
    import unseen
    from unseen.io.frames import SourceInfo

    info = SourceInfo(width=64, height=48, fps=25.0, frame_count=8)
    with pytest.raises(unseen.UnseenError, match="exactly one"):
        unseen.build_masks(unseen.MaskSpec(), info)
    with pytest.raises(unseen.UnseenError, match="--at 9"):
        unseen.build_masks(unseen.MaskSpec(box=(4, 4, 10, 10), at=9), info)
    source = unseen.build_masks(unseen.MaskSpec(box=(4, 4, 10, 10)), info)
    hole = source(np.zeros((48, 64, 3), np.uint8))
    assert hole.shape == (48, 64) and hole[9, 9]
