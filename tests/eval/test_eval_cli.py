"""`unseen eval` on a generated YouTube-VOS-style dataset."""

import csv

from tests.conftest import write_pngs
from unseen.cli import main
from unseen.datasets.synthetic import moving_object_scene


def test_eval_cli_writes_tables_csv_plots_and_page(tmp_path, capsys):
    for k in range(2):
        scene = moving_object_scene(8, 96, 160, seed=k)
        write_pngs(tmp_path / "data" / "JPEGImages" / f"clip{k}", scene.frames)
        write_pngs(tmp_path / "data" / "Annotations" / f"clip{k}", scene.masks)
    out, report = tmp_path / "out", tmp_path / "docs" / "RESULTS.md"
    argv = ["eval", str(tmp_path / "data"), "--methods", "telea,lastseen,memory", "--frames", "6", "--width", "160", "--height", "96"]
    assert main(argv + ["--out", str(out), "--report", str(report), "-q"]) == 0
    rows = list(csv.DictReader((out / "eval_clips.csv").open()))
    assert len(rows) == 2 * 2 * 3  # clips x mask kinds x methods
    assert "crops" not in rows[0]
    assert all(20 < float(r["psnr"]) < 100 for r in rows)
    assert {r["camera"] for r in rows} == {"static"}
    summary = list(csv.DictReader((out / "eval_summary.csv").open()))
    mem = [float(r["psnr"]) for r in summary if r["method"] == "memory" and r["masks"] == "moving" and r["camera"] == "all"][0]
    tel = [float(r["psnr"]) for r in summary if r["method"] == "telea" and r["masks"] == "moving" and r["camera"] == "all"][0]
    assert mem > tel  # a static camera with moving holes: memory recovers revealed background
    assert (out / "psnr_per_clip.png").stat().st_size > 1000 and (out / "quality_vs_speed.png").exists()
    import cv2

    for kind in ("moving", "stationary"):  # one contact sheet per mask kind and camera kind: a row per clip
        sheet = cv2.imread(str(out / f"crops_{kind}_static.jpg"))
        assert sheet.shape[0] == 18 + 2 * (16 + 150 + 4)  # header, then per clip: label, crops, gap
        assert sheet.shape[1] >= 5 * 150 * 0.5  # input, three methods, truth
    page = report.read_text()
    assert "| moving | all | memory |" in page and "../out/psnr_per_clip.png" in page
    assert main(["eval", str(tmp_path / "data"), "--methods", "memory", "--frames", "6", "--real", "--out", str(out / "real"), "-q"]) == 0
    assert len(list((out / "real" / "sheets").glob("*.jpg"))) == 2


def test_eval_cli_vfid_with_i3d_weights_from_a_path(tmp_path, capsys):
    import torch

    from unseen.eval.vfid import I3DFeatures

    for k in range(3):
        scene = moving_object_scene(8, 64, 96, seed=k)
        write_pngs(tmp_path / "data" / "JPEGImages" / f"clip{k}", scene.frames)
    torch.manual_seed(0)
    torch.save(I3DFeatures().state_dict(), tmp_path / "i3d.pt")
    out = tmp_path / "out"
    argv = ["eval", str(tmp_path / "data"), "--methods", "telea,memory", "--frames", "8", "--width", "96", "--height", "64"]
    assert main(argv + ["--vfid-i3d", str(tmp_path / "i3d.pt"), "--out", str(out), "-q"]) == 0
    summary = [r for r in csv.DictReader((out / "eval_summary.csv").open()) if r["camera"] == "all"]
    values = {(r["masks"], r["method"]): float(r["vfid"]) for r in summary}
    assert len(values) == 4 and all(v >= -1e-6 for v in values.values())
    assert any(v > 0 for v in values.values())
    assert "VFID" in capsys.readouterr().out
    rows = list(csv.DictReader((out / "eval_clips.csv").open()))
    assert "i3d_out" not in rows[0]
    assert main(argv + ["--vfid-i3d", str(tmp_path / "missing.pt"), "--out", str(out), "-q"]) == 2


def test_eval_cli_several_mask_seeds_average_their_runs(tmp_path, capsys):
    for k in range(2):
        scene = moving_object_scene(8, 64, 96, seed=k)
        write_pngs(tmp_path / "data" / "JPEGImages" / f"clip{k}", scene.frames)
        write_pngs(tmp_path / "data" / "Annotations" / f"clip{k}", scene.masks)
    argv = ["eval", str(tmp_path / "data"), "--methods", "telea", "--frames", "5", "--width", "96", "--height", "64", "-q"]
    psnr = {}
    for seed in ("1", "2", "1,2"):
        out = tmp_path / f"out{seed}"
        assert main(argv + ["--seed", seed, "--out", str(out), "--report", str(out / "R.md")]) == 0
        rows = list(csv.DictReader((out / "eval_clips.csv").open()))
        assert sorted({r["seed"] for r in rows}) == seed.split(",")
        assert len(rows) == 2 * 2 * len(seed.split(","))  # clips x mask kinds x seeds
        summary = {(r["masks"], r["camera"]): r for r in csv.DictReader((out / "eval_summary.csv").open())}
        assert summary[("stationary", "all")]["clips"] == "2"
        psnr[seed] = float(summary[("stationary", "all")]["psnr"])
        if seed == "1,2":
            assert "--seed 1,2" in (out / "R.md").read_text()
    assert psnr["1"] != psnr["2"]  # other strokes
    assert abs(psnr["1,2"] - (psnr["1"] + psnr["2"]) / 2) < 1e-9
    assert main(argv + ["--seed", "x", "--out", str(tmp_path / "bad")]) == 2
    assert "--seed 'x'" in capsys.readouterr().err


def test_eval_cli_compare_prints_the_shipping_verdict(tmp_path, capsys):
    scene = moving_object_scene(6, 64, 96, seed=0)
    write_pngs(tmp_path / "data" / "JPEGImages" / "clip0", scene.frames)
    write_pngs(tmp_path / "data" / "Annotations" / "clip0", scene.masks)
    argv = ["eval", str(tmp_path / "data"), "--methods", "telea,lastseen", "--frames", "5", "--width", "96", "--height", "64"]
    argv += ["--out", str(tmp_path / "out"), "-q"]
    assert main(argv + ["--compare", "lastseen,telea"]) == 0
    out = capsys.readouterr().out
    assert "| moving | static |" in out and "lastseen better" in out
    assert "lastseen does not beat telea on: stationary/" in out  # where nothing is ever seen lastseen is Telea
    assert main(argv + ["--compare", "lastseen,model"]) == 2
    assert "--compare 'lastseen,model'" in capsys.readouterr().err
