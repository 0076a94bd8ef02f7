"""Reports of `unseen eval`: CSV, Markdown tables, plots, and the results page."""

from __future__ import annotations

import csv
import math
import os
import platform
from pathlib import Path

from unseen.eval.run import EvalConfig, EvalRow, aggregate, crop_sheets, mean_over_seeds, rows_as_dicts

# Published figures, as printed in the papers' own tables (DAVIS / YouTube-VOS, 432x240, E2FGVI's masks, offline,
# GPU). Quoted for context only: the ProPainter YouTube-VOS row was cross-checked against a second public source;
# the rest are transcribed from the papers' comparison tables and should be checked there before being cited.
PUBLISHED = [
    # method, YT PSNR, YT SSIM, YT VFID, DAVIS PSNR, DAVIS SSIM, DAVIS VFID, online?
    ("STTN (ECCV 2020)", 32.34, 0.9655, 0.053, 30.67, 0.9560, 0.149, "offline"),
    ("DSTT (AAAI 2021)", 32.66, 0.9646, 0.052, 31.75, 0.9655, 0.148, "offline"),
    ("FuseFormer (ICCV 2021)", 33.29, 0.9681, 0.053, 32.54, 0.9700, 0.138, "offline"),
    ("E2FGVI (CVPR 2022)", 33.71, 0.9700, 0.046, 33.01, 0.9721, 0.116, "offline"),
    ("ProPainter (ICCV 2023)", 34.43, 0.9735, 0.042, 34.47, 0.9776, 0.098, "offline"),
]


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Rows (dicts with the same keys) to CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def aggregate_table(rows: list[EvalRow]) -> str:
    """Markdown: mean metrics per mask kind, camera and method."""
    lines = [
        "| masks | camera | method | clips | PSNR | SSIM (65) | LPIPS | VFID | E_warp x1e3 | hole flicker | fps |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for a in aggregate(rows):
        lines.append(
            f"| {a['masks']} | {a['camera']} | {a['method']} | {a['clips']} | {_fmt(a['psnr'])} | {_fmt(a['ssim'], 4)} | {_fmt(a['lpips'], 4)} | "
            f"{_fmt(a['vfid'], 3)} | {_fmt(a['ewarp'], 3)} | {_fmt(a['flicker'])} | {_fmt(a['fps'], 1)} |"
        )
    return "\n".join(lines)


def compare_rows(rows: list[EvalRow], new: str, old: str) -> list[dict]:
    """Per (masks, camera) row of the aggregate: NEW's and OLD's PSNR, SSIM and E_warp, and whether NEW beats OLD
    there (higher PSNR, SSIM no lower, E_warp no higher)."""
    agg = {(a["masks"], a["camera"], a["method"]): a for a in aggregate(rows)}
    out = []
    for masks, camera in dict.fromkeys((m, c) for m, c, _ in agg):
        a, b = agg.get((masks, camera, new)), agg.get((masks, camera, old))
        if a is None or b is None:
            continue
        better = a["psnr"] > b["psnr"] and a["ssim"] >= b["ssim"] and a["ewarp"] <= b["ewarp"]
        out.append({"masks": masks, "camera": camera, "new": a, "old": b, "better": better})
    return out


def comparison_table(rows: list[EvalRow], new: str, old: str) -> str:
    """Markdown: NEW against OLD per row (PSNR / SSIM / E_warp x1e3 and the differences) and the verdict."""
    lines = [
        f"| masks | camera | {new} | {old} | PSNR diff | SSIM diff | E_warp diff | {new} better |",
        "|---|---|---|---|---:|---:|---:|---|",
    ]
    compared = compare_rows(rows, new, old)
    for r in compared:
        a, b = r["new"], r["old"]
        lines.append(
            f"| {r['masks']} | {r['camera']} | {a['psnr']:.2f} / {a['ssim']:.4f} / {a['ewarp']:.3f} | "
            f"{b['psnr']:.2f} / {b['ssim']:.4f} / {b['ewarp']:.3f} | {a['psnr'] - b['psnr']:+.3f} | "
            f"{a['ssim'] - b['ssim']:+.5f} | {a['ewarp'] - b['ewarp']:+.4f} | {'yes' if r['better'] else '**no**'} |"
        )
    failing = [f"{r['masks']}/{r['camera']}" for r in compared if not r["better"]]
    if not compared:
        verdict = f"no row has both {new} and {old}"
    elif failing:
        verdict = f"{new} does not beat {old} on: " + ", ".join(failing)
    else:
        verdict = f"{new} beats {old} on every row"
    return "\n".join(lines) + "\n\n" + verdict + "."


def clip_table(rows: list[EvalRow]) -> str:
    """Markdown: PSNR per clip (rows) and method (columns), per mask kind (averaged over mask seeds)."""
    rows = mean_over_seeds(rows)
    methods = list(dict.fromkeys(r.method for r in rows))
    lines = ["| clip | camera | masks | " + " | ".join(methods) + " |", "|---|---|---|" + "---:|" * len(methods)]
    keys = list(dict.fromkeys((r.clip, r.camera, r.masks) for r in rows))
    for clip, camera, masks in keys:
        vals = {r.method: r.psnr for r in rows if (r.clip, r.camera, r.masks) == (clip, camera, masks)}
        lines.append(f"| {clip} | {camera} | {masks} | " + " | ".join(_fmt(vals.get(m, float("nan"))) for m in methods) + " |")
    return "\n".join(lines)


def plot_psnr_per_clip(rows: list[EvalRow], path: Path) -> Path:
    """Grouped bars: PSNR per clip and mask kind, one bar per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = mean_over_seeds(rows)
    methods = list(dict.fromkeys(r.method for r in rows))
    keys = list(dict.fromkeys((r.clip, r.masks) for r in rows))
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(keys) + 2), 4))
    width = 0.8 / max(1, len(methods))
    for i, m in enumerate(methods):
        vals = [next((r.psnr for r in rows if (r.clip, r.masks) == k and r.method == m), np.nan) for k in keys]
        ax.bar(np.arange(len(keys)) + i * width, vals, width, label=m)
    ax.set_xticks(np.arange(len(keys)) + width * (len(methods) - 1) / 2)
    ax.set_xticklabels([f"{c}\n{k}" for c, k in keys], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("PSNR (dB)")
    finite = [r.psnr for r in rows if not math.isnan(r.psnr)]
    if finite:
        ax.set_ylim(min(finite) - 2, max(finite) + 1)
    ax.legend()
    ax.set_title("PSNR per clip (online, synthetic masks)")
    return _save(fig, path)


def plot_quality_vs_speed(rows: list[EvalRow], path: Path) -> Path:
    """Scatter: mean PSNR against mean fps, one point per method (all clips and masks)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for a in (a for a in aggregate(rows) if a["camera"] == "all"):
        ax.scatter(a["fps"], a["psnr"], s=40)
        ax.annotate(f"{a['method']} ({a['masks']})", (a["fps"], a["psnr"]), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("frames per second (this CPU, incl. the method's own pre/post-processing)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("Quality vs speed")
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def published_table() -> str:
    """Markdown: the published numbers beside which ours are placed."""
    lines = [
        "| method | YouTube-VOS PSNR | SSIM | VFID | DAVIS PSNR | SSIM | VFID | mode |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, yp, ys, yv, dp, ds, dv, mode in PUBLISHED:
        lines.append(f"| {name} | {yp:.2f} | {ys:.4f} | {yv:.3f} | {dp:.2f} | {ds:.4f} | {dv:.3f} | {mode}, GPU |")
    return "\n".join(lines)


def machine_description() -> str:
    """Where the numbers were measured: architecture, cores and the accelerator torch sees (if any)."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} cores, {gpu}"


def write_reports(rows: list[EvalRow], config: EvalConfig, data: str, out_dir: Path, report: Path | None) -> list[Path]:
    """CSV (per clip and aggregate), plots, and optionally the Markdown results page."""
    sheets = crop_sheets(rows, out_dir)
    written = [
        write_csv(out_dir / "eval_clips.csv", rows_as_dicts(rows)),
        write_csv(out_dir / "eval_summary.csv", aggregate(rows)),
        plot_psnr_per_clip(rows, out_dir / "psnr_per_clip.png"),
        plot_quality_vs_speed(rows, out_dir / "quality_vs_speed.png"),
        *sheets,
    ]
    if report is not None:
        columns = " | ".join(["input", *dict.fromkeys(r.method for r in rows), "truth"])
        crops = "\n\n".join(
            f"### {p.stem.split('_')[1]} masks, {p.stem.split('_')[2]} camera\n\n"
            f"![{p.stem}]({Path(os.path.relpath(p, report.parent)).as_posix()})"
            for p in sheets
        )
        seeds = f" --seed {','.join(map(str, config.seeds))}" if config.seeds != (0,) else ""
        text = RESULTS_TEMPLATE.format(
            command=f"unseen eval {data} --methods {','.join(config.methods)} --frames {config.frames}{seeds} --out {out_dir} --report {report}",
            machine=machine_description(),
            size=f"{config.width}x{config.height}",
            data=data,
            n_clips=len({r.clip for r in rows}),
            seeds=", ".join(map(str, config.seeds)),
            frames=config.frames,
            aggregate=aggregate_table(rows),
            clips=clip_table(rows),
            published=published_table(),
            psnr_plot=Path(os.path.relpath(out_dir / "psnr_per_clip.png", report.parent)).as_posix(),
            speed_plot=Path(os.path.relpath(out_dir / "quality_vs_speed.png", report.parent)).as_posix(),
            crops=f"Each row: one clip, three quarters into it, cropped around the hole: {columns}.\n\n{crops}" if sheets else "",
        )
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text)
        written.append(report)
    return written


RESULTS_TEMPLATE = """# Results

Generated by `{command}` on {machine}. Every number on this page comes from that command; rerun it to
regenerate the page.

## Protocol

- Clips from the data folder, at most {frames} frames each, resized to {size}.
- Synthetic masks with known ground truth, reproducible from a seed: **stationary** free-form strokes (the
  FuseFormer/E2FGVI kind) and **moving** object silhouettes (shapes from the clips' `Annotations/`), dilated
  with a 3x3 cross, 4 iterations. Pixels under the hole are overwritten before a method sees a frame.
  Mask seeds: {seeds}; with several, every number is the mean over them (one stroke or silhouette path per clip
  is a small sample: per-clip stationary rows move by up to 0.4 dB from one seed to the next).
- **Online**: every method sees frame t only after frames 0..t-1 and never a later one.
- Methods: `telea` (OpenCV per frame); `lastseen` (each pixel keeps its last unmasked value, no motion model,
  Telea where never seen: the trivial memory every other method must beat); `memory` (the engine's classical
  guide without the network: a still camera's memory that is never moved, flow-guided propagation when the
  camera moves, Telea where confidence is low); `model` (the network on top of that guide).
- PSNR and SSIM (65-pixel window, as the published protocol) on the full composited frame, averaged over
  frames; E_warp: flow warping error (x1e3) with OpenCV's DIS flow and a forward-backward occlusion check
  (published numbers used FlowNet2: compare trends, not digits); hole flicker: mean |change of the output -
  change of the truth| inside the hole, in grey levels. LPIPS (AlexNet) is computed when its weights are given
  by path (`--lpips-alexnet`, `--lpips-linear`), VFID when Inception-I3D weights are (`--vfid-i3d`,
  pytorch-i3d's `rgb_imagenet.pt`, as FuseFormer/E2FGVI/ProPainter use: Mixed_5c features averaged over
  space-time, one per video, Fréchet distance between the real and the inpainted sets of a row). None can be
  downloaded here, so a "-" means the weights were not given. With few clips VFID is noisy: the published
  figures use 50 (DAVIS) or 508 (YouTube-VOS) videos.
- camera: `static` when the median global motion between frames is under half a pixel.
- fps: this machine's CPU, including each method's own pre- and post-processing.

## Aggregate

{aggregate}

## PSNR per clip

{clips}

![PSNR per clip]({psnr_plot})

![Quality vs speed]({speed_plot})

## Crops around the hole

{crops}

## Beside published methods

{published}

The protocols differ and the rows are not directly comparable: the published methods are **offline**
(they see future frames), run on a **GPU**, were trained for days on the full YouTube-VOS training set
(3,471 videos) and are scored on the full DAVIS (50 clips) / YouTube-VOS (508 clips) test sets with
E2FGVI's fixed masks. unseen runs **online** (past frames only) on {machine}, was trained for hours on
a small clip set (see its model card), and is scored here on `{data}` ({n_clips} clips) with
its own seeded masks. Thiry et al. 2024 ("Towards Online Real-Time Memory-based Video Inpainting
Transformers") report online variants of such models at over 20 fps on a GPU with some loss in quality
against their offline versions; this is the setting unseen targets, on a CPU. Published figures are
transcribed from the papers' comparison tables (ProPainter's YouTube-VOS row cross-checked against a
second public source); check the papers before citing them.
"""
