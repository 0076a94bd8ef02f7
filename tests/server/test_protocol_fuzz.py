"""Property: random and mutated messages close only their own connection, with 1003 or 1009 (never 1011), and a
good client on the same server keeps being served throughout."""

import json
import struct

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install hypothesis)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from unseen.engine.memory import MemoryInpainter  # noqa: E402
from unseen.server.app import LiveConfig, create_app  # noqa: E402
from unseen.server.protocol import MAX_MESSAGE_BYTES, decode_result, encode_frame  # noqa: E402

FRAME = encode_frame(1, np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
PNG_FRAME = struct.pack("<I", 2) + __import__("cv2").imencode(".png", np.full((20, 20, 3), 128, np.uint8))[1].tobytes()
CHECK_ID = 0xFFFFFF


@pytest.fixture(scope="module")
def server():
    """One app for every example, and a good client that stays connected across all of them."""
    with TestClient(create_app(LiveConfig(method="memory"), make_inpainter=MemoryInpainter)) as client:
        with client.websocket_connect("/ws") as good:
            good.send_text(json.dumps({"type": "select", "box": [10, 10, 30, 20]}))
            yield client, good


numbers = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=4),
    st.none(),
)
controls = st.fixed_dictionaries(
    {"type": st.sampled_from(["select", "detect", "reset", "explode", "", "SELECT"])},
    optional={
        "box": st.one_of(st.lists(numbers, max_size=6), numbers, st.dictionaries(st.text(max_size=3), numbers, max_size=3)),
        "classes": st.one_of(st.lists(st.text(max_size=50), max_size=3), numbers),
    },
)

# selects that are nearly right: four values, each a plausible pixel, a nonsense number or a wrong type
selects = st.lists(
    st.one_of(st.integers(-50, 700), st.floats(-50, 700), st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300]), numbers),
    min_size=4,
    max_size=4,
).map(lambda box: json.dumps({"type": "select", "box": box}))


@st.composite
def mutated_frame(draw) -> bytes:
    """A valid JPEG/PNG frame message with bytes flipped, cut, inserted or repeated."""
    data = bytearray(draw(st.sampled_from([FRAME, PNG_FRAME])))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "repeat"]))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            data = data[:at]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "repeat":
            data = data[:at] + data[at // 2 :]
    return bytes(data)


messages = st.one_of(
    st.text(max_size=200),
    controls.map(json.dumps),
    selects,
    st.text(min_size=4097, max_size=5000),
    st.binary(max_size=64),
    mutated_frame(),
    st.just(b"\0" * (MAX_MESSAGE_BYTES + 1)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(message=messages)
def test_bad_messages_close_only_their_connection_with_1003_or_1009(server, message):
    client, good = server
    with client.websocket_connect("/ws") as ws:
        (ws.send_text if isinstance(message, str) else ws.send_bytes)(message)
        ws.send_bytes(encode_frame(CHECK_ID, np.zeros((48, 64, 3), np.uint8)))
        try:
            for _ in range(4):  # the message was acceptable: its own reply (if a frame), then the check frame's
                header, _, _ = decode_result(ws.receive_bytes())
                if header["id"] == CHECK_ID:
                    break
            else:
                pytest.fail("no reply to the check frame")
        except WebSocketDisconnect as closed:
            assert closed.code in (1003, 1009), (closed.code, closed.reason)
            assert closed.reason
    good.send_bytes(encode_frame(7, np.full((48, 64, 3), 90, np.uint8)))
    header, _, _ = decode_result(good.receive_bytes())
    assert header["id"] == 7 and "error" not in header
