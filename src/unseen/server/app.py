"""The live ASGI app: the page, and a WebSocket per client running its own mask source and engine.

Flow control: the page keeps one or two frames in flight; on the server a "newest frame wins" slot sits
between the receiver and the stages, so frames that would queue are dropped, never buffered, and
latency stays flat when the server is slower than the camera. Each frame goes through two stages (see
`session.py`): the mask and the engine's guide of frame t + 1 run in one worker thread while the network
of frame t runs in another, so with two frames in flight one client keeps both cores busy.

Threads: the event loop owns the main thread, so frames are processed in worker threads, one per CPU
core, each running torch single-threaded by default. Measured on a 2-core CPU, torch with 2 OpenMP
threads in a worker thread (while the main thread has its own OpenMP team from loading the model) took
about 2.4x as long per network step as in the main thread; with 1 thread per worker the server's
per-frame time fell from about 60 to 45 ms, and several clients still use every core.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from fastapi import WebSocket

from unseen.engine.graph import resolve_threads
from unseen.engine.inpainter import Inpainter
from unseen.engine.registry import BACKENDS
from unseen.errors import UnseenError
from unseen.server.masks import MaskFactory, mask_factory
from unseen.server.protocol import (
    ProtocolError,
    check_box,
    decode_frame,
    decode_image,
    encode_frame,
    encode_result,
    parse_control,
    split_frame,
)
from unseen.server.session import LiveSession, Prepared

STATIC_DIR = Path(str(resources.files("unseen") / "server" / "static"))


@dataclass
class LiveConfig:
    """Settings of the live server."""

    method: str = "model"
    weights: str = "small"
    work_width: int = 480  # the page downscales frames to fit this before sending
    work_height: int = 288
    warm_up: bool = True  # run each worker once on a generated frame at start (first visit: no stall, no memory step)
    allowed_origins: list[str] = field(default_factory=list)  # besides the server's own origin
    max_clients: int = 8
    dilation: int = 12  # px (working resolution) the tracked mask grows: on a real clip the box tracker lagged a
    # moving object's edge by up to 14 px at 3 (those pixels entered the background memory as ghosts); none at 6 with the
    # old tracker; the tighter, non-bleeding tracker trails a moving edge more: 70-190 object pixels at 6-8 px, none at 12
    detector: str | None = None  # RTMDet-Ins / YOLO-seg .onnx: the page then offers its class names
    backend: str = "eager"  # how the model runs: eager, compile or onnx
    threads: int = 0  # torch threads per worker thread (0: one; there are as many workers as CPU cores)


def inpainter_factory(config: LiveConfig) -> Callable[[], Inpainter]:
    """A factory of per-client inpainters; the model weights are loaded once and shared."""
    from unseen.pipeline import load_inpainter

    if config.method != "model":
        load_inpainter(config.method, backend=config.backend, threads=config.threads)  # checks the settings now
        return lambda: load_inpainter(config.method, masks_lag=True)  # the page's masks are tracked: no ghosts
    from unseen.model.checkpoint import load_generator

    if config.backend not in BACKENDS or config.threads < 0:
        raise UnseenError(f"backend {config.backend!r} / threads {config.threads}: choose one of {', '.join(BACKENDS)}, threads >= 0")
    model = load_generator(config.weights)  # loaded once, shared by every client's engine
    options = {
        "work_width": config.work_width,
        "work_height": config.work_height,
        "backend": config.backend,
        "threads": config.threads,
        "masks_lag": True,  # the page's masks come from the box tracker or the segmenters: they miss edges
    }
    return lambda: load_inpainter("model", model, **options)


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Browsers send Origin: accept our own origin and explicitly allowed ones; non-browser clients send none."""
    if origin is None:
        return True
    if origin in allowed:
        return True
    return host is not None and urlsplit(origin).netloc == host


def create_app(config: LiveConfig | None = None, make_inpainter: Callable[[], Inpainter] | None = None, masks: MaskFactory | None = None):
    """Build the FastAPI app (the model loads here, once); `masks` decides what the page can remove."""
    from fastapi import FastAPI
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    from unseen import __version__

    config = config or LiveConfig()
    make = make_inpainter or inpainter_factory(config)
    masks = masks or mask_factory(config.detector)
    workers = engine_workers(config.threads)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        if config.warm_up:
            loop = asyncio.get_running_loop()
            size = (config.work_width, config.work_height)
            await asyncio.gather(*(loop.run_in_executor(workers, warm_up, make, size) for _ in range(worker_count())))
            await loop.run_in_executor(workers, release_memory)
        yield
        workers.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="unseen live", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.clients = 0
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/")
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/api/info")
    async def info() -> JSONResponse:
        return JSONResponse(
            {
                "version": __version__,
                "method": config.method,
                "work": [config.work_width, config.work_height],
                "clients": app.state.clients,
                "max_clients": config.max_clients,
                "classes": masks.classes(),
            }
        )

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), config.allowed_origins):
            await websocket.close(code=1008, reason="origin not allowed")
            return
        await websocket.accept()  # accepted even when full, so that the page is told why (a refused handshake says nothing)
        if app.state.clients >= config.max_clients:
            await websocket.close(code=1013, reason="too many clients")
            return
        app.state.clients += 1
        try:
            await serve_client(websocket, LiveSession(make, masks, config.dilation), workers)
        finally:
            app.state.clients -= 1
            if app.state.clients == 0:
                await asyncio.get_running_loop().run_in_executor(workers, release_memory)

    return app


def engine_workers(threads: int = 0) -> ThreadPoolExecutor:
    """Worker threads for the clients' frames: one per CPU core, each with `threads` torch threads (0: one)."""

    def init() -> None:
        import torch

        torch.set_num_threads(resolve_threads(threads))

    return ThreadPoolExecutor(max_workers=worker_count(), thread_name_prefix="unseen-engine", initializer=init)


def worker_count() -> int:
    """Engine worker threads of the server: one per CPU core."""
    return os.cpu_count() or 1


def warm_up(make: Callable[[], Inpainter], size: tuple[int, int], frames: int = 4) -> None:
    """A short session on a generated frame before the first client (in a worker thread): the engine's kernels,
    the JPEG codecs and the allocator's arenas are ready, so the first visit neither stalls nor raises the
    server's memory above what it then keeps."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    frame = np.stack([(xs * 3) % 256, (ys * 5) % 256, ((xs + ys) * 2) % 256], axis=-1).astype(np.uint8)
    hole = ((xs - width / 2) ** 2 / (width / 6) ** 2 + (ys - height / 2) ** 2 / (height / 5) ** 2) < 1
    inpainter = make()
    for k in range(frames):
        shifted = np.roll(hole, 4 * k, axis=1)
        _, received = decode_frame(encode_frame(k, frame))  # the page's JPEG round trip
        out = inpainter.step(received, shifted)
        encode_result({"id": k}, out[: height // 2, : width // 2], shifted[: height // 2, : width // 2])


def release_memory() -> None:
    """Give freed memory back to the system after clients leave (Python's garbage, then glibc's free lists)."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def run_front(session: LiveSession, frame_id: int, data: bytes) -> Prepared:
    """Decode one frame and run the session's first stage: controls, mask, the engine's guide (in a worker thread)."""
    return session.front(frame_id, decode_image(data))


def run_back(session: LiveSession, item: Prepared, dropped: int) -> bytes:
    """The session's second stage (the network) and the encoded reply (in a worker thread)."""
    result = session.back(item)
    header = {
        "id": result.frame_id,
        "ms": round(result.ms, 2),
        "stage": round(result.stage_ms, 2),
        "dropped": dropped,
        "state": result.state,
        "applied": result.applied,
    }
    if result.error:
        header["error"] = result.error
    if result.box is None:
        return encode_result({**header, "empty": True})
    x, y, w, h = result.box
    return encode_result({**header, "x": x, "y": y, "w": w, "h": h}, result.patch, result.mask)


async def serve_client(websocket, session: LiveSession, workers: ThreadPoolExecutor) -> None:
    """Receive frames into a newest-wins slot; a front task runs the first stage of the newest frame while a back
    task runs the second stage of the frame before it and replies, in order.

    The front stage starts a frame only once the back stage has taken the one before, so at most one frame waits
    between them. Control messages are checked here and queued in the session, which applies them in the front
    stage with the engine idle. A malformed message closes this connection with 1003 (1009: too large) and a reason.
    """
    from starlette.websockets import WebSocketDisconnect

    slot: dict = {"item": None, "dropped": 0}
    ready = asyncio.Event()
    handoff: asyncio.Queue = asyncio.Queue()
    running: set[Future] = set()

    async def in_worker(fn, *args):
        future = workers.submit(fn, *args)
        running.add(future)
        future.add_done_callback(running.discard)
        return await asyncio.wrap_future(future)

    async def receive() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            if message.get("text") is not None:
                control = parse_control(message["text"])
                if control["type"] == "select" and session.size is not None:
                    check_box(control["box"], *session.size)  # refused now; the worker checks again at apply time
                elif control["type"] == "point" and session.size is not None:
                    width, height = session.size
                    if control["at"][0] >= width or control["at"][1] >= height:
                        raise ProtocolError(f"point at {control['at']} lies outside the {width}x{height} frame")
                elif control["type"] == "detect":
                    try:
                        session.masks.check_classes(control["classes"])
                    except UnseenError as exc:
                        raise ProtocolError(str(exc)) from None
                session.request(control)
            elif message.get("bytes") is not None:
                item = split_frame(message["bytes"])
                if slot["item"] is not None:
                    slot["dropped"] += 1  # a newer frame replaces one not yet started
                slot["item"] = item
                ready.set()

    async def front() -> None:
        while True:
            await ready.wait()
            await handoff.join()  # the back stage has taken the frame before: prepare the newest one now
            item, slot["item"] = slot["item"], None
            ready.clear()
            if item is not None:
                await handoff.put((await in_worker(run_front, session, *item), slot["dropped"]))

    async def back() -> None:
        while True:
            item, dropped = await handoff.get()
            handoff.task_done()  # taken: the front stage may start the next frame beside this one
            await websocket.send_bytes(await in_worker(run_back, session, item, dropped))

    tasks = {asyncio.create_task(receive()), asyncio.create_task(front()), asyncio.create_task(back())}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            exc = task.exception()
            if isinstance(exc, ProtocolError):
                with contextlib.suppress(Exception):
                    await websocket.close(code=exc.code, reason=str(exc)[:120])
            elif exc is not None and not isinstance(exc, WebSocketDisconnect):
                with contextlib.suppress(Exception):
                    await websocket.close(code=1011, reason="internal error")
                raise exc
    finally:
        for task in tasks:
            task.cancel()
        while any(not future.done() for future in list(running)):  # worker threads still hold the session
            await asyncio.sleep(0.01)
        session.close()
