"""The live WebSocket protocol: small, binary, one frame in flight.

Client -> server
- text JSON control messages: `{"type": "select", "box": [x, y, w, h]}` (pixels of the frames it
  sends), `{"type": "detect", "classes": ["bottle"]}` (when the server has a detector), `{"type": "reset"}`;
- binary frames: 4-byte little-endian frame id, then a JPEG/WebP/PNG image at the working resolution.

Server -> client (binary): 4-byte little-endian header length, a JSON header
`{"id", "x", "y", "w", "h", "patch_bytes", "mask_bytes", "ms", "dropped"}`, then the inpainted
region as JPEG and its hole mask as PNG (both w x h, at the position x, y of the frame the client
sent). A frame with nothing to remove gets a header with `"empty": true` and no payload.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass

import numpy as np

MAX_MESSAGE_BYTES = 2 * 1024 * 1024
MAX_SIDE = 1280  # frames are sent at working resolution; anything larger is refused


class ProtocolError(Exception):
    """A malformed or oversize message; the connection is closed with this reason."""


@dataclass
class Selection:
    """A box the user drew, in pixels of the frames the client sends."""

    x: int
    y: int
    w: int
    h: int


def parse_control(text: str) -> dict:
    """Validate a text control message; returns the parsed dict."""
    if len(text) > 4096:
        raise ProtocolError("control message too long")
    try:
        msg = json.loads(text)
    except json.JSONDecodeError:
        raise ProtocolError("control message is not JSON") from None
    if not isinstance(msg, dict) or msg.get("type") not in ("select", "detect", "reset"):
        raise ProtocolError("unknown control message type")
    if msg["type"] == "detect":
        classes = msg.get("classes")
        if not (isinstance(classes, list) and classes and all(isinstance(c, str) and len(c) < 40 for c in classes)):
            raise ProtocolError("detect needs classes: a list of class names")
    if msg["type"] == "select":
        box = msg.get("box")
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
            raise ProtocolError("select needs box: [x, y, w, h]")
        msg["box"] = [int(round(v)) for v in box]
    return msg


def decode_frame(data: bytes) -> tuple[int, np.ndarray]:
    """Split a binary frame message into (id, uint8 RGB image); checks size limits."""
    import cv2

    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"frame message larger than {MAX_MESSAGE_BYTES} bytes")
    if len(data) < 8:
        raise ProtocolError("frame message too short")
    (frame_id,) = struct.unpack("<I", data[:4])
    image = cv2.imdecode(np.frombuffer(data[4:], np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ProtocolError("frame is not a decodable image")
    h, w = image.shape[:2]
    if w > MAX_SIDE or h > MAX_SIDE or w < 16 or h < 16:
        raise ProtocolError(f"frame size {w}x{h} outside 16..{MAX_SIDE}")
    return frame_id, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


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
        ok2, mbuf = cv2.imencode(".png", mask.astype(np.uint8) * 255)
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
    mask = cv2.imdecode(np.frombuffer(data[start + pb : start + pb + mb], np.uint8), cv2.IMREAD_GRAYSCALE) > 0
    return header, cv2.cvtColor(patch, cv2.COLOR_BGR2RGB), mask
