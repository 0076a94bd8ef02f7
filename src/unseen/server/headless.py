"""`unseen live`: start the browser server, or run the same engine headless from a source to a file or stream."""

from __future__ import annotations

import errno
import sys
import time

from unseen.errors import UnseenError
from unseen.io.frames import is_stream_spec, open_stream
from unseen.io.writers import StreamWriter, open_writer
from unseen.server.app import LiveConfig


def check_port_free(host: str, port: int) -> None:
    """Raise UnseenError unless `port` on `host` can be listened on (as uvicorn will: SO_REUSEADDR)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UnseenError(f"--host {host}: cannot listen there ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UnseenError(f"port {port} is in use (another server? pick one with --port)") from None
            raise UnseenError(f"cannot listen on {host}:{port} ({exc.strerror})") from None


def run_server(host: str, port: int, config: LiveConfig) -> None:
    """Serve the live page until Ctrl-C; the port is checked before anything is loaded or announced."""
    import uvicorn

    from unseen.server.app import create_app
    from unseen.server.protocol import MAX_MESSAGE_BYTES

    check_port_free(host, port)
    app = create_app(config)
    check_port_free(host, port)  # loading the model takes a while: check again just before announcing
    shown = "localhost" if host in ("127.0.0.1", "::1") else host
    print(f"unseen live: open http://{shown}:{port}/ in a browser (Ctrl-C to stop)", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print("unseen: note: listening beyond this machine; anyone who can reach it can use the page", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning", ws_max_size=MAX_MESSAGE_BYTES, ws_per_message_deflate=False)


def run_headless(args, progress: bool) -> None:
    """Process a file, device or stream URL online and write a file or stream; one summary line at the end."""
    from unseen.pipeline import load_inpainter
    from unseen.pipeline.removal import RemoveOptions, build_mask_source, process

    opts = RemoveOptions(
        input=args.source, out=args.out, masks=args.masks, box=args.box, remove=args.remove, detector=args.detector,
        method=args.method, weights=args.weights, overwrite=args.overwrite, progress=progress,
        backend=args.backend, threads=args.threads,
    )  # fmt: skip
    lag = opts.masks is None  # tracked or segmented masks may miss the object's edge
    inpainter = load_inpainter(opts.method, opts.weights, backend=opts.backend, threads=opts.threads, masks_lag=lag)
    start = time.perf_counter()
    with open_stream(opts.input) as src:
        mask_source = build_mask_source(opts, src)
        try:
            writer = (
                StreamWriter(opts.out, src.info)
                if is_stream_spec(opts.out)
                else open_writer(opts.out, src.info, opts.overwrite, names=src.info.names)
            )
            with writer:
                count, _ = process(src, mask_source, inpainter, writer, progress)
                writer.commit()
        finally:
            mask_source.close()
    seconds = time.perf_counter() - start
    print(f"wrote {opts.out}: {count} frames in {seconds:.1f} s ({count / max(seconds, 1e-9):.1f} fps), method {opts.method}")
