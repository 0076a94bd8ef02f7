"""`unseen batch --ray local`: the same rows as Ray tasks on a 2-CPU Ray started here, with a worker killed mid-video."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.batch.conftest import WriterKiller, decode, long_clip
from unseen.cli import main
from unseen.pipeline.removal import RemoveOptions, run_remove


@pytest.mark.slow  # starts Ray: about 50 s on this machine alone, twice that when it is busy
def test_ray_local_runs_every_row_and_redoes_a_killed_workers_video(library: Path, capsys):
    pytest.importorskip("ray")
    video, masks = long_clip(library / "in")
    for k in range(3):  # the long clip's masks are one folder; give the small clips theirs by the same {stem} rule
        shutil.move(library / "masks" / f"c{k}", library / f"c{k}-masks")
    killer = WriterKiller(library / "out", "long.mp4", timeout=240)
    killer.start()
    args = ["batch", str(library / "in"), "--out", str(library / "out"), "--masks", str(library / "{stem}-masks")]
    code = main([*args, "--method", "telea", "--crf", "0", "--ray", "local", "-q"])
    killer.join(timeout=1)
    assert killer.killed is not None, "the Ray worker finished before it could be killed"
    assert code == 0
    with (library / "out" / "summary.csv").open(newline="") as f:
        lines = {Path(r["output"]).name: r for r in csv.DictReader(f)}
    assert sorted(lines) == ["c0.mp4", "c1.mp4", "c2.mp4", "long.mp4"]
    assert (lines["long.mp4"]["status"], lines["long.mp4"]["frames"], lines["long.mp4"]["attempts"]) == ("ok", "160", "2")
    assert all(lines[f"c{k}.mp4"]["status"] == "ok" and lines[f"c{k}.mp4"]["frames"] == "12" for k in range(3))
    single = library / "single.mp4"
    run_remove(RemoveOptions(str(video), str(single), masks=str(masks), method="telea", crf=0, progress=False))
    assert np.array_equal(decode(library / "out" / "long.mp4"), decode(single))
    assert sorted(p.name for p in (library / "out").iterdir()) == ["c0.mp4", "c1.mp4", "c2.mp4", "long.mp4", "summary.csv"]
    assert "4 written, 0 already done, 0 failed" in capsys.readouterr().out


def test_ray_missing_is_one_clear_error(library: Path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    code = main(
        ["batch", str(library / "in"), "--out", str(library / "out"), "--masks", str(library / "masks" / "{stem}"), "--ray", "local"]
    )
    assert code == 2
    assert 'unseen: error: --ray needs Ray, an optional dependency: pip install "unseen[cluster]"' in capsys.readouterr().err
