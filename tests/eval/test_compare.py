"""The shipping comparison: NEW beats OLD only with higher PSNR, SSIM no lower and E_warp no higher on every row."""

from unseen.eval.report import compare_rows, comparison_table
from unseen.eval.run import EvalRow


def _row(clip, camera, masks, method, seed, psnr, ssim, ewarp):
    return EvalRow(clip, camera, masks, method, seed, psnr, ssim, float("nan"), ewarp, 0.0, 10.0)


def _rows(new_ssim_static: float) -> list[EvalRow]:
    rows = []
    for seed, bump in ((0, 0.2), (1, -0.1)):  # NEW's PSNR gain averages +0.05 over the seeds
        rows += [
            _row("a", "static", "moving", "old", seed, 40.0, 0.9800, 2.0),
            _row("a", "static", "moving", "new", seed, 40.0 + bump, new_ssim_static, 2.0),
            _row("b", "moving", "moving", "old", seed, 30.0, 0.9500, 4.0),
            _row("b", "moving", "moving", "new", seed, 30.1, 0.9510, 3.9),
        ]
    return rows


def test_new_beats_old_on_every_row():
    compared = compare_rows(_rows(0.9800), "new", "old")
    assert {(r["masks"], r["camera"]) for r in compared} == {("moving", "static"), ("moving", "moving"), ("moving", "all")}
    static = next(r for r in compared if r["camera"] == "static")
    assert abs(static["new"]["psnr"] - 40.05) < 1e-9 and static["better"]
    assert all(r["better"] for r in compared)
    assert comparison_table(_rows(0.9800), "new", "old").endswith("new beats old on every row.")


def test_lower_ssim_on_one_row_fails_the_rule():
    compared = {r["camera"]: r["better"] for r in compare_rows(_rows(0.9799), "new", "old")}
    assert compared == {"static": False, "moving": True, "all": True}
    table = comparison_table(_rows(0.9799), "new", "old")
    assert table.endswith("new does not beat old on: moving/static.")
    assert "| moving | static | 40.05 / 0.9799 / 2.000 | 40.00 / 0.9800 / 2.000 | +0.050 | -0.00010 | +0.0000 | **no** |" in table
    assert comparison_table(_rows(0.98), "new", "other").endswith("no row has both new and other.")
