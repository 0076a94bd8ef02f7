"""The live WebSocket protocol: small, binary, one or two frames in flight.

Client -> server
- text JSON control messages: `{"type": "select", "box": [x, y, w, h], "frame": id}` (finite numbers, pixels of
  the frames it sends, the box inside the frame and at least 4x4; `frame`, optional, the id of the frame the box was
  drawn on: when the server still holds it, the object is followed from there to the frame the box reaches, so a
  box drawn on a moving object a round trip ago still lands on it), `{"type": "point", "at": [x, y], "frame": id}`
  (a click: the hand, else the person, under that pixel of that frame is boxed and followed like a drawn box; with
  neither there the selection is dropped with an `"error"` saying so), `{"type": "detect", "classes":
  ["bottle"]}` (names from `/api/info`'s "classes"), `{"type": "reset"}`. They take effect, in order,
  just before the next frame the server processes (never while one is being processed);
- binary frames: 4-byte little-endian frame id, then a JPEG/WebP/PNG image at the working resolution.

Server -> client (binary): 4-byte little-endian header length, a JSON header
`{"id", "x", "y", "w", "h", "patch_bytes", "mask_bytes", "ms", "stage", "dropped", "state", "applied"}`, then
the inpainted region as JPEG and its hole mask as PNG (white, the hole in the alpha channel; both
w x h, at the position x, y of the frame the client sent). A frame with nothing to remove gets a
header with `"empty": true` and no payload. `state` is "idle" (nothing selected), "removing" or
"lost" (a selection whose object is not in view); `applied` counts the control messages applied
before this frame; `ms` is the server's work on this frame and `stage` the longer of its two stages (the
pace of a client with two frames in flight); an `"error"` field says the server hit a problem and dropped the selection.

A malformed message closes its connection with 1003 (1009 when too large) and a reason; the 9th
client is accepted and closed with 1013 "too many clients".
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

MAX_MESSAGE_BYTES = 2 * 1024 * 1024
MAX_SIDE = 1280  # frames are sent at working resolution; anything larger is refused
MAX_COORD = 100_000  # box coordinates beyond this are nonsense, whatever the frame


class ProtocolError(Exception):
    """A malformed or oversize message; the connection is closed with this code and reason."""

    def __init__(self, reason: str, code: int = 1003) -> None:
        super().__init__(reason)
        self.code = code


def parse_control(text: str) -> dict:
    """Validate a text control message; returns the parsed dict."""
    if len(text) > 4096:
        raise ProtocolError("control message too long")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError:
        raise ProtocolError("control message is not JSON") from None
    if not isinstance(msg, dict) or msg.get("type") not in ("select", "point", "detect", "reset"):
        raise ProtocolError("unknown control message type")
    if msg["type"] == "detect":
        classes = msg.get("classes")
        if not (isinstance(classes, list) and classes and all(isinstance(c, str) and len(c) < 40 for c in classes)):
            raise ProtocolError("detect needs classes: a list of class names")
    if msg["type"] == "select":
        box = msg.get("box")
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in box)):
            raise ProtocolError("select needs box: [x, y, w, h]")
        if not all(math.isfinite(v) and abs(v) <= MAX_COORD for v in box):
            raise ProtocolError(f"select box values must be finite numbers within +-{MAX_COORD}")
        msg["box"] = [int(round(v)) for v in box]
    if msg["type"] == "point":
        at = msg.get("at")
        if not (isinstance(at, list) and len(at) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in at)):
            raise ProtocolError("point needs at: [x, y]")
        if not all(math.isfinite(v) and 0 <= v <= MAX_COORD for v in at):
            raise ProtocolError(f"point at values must be finite numbers within 0-{MAX_COORD}")
        msg["at"] = [int(v) for v in at]
    if msg["type"] in ("select", "point"):
        frame = msg.get("frame")
        if frame is not None and not (isinstance(frame, int) and not isinstance(frame, bool) and 0 <= frame < 2**32):
            raise ProtocolError(f"{msg['type']} frame must be the id of a frame the client sent")
    return msg


def check_box(box: list[int], width: int, height: int) -> tuple[int, int, int, int]:
    """The box (x, y, w, h) if it lies inside a width x height frame and is at least 4x4: the CLI's --box rule."""
    from unseen.errors import UnseenError
    from unseen.masks.tracker import parse_box

    try:
        return parse_box(",".join(str(v) for v in box), width, height)
    except UnseenError as exc:
        raise ProtocolError(str(exc).replace("--box ", "select box ", 1)) from None


def frame_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG/PNG/WebP header without decoding the pixels; refuses other formats and sizes."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"]) as image:
            w, h = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ProtocolError("frame is not a decodable image") from None
    if w > MAX_SIDE or h > MAX_SIDE or w < 16 or h < 16:
        raise ProtocolError(f"frame size {w}x{h} outside 16..{MAX_SIDE}")
    return w, h


def split_frame(data: bytes) -> tuple[int, bytes]:
    """Check a binary frame message cheaply (length, image header, size); returns (id, image bytes)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"frame message larger than {MAX_MESSAGE_BYTES} bytes", code=1009)
    if len(data) < 8:
        raise ProtocolError("frame message too short")
    (frame_id,) = struct.unpack("<I", data[:4])
    frame_size(data[4:])
    return frame_id, data[4:]


def decode_frame(data: bytes) -> tuple[int, np.ndarray]:
    """Split a binary frame message into (id, uint8 RGB image); checks size limits."""
    frame_id, image_bytes = split_frame(data)
    return frame_id, decode_image(image_bytes)


def decode_image(data: bytes) -> np.ndarray:
    """JPEG/PNG/WebP bytes whose header `split_frame` checked -> uint8 RGB (H, W, 3)."""
    import cv2

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.shape[0] > MAX_SIDE or image.shape[1] > MAX_SIDE:
        raise ProtocolError("frame is not a decodable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def encode_frame(frame_id: int, image: np.ndarray, quality: int = 85) -> bytes:
    """A client frame message (used by tests, the benchmark and the headless client)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return struct.pack("<I", frame_id) + buf.tobytes()


def encode_result(header: dict, patch: np.ndarray | None = None, mask: np.ndarray | None = None, quality: int = 90) -> bytes:
    """A server result message: header + JPEG patch + PNG mask."""
    import cv2

    payload = b""
    if patch is not None and mask is not None:
        ok1, pbuf = cv2.imencode(".jpg", cv2.cvtColor(patch, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
        alpha = mask.astype(np.uint8) * 255
        white = np.full_like(alpha, 255)
        ok2, mbuf = cv2.imencode(".png", np.dstack([white, white, white, alpha]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        assert ok1 and ok2
        header = {**header, "patch_bytes": len(pbuf), "mask_bytes": len(mbuf)}
        payload = pbuf.tobytes() + mbuf.tobytes()
    raw = json.dumps(header).encode()
    return struct.pack("<I", len(raw)) + raw + payload


def decode_result(data: bytes) -> tuple[dict, np.ndarray | None, np.ndarray | None]:
    """Inverse of `encode_result` (used by tests and the benchmark client)."""
    import cv2

    (n,) = struct.unpack("<I", data[:4])
    header = json.loads(data[4 : 4 + n])
    if header.get("empty"):
        return header, None, None
    start = 4 + n
    pb, mb = header["patch_bytes"], header["mask_bytes"]
    patch = cv2.imdecode(np.frombuffer(data[start : start + pb], np.uint8), cv2.IMREAD_COLOR)
    mask = cv2.imdecode(np.frombuffer(data[start + pb : start + pb + mb], np.uint8), cv2.IMREAD_UNCHANGED)[..., 3] > 0
    return header, cv2.cvtColor(patch, cv2.COLOR_BGR2RGB), mask
