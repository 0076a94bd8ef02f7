"""The `unseen` command: subcommands parse their arguments and call into the package."""

from __future__ import annotations

import argparse
import errno
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

from unseen.errors import Terminated, UnseenError, interrupt_in


def _cmd_remove(args: argparse.Namespace) -> int:
    from unseen.pipeline.removal import RemoveOptions, run_remove

    opts = RemoveOptions(
        input=args.input,
        out=args.out,
        method=args.method,
        weights=args.weights,
        overwrite=args.overwrite,
        progress=not args.quiet,
        crf=args.crf,
        delay=args.delay,
        backend=args.backend,
        threads=args.threads,
        allow_short=args.allow_short,
        **_mask_options(args),
    )
    run_remove(opts)
    return 0


def _cmd_masks(args: argparse.Namespace) -> int:
    from unseen.masks.preview import run_masks_preview
    from unseen.pipeline.removal import RemoveOptions

    opts = RemoveOptions(
        input=args.input,
        out=args.out,
        overwrite=args.overwrite,
        progress=not args.quiet,
        allow_short=args.allow_short,
        **_mask_options(args),
    )
    run_masks_preview(opts)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from unseen.pipeline.demo import run_demo

    run_demo(args.out, method=args.method, frames=args.frames, overwrite=args.overwrite, progress=not args.quiet)
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from unseen.bench.models import print_presets, time_step

    _check_frame_size(args.width, args.height)
    print_presets(args.height, args.width)
    if args.time:
        backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
        known = ("eager-fp32", "eager-bf16", "compile-bf16", "onnx", "openvino-bf16", "openvino-fp32")
        unknown = set(backends) - set(known)
        if unknown:
            raise UnseenError(f"unknown backends {sorted(unknown)}; choose from {', '.join(known)}")
        time_step(args.weights, args.height, args.width, backends)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from unseen.train.config import load_train_config
    from unseen.train.trainer import train

    config = load_train_config(args.config, args.overrides)
    out = train(config, progress=not args.quiet)
    print(f"weights: {out / 'generator.safetensors'}")
    return 0


def _cmd_live(args: argparse.Namespace) -> int:
    from unseen.server.app import LiveConfig
    from unseen.server.headless import run_headless, run_server

    if args.source:
        if not args.out:
            raise UnseenError("--source needs --out (a file or a stream URL)")
        run_headless(args, not args.quiet)
        return 0
    if not 1 <= args.port <= 65535:
        raise UnseenError("--port must be between 1 and 65535")
    if args.remove:
        raise UnseenError("in the browser, pick the class in the page; --remove is for headless --source runs")
    config = LiveConfig(
        method=args.method, weights=args.weights, allowed_origins=args.allow_origin or [], detector=args.detector,
        backend=args.backend, threads=args.threads,
    )  # fmt: skip
    run_server(args.host, args.port, config)
    return 0


def _seeds(text: str) -> tuple[int, ...]:
    """'0,1,2' -> (0, 1, 2): distinct non-negative mask seeds."""
    try:
        seeds = tuple(dict.fromkeys(int(s) for s in text.split(",") if s.strip()))
    except ValueError:
        raise UnseenError(f"--seed {text!r}: give a whole number or a comma-separated list (0,1,2)") from None
    if not seeds or min(seeds) < 0:
        raise UnseenError(f"--seed {text!r}: give non-negative whole numbers")
    return seeds


def _cmd_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from unseen.eval.report import aggregate_table, comparison_table, write_reports
    from unseen.eval.run import EvalConfig, evaluate, method_name

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not Path(args.data).is_dir():
        raise UnseenError(f"{args.data}: no such folder (give a DAVIS/YouTube-VOS-style folder, a folder of videos or of frame folders)")
    if args.frames < 2:
        raise UnseenError("--frames must be at least 2")
    _check_frame_size(args.width, args.height)
    config = EvalConfig(
        methods=methods, weights=args.weights, width=args.width, height=args.height, frames=args.frames,
        max_clips=args.max_clips, seeds=_seeds(args.seed), ssim_default_window=args.ssim7, real=args.real,
        lpips=(args.lpips_alexnet, args.lpips_linear) if args.lpips_alexnet or args.lpips_linear else None,
        i3d=args.vfid_i3d,
    )  # fmt: skip
    if config.lpips and not all(config.lpips):
        raise UnseenError("LPIPS needs both --lpips-alexnet and --lpips-linear")
    compare = None
    if args.compare:
        if args.real:
            raise UnseenError("--compare needs the synthetic masks' truth: it cannot be used with --real")
        compare = tuple(m.strip() for m in args.compare.split(","))
        names = [method_name(m) for m in methods]
        if len(compare) != 2 or len(set(compare)) != 2 or not set(compare) <= set(names):
            raise UnseenError(f"--compare {args.compare!r}: give two different methods of this run as NEW,OLD (one of {', '.join(names)})")
    out = Path(args.out)
    rows = evaluate(args.data, config, progress=not args.quiet, sheets=out / "sheets" if args.real else None)
    print(aggregate_table(rows))
    if compare is not None:
        print(comparison_table(rows, *compare))
    written = write_reports(rows, config, args.data, out, Path(args.report) if args.report else None)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "speed":
        from unseen.bench.speed import run_speed_bench

        if min(args.frames, args.naive_frames, args.hd_frames) < 1 or min(args.warmup, args.soak, args.threads) < 0:
            raise UnseenError("--frames, --naive-frames and --hd-frames must be 1 or more; --warmup, --soak and --threads 0 or more")

        backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
        if args.load < 0:
            raise UnseenError("--load must be 0 or more busy processes")
        run_speed_bench(
            args.frames,
            args.warmup,
            args.naive_frames,
            backends,
            args.weights,
            args.hd_frames,
            args.soak,
            args.threads,
            args.load,
            args.data,
            rows=tuple(r.strip() for r in args.rows.split(";") if r.strip()) if args.rows else (),
        )
    else:
        from unseen.bench.live import run_live_bench

        try:
            clients = tuple(int(c) for c in args.clients.split(","))
        except ValueError:
            raise UnseenError(f"--clients {args.clients!r}: expected client counts like 1,2,4") from None
        if not clients or min(clients) < 1 or not args.seconds > 0:
            raise UnseenError("--clients must be 1 or more each, and --seconds more than 0")
        run_live_bench(clients=clients, seconds=args.seconds, weights=args.weights, browser=not args.no_browser, clip=args.clip)
    return 0


OVERWRITE_HELP = "replace --out if it is unseen's own output (a video file, or a folder of nothing but its PNG frames)"
ALLOW_SHORT_HELP = "accept a truncated input (it ends before the frames it lists) with a warning, instead of an error"


def _check_frame_size(width: int, height: int) -> None:
    """--width/--height of models and eval: a frame size the network can run at."""
    if not (8 <= width <= 8192 and 8 <= height <= 8192):
        raise UnseenError(f"--width {width} --height {height}: each must be between 8 and 8192 pixels")


def _add_mask_args(p: argparse.ArgumentParser) -> None:
    """Where the holes come from: mask files, a tracked box, or a detector with class names; and their hygiene."""
    which = p.add_mutually_exclusive_group()  # the usage line shows that these exclude each other
    which.add_argument("--masks", help="mask folder (PNG per frame), one PNG for all frames, or a mask video")
    which.add_argument(
        "--box",
        help="x,y,w,h box around the object on frame --at; it is segmented and tracked; a box past the frame's edge is cut to it (--box=-4,0,50,60 or --box -4,0,50,60)",
    )
    which.add_argument("--remove", help="person, hand, face (bundled models), or COCO class names with --detector, e.g. bottle,cup")
    p.add_argument(
        "--at",
        type=int,
        default=0,
        help="frame index the --box refers to (default 0); the frames before it pass through unchanged (the tracker only "
        "goes forward, as on a live stream)",
    )
    p.add_argument("--detector", help="RTMDet-Ins (mmdeploy) or YOLO-seg (ultralytics) .onnx model")
    p.add_argument(
        "--detector-kind",
        default="auto",
        choices=["auto", "rtmdet", "yolo"],
        help="the --detector's output layout (default auto: from its outputs)",
    )
    p.add_argument("--score", type=float, default=0.3, help="detector score threshold (default 0.3)")
    p.add_argument("--min-area", type=int, default=0, help="ignore hole components smaller than N pixels")
    p.add_argument("--hold", type=int, default=0, help="keep pixels in the hole N frames after last seen (default 3 with --detector)")
    p.add_argument("--dilate", type=int, default=None, help="grow holes by N pixels (3x3 cross); default 4, or 2 with --box")
    p.add_argument("--fps", type=float, default=None, help="frame rate for frame-folder input (default 25)")


def _add_engine_args(p: argparse.ArgumentParser) -> None:
    """How the model runs."""
    p.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "eager", "compile", "onnx", "openvino"],
        help="model backend (default auto: the fastest installed one that passes a self-check: OpenVINO, else torch eager; on CPUs without native bf16: ONNX Runtime, OpenVINO fp32, eager fp32)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="intra-op threads for the model (default 0: one, which keeps its speed when other programs use the CPU; "
        "more threads help only on an idle machine and can be 20x slower on a busy one)",
    )


def _mask_options(args: argparse.Namespace) -> dict:
    return {
        k: getattr(args, k)
        for k in ("masks", "box", "at", "remove", "detector", "detector_kind", "score", "min_area", "hold", "dilate", "fps")
    }


class _Parser(argparse.ArgumentParser):
    """argparse with unseen's one-line errors: `unseen: error: ...`, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"unseen: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = _Parser(prog="unseen", description="Remove objects from video, online and in real time.")
    from unseen import __version__

    parser.add_argument("--version", action="version", version=f"unseen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "remove",
        help="remove masked objects from a video file or frame folder",
        epilog="A frame whose hole covers more than 80% of it has too little left to fill from: it is passed through "
        "unchanged, with a warning naming the frames.",
    )
    p.add_argument("input", help="video file (mp4, mkv, mov, avi, webm, h264, h265) or folder of frames")
    p.add_argument("--out", required=True, help="output .mp4/.mkv/.mov (H.264), or a folder for PNG frames")
    _add_mask_args(p)
    p.add_argument("--method", default="model", help="inpainter: model (default), memory or telea")
    p.add_argument("--weights", default="small", help="model weights: preset name (shipped) or .safetensors path")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality for video output (0 = lossless, default 18)")
    p.add_argument("--delay", type=int, default=0, help="let the model batch K+1 frames, K frames behind (default 0: none)")
    _add_engine_args(p)
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--allow-short", action="store_true", help=ALLOW_SHORT_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_remove)

    p = sub.add_parser("masks", help="preview masks: write the video with the masks drawn over it")
    p.add_argument("input", help="video file (mp4, mkv, mov, avi, webm, h264, h265) or folder of frames")
    p.add_argument("--out", required=True, help="output .mp4/.mkv/.mov, or a folder for PNG frames")
    _add_mask_args(p)
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--allow-short", action="store_true", help=ALLOW_SHORT_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_masks)

    p = sub.add_parser("demo", help="built-in demo: remove a moving object from a clip made from a real photo")
    p.add_argument("--out", default="unseen-demo.mp4", help="side-by-side video to write (default unseen-demo.mp4)")
    p.add_argument("--method", default="model", help="inpainter (default model)")
    p.add_argument("--frames", type=int, default=90, help="clip length (default 90)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("models", help="list model presets with parameter counts and GFLOPs per frame")
    p.add_argument("--height", type=int, default=288, help="frame height in pixels for the GFLOPs and timings (default 288)")
    p.add_argument("--width", type=int, default=480, help="frame width in pixels for the GFLOPs and timings (default 480)")
    p.add_argument("--time", action="store_true", help="also measure CPU time per frame of --weights for each backend")
    p.add_argument("--weights", default="small", help="weights to time (preset or path)")
    p.add_argument(
        "--backends", default="eager-fp32,eager-bf16,onnx", help="eager-fp32, eager-bf16, compile-bf16, onnx, openvino-bf16, openvino-fp32"
    )
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("train", help="train a generator (self-supervised) from a YAML config")
    p.add_argument("config", nargs="?", help="YAML config (see configs/small.yaml)")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. steps=1000 data.roots=[data/train]")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("live", help="live removal: a browser page with your webcam, or a headless stream pipeline")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--method", default="model", help="inpainter: model (default), memory or telea")
    p.add_argument("--weights", default="small", help="model weights: preset name or .safetensors path")
    p.add_argument("--allow-origin", action="append", help="also accept WebSocket connections from this origin (repeatable)")
    _add_engine_args(p)
    p.add_argument("--source", help="headless: a video file, capture device (/dev/video0) or stream URL (rtsp://...)")
    p.add_argument("--out", help="headless: output file or stream URL (rtsp://, rtmp://, udp://)")
    p.add_argument("--box", help="headless: x,y,w,h of the object on the first frame")
    p.add_argument("--masks", help="headless: mask files instead of --box")
    p.add_argument("--detector", help="RTMDet-Ins / YOLO-seg .onnx: the page offers COCO classes to remove (headless: with --remove)")
    p.add_argument("--remove", help="headless: person, hand, face; or COCO class names with --detector")
    p.add_argument("--overwrite", action="store_true", help="headless: replace --out if it exists")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_live)

    p = sub.add_parser("eval", help="quality (PSNR/SSIM/E_warp/flicker) and speed of methods on a dataset, with reports")
    p.add_argument("data", help="YouTube-VOS/DAVIS-style folder (JPEGImages/), folder of videos, or frame folders")
    p.add_argument("--methods", default="telea,memory,model", help="comma-separated: telea, memory, model, or .safetensors paths")
    p.add_argument("--weights", default="small", help="weights for `model` (preset or path)")
    p.add_argument("--frames", type=int, default=40, help="at most this many frames per clip (default 40)")
    p.add_argument("--width", type=int, default=432, help="clips are resized to this width in pixels (default 432)")
    p.add_argument("--height", type=int, default=240, help="clips are resized to this height in pixels (default 240)")
    p.add_argument("--max-clips", type=int, default=0, help="only the first N clips (default all)")
    p.add_argument("--seed", default="0", help="mask seed, or several (0,1,2): every number is then their mean (default 0)")
    p.add_argument("--ssim7", action="store_true", help="also SSIM with the default 7-pixel window")
    p.add_argument("--lpips-alexnet", help="LPIPS: torchvision AlexNet state dict (.pth), read from this path")
    p.add_argument("--lpips-linear", help="LPIPS: the v0.1 AlexNet linear layers (alex.pth of the lpips package)")
    p.add_argument("--vfid-i3d", help="VFID: pytorch-i3d weights (rgb_imagenet.pt), read from this path")
    p.add_argument("--real", action="store_true", help="real-object mode: the clips' annotations as holes, stability only, contact sheets")
    p.add_argument("--out", default="eval-out", help="folder for CSVs, plots and contact sheets (default eval-out)")
    p.add_argument("--report", help="also write the Markdown results page here (e.g. docs/RESULTS.md)")
    p.add_argument(
        "--compare", metavar="NEW,OLD",
        help="two of the methods (as named in the tables, e.g. small-v2,model): per row the differences, and whether NEW "
        "beats OLD on every row (higher PSNR, SSIM no lower, E_warp no higher), the rule for shipping weights",
    )  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("bench", help="benchmarks that print figures: speed (engine vs baselines) or live (server round trip)")
    p.add_argument("what", choices=["speed", "live"], help="speed: every method in one run; live: the server's round trip")
    p.add_argument("--weights", default="small", help="model weights (preset or path)")
    p.add_argument("--frames", type=int, default=1000, help="speed: timed frames per method (default 1000)")
    p.add_argument("--warmup", type=int, default=30, help="speed: untimed frames first (default 30)")
    p.add_argument("--naive-frames", type=int, default=60, help="speed: timed frames for the slow naive model (default 60)")
    p.add_argument("--hd-frames", type=int, default=200, help="speed: timed frames at 1280x720 (default 200)")
    p.add_argument(
        "--backends",
        default="eager,onnx,openvino",
        help="speed: engine backends to measure (eager, compile, onnx, openvino; missing ones are skipped)",
    )
    p.add_argument("--load", type=int, default=0, help="speed: also measure every row beside N busy-loop processes (other work on the CPU)")
    p.add_argument("--data", default=None, help="speed: shared data folder (val/JPEGImages, val/Annotations): adds rows on a real clip")
    p.add_argument("--soak", type=int, default=0, help="speed: also run the engine this many frames and compare RSS (e.g. 5000)")
    p.add_argument("--threads", type=int, default=0, help="model intra-op threads (default 0: one)")
    p.add_argument(
        "--rows",
        default=None,
        help="speed: only the rows whose name contains one of these ';'-separated texts (e.g. 'telea;openvino, network every frame')",
    )
    p.add_argument("--clients", default="1,2,4", help="live: simulated client counts (default 1,2,4)")
    p.add_argument("--seconds", type=float, default=10.0, help="live: seconds per client count (default 10)")
    p.add_argument("--no-browser", action="store_true", help="live: skip the real-browser measurement")
    p.add_argument("--clip", help="live: a real video (e.g. ../shared/data/val/videos/vtest.avi); a textured object moves over it")
    p.set_defaults(func=_cmd_bench)

    from unseen.batch.command import run_batch_command

    p = sub.add_parser("batch", help="remove objects from many videos: local worker processes or a Ray cluster (docs/SCALING.md)")
    p.add_argument("inputs", help="folder of videos / frame folders, or a manifest (.csv / .jsonl: input, output, masks, box, ...)")
    p.add_argument("--out", required=True, help="folder for the outputs (NAME.mp4 unless a row says otherwise) and summary.csv")
    _add_mask_args(p)  # defaults for every row; {stem} and {name} in --masks become each input's name
    p.add_argument("--method", default=None, help="inpainter for every row: model (default), memory or telea")
    p.add_argument("--weights", default=None, help="model weights: preset name or .safetensors path (default small)")
    p.add_argument("--crf", type=int, default=None, help="H.264 quality (default 18)")
    p.add_argument("--delay", type=int, default=None, help="model batching delay in frames (default 0)")
    p.add_argument("--backend", default=None, help="model backend for every row (default: as unseen remove)")
    p.add_argument("--workers", type=int, default=0, help="local worker processes (default: usable cores / --threads)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    p.add_argument("--ray", metavar="ADDRESS", help="run on a Ray cluster (ray://host:10001, auto) or `local` (start one here)")
    p.add_argument("--force", action="store_true", help="redo rows whose output is already there")
    p.add_argument("--retries", type=int, default=2, help="run a row again this many times when its worker dies (default 2)")
    p.add_argument("--max-rss-mb", type=float, default=4096, help="replace a local worker that ends a video above this memory")
    p.add_argument("--summary", help="summary CSV (default OUT/summary.csv); appended to, so a re-run resumes")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_batch_command)
    return parser


# errors of the machine around unseen (a full disk, a read-only or vanished drive), not bugs: one line, exit 2
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM}


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


@contextmanager
def _terminate_like_interrupt() -> Iterator[None]:
    """SIGTERM (plain `kill`) and SIGHUP unwind like Ctrl-C, so every temporary output is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:  # leave nohup's SIG_IGN alone
            previous[signum] = signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _join_dash_values(argv: Sequence[str]) -> list[str]:
    """`--box -10,0,50,50` -> `--box=-10,0,50,50`: argparse would take a value starting with '-' for an option."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        value = next(args, None) if arg == "--box" else None
        if value is not None and re.fullmatch(r"-[0-9.][0-9.,-]*", value):
            out.append(f"--box={value}")
        else:
            out.extend(a for a in (arg, value) if a is not None)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run a subcommand; user errors become one line on stderr and exit code 2."""
    parser = build_parser()
    args = parser.parse_args(_join_dash_values(sys.argv[1:] if argv is None else argv))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with _terminate_like_interrupt():
            return int(args.func(args) or 0)
    except UnseenError as exc:
        print(f"unseen: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _ENVIRONMENT_ERRNOS:
            raise
        print(f"unseen: error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
        return 2
    except Terminated as exc:
        print(f"unseen: stopped by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("unseen: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # Ctrl-C while an extension module loaded surfaces as its ImportError (or a later one from the half-loaded
        # module): the user's interrupt, not a bug
        if interrupt_in(exc) is None:
            raise
        print("unseen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
