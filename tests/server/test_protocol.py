"""Live server protocol through an ASGI WebSocket test client."""

import json
import time

import numpy as np
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from unseen.datasets.synthetic import moving_object_scene
from unseen.engine.memory import MemoryInpainter
from unseen.server.app import LiveConfig, create_app
from unseen.server.protocol import decode_result, encode_frame


@pytest.fixture(scope="module")
def scene():
    return moving_object_scene(30, 144, 240, seed=7)


def _box(mask: np.ndarray, pad: int = 4) -> list[int]:
    ys, xs = np.nonzero(mask)
    return [int(xs.min() - pad), int(ys.min() - pad), int(xs.max() - xs.min() + 2 * pad), int(ys.max() - ys.min() + 2 * pad)]


def _client(make=MemoryInpainter) -> TestClient:
    return TestClient(create_app(LiveConfig(method="memory"), make_inpainter=make))


def test_page_and_info_are_served():
    with _client() as client:
        page = client.get("/")
        assert page.status_code == 200 and "unseen" in page.text and "/static/app.js" in page.text
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/api/info").json()["work"] == [480, 288]
        assert client.get("/static/../../errors.py").status_code == 404  # nothing outside the static folder


def test_round_trip_returns_only_the_region_and_its_mask(scene):
    with _client() as client, client.websocket_connect("/ws") as ws:
        ws.send_bytes(encode_frame(1, scene.frames[0]))
        header, patch, mask = decode_result(ws.receive_bytes())
        assert header["id"] == 1 and header["empty"]  # nothing selected yet
        ws.send_text(json.dumps({"type": "select", "box": _box(scene.masks[1])}))
        for i in range(2, 20):
            ws.send_bytes(encode_frame(i, scene.frames[i]))
            header, patch, mask = decode_result(ws.receive_bytes())
            assert header["id"] == i
        x, y, w, h = header["x"], header["y"], header["w"], header["h"]
        assert patch.shape == (h, w, 3) and mask.shape == (h, w)
        assert w * h < 0.5 * 144 * 240  # a region, not the whole frame
        truth = scene.masks[19][y : y + h, x : x + w]
        assert (mask & truth).sum() / truth.sum() > 0.9  # the hole covers the object
        revealed = mask & ~scene.masks[19][y : y + h, x : x + w] & ~scene.masks[2:19].all(0)[y : y + h, x : x + w]
        # the object is gone: the patch looks like the background, not the reddish object
        inside = mask & truth
        bg = scene.background[y : y + h, x : x + w]
        assert (
            np.abs(patch[inside].astype(int) - bg[inside]).mean()
            < np.abs(scene.frames[19][y : y + h, x : x + w][inside].astype(int) - bg[inside]).mean()
        )
        assert revealed.sum() >= 0


@pytest.mark.parametrize(
    "message,reason",
    [
        ("not json", "not JSON"),
        (json.dumps({"type": "explode"}), "unknown control"),
        (json.dumps({"type": "select", "box": [1, 2]}), "select needs box"),
        (json.dumps({"type": "select", "box": [1, 2, 9, 9], "frame": -1}), "select frame"),
        (json.dumps({"type": "select", "box": [1, 2, 9, 9], "frame": "7"}), "select frame"),
        (json.dumps({"type": "select", "box": [1, 2, 9, 9], "frame": True}), "select frame"),
        (json.dumps({"type": "point", "at": [5]}), "point needs at"),
        (json.dumps({"type": "point", "at": [-1, 5]}), "point at values"),
        (json.dumps({"type": "point", "at": [5, 5], "frame": 1.5}), "point frame"),
        (b"\x01\x00", "too short"),
        (b"\x01\x00\x00\x00garbage-bytes", "not a decodable image"),
    ],
)
def test_malformed_messages_close_that_connection_with_a_reason(message, reason):
    with _client() as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_text(message) if isinstance(message, str) else ws.send_bytes(message)
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_bytes()
        assert info.value.code == 1003 and reason in info.value.reason
        assert client.get("/api/info").status_code == 200  # the server lives on


def test_oversize_frames_are_refused():
    big = np.zeros((1400, 1400, 3), np.uint8)
    with _client() as client, client.websocket_connect("/ws") as ws:
        ws.send_bytes(encode_frame(1, big))
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_bytes()
    assert "outside 16..1280" in info.value.reason


def test_foreign_origin_is_refused():
    with _client() as client:
        with pytest.raises(WebSocketDisconnect) as info:
            with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
                ws.receive_bytes()
        assert info.value.code == 1008
        with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
            ws.send_bytes(encode_frame(1, np.zeros((32, 32, 3), np.uint8)))
            assert decode_result(ws.receive_bytes())[0]["id"] == 1


class SlowMemory(MemoryInpainter):
    def step(self, frame, mask):
        time.sleep(0.15)
        return super().step(frame, mask)


def test_stale_frames_are_dropped_not_queued(scene):
    with _client(SlowMemory) as client, client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "select", "box": _box(scene.masks[0])}))
        for i in range(1, 9):  # a camera faster than the server
            ws.send_bytes(encode_frame(i, scene.frames[i]))
            time.sleep(0.02)
        ids = []
        while not ids or ids[-1] != 8:
            header, _, _ = decode_result(ws.receive_bytes())
            ids.append(header["id"])
        assert len(ids) < 8 and header["dropped"] >= 8 - len(ids)
        assert ids == sorted(ids)


def test_clients_are_isolated(scene):
    with _client() as client, client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
        a.send_text(json.dumps({"type": "select", "box": _box(scene.masks[0])}))
        for i in range(3):
            a.send_bytes(encode_frame(i, scene.frames[i]))
            b.send_bytes(encode_frame(100 + i, scene.frames[i]))
            ha, _, _ = decode_result(a.receive_bytes())
            hb, _, _ = decode_result(b.receive_bytes())
            assert ha["id"] == i and not ha.get("empty")
            assert hb["id"] == 100 + i and hb.get("empty")  # b selected nothing
        assert client.get("/api/info").json()["clients"] == 2


def test_class_picking_with_a_server_side_detector(tmp_path):
    from tests.masks.test_detectors import _rtmdet

    app = create_app(LiveConfig(method="memory", detector=_rtmdet(tmp_path)), make_inpainter=MemoryInpainter)
    frame = np.full((320, 480, 3), 90, np.uint8)
    with TestClient(app) as client:
        assert "bottle" in client.get("/api/info").json()["classes"]
        with client.websocket_connect("/ws") as ws:
            ws.send_text(json.dumps({"type": "detect", "classes": ["bottle"]}))
            ws.send_bytes(encode_frame(1, frame))
            header, patch, mask = decode_result(ws.receive_bytes())
            grow = LiveConfig().dilation  # the fake detector's bottle box, grown by the live mask's dilation
            assert abs(header["x"] - 75) <= grow + 3 and abs(header["w"] - 150) <= 2 * grow + 6, header
        with client.websocket_connect("/ws") as ws:
            ws.send_text(json.dumps({"type": "detect", "classes": ["unicorn"]}))
            with pytest.raises(WebSocketDisconnect) as info:
                ws.receive_bytes()
            assert "unknown class" in info.value.reason
    with _client() as client, client.websocket_connect("/ws") as ws:  # no detector: the bundled classes only
        assert client.get("/api/info").json()["classes"] == ["person", "hand", "face"]
        ws.send_text(json.dumps({"type": "detect", "classes": ["bottle"]}))
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_bytes()
        assert "unknown class 'bottle'" in info.value.reason and "--detector" in info.value.reason


def test_disconnect_frees_the_client():
    with _client() as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_bytes(encode_frame(1, np.zeros((32, 32, 3), np.uint8)))
            ws.receive_bytes()
            assert client.get("/api/info").json()["clients"] == 1
        for _ in range(50):
            if client.get("/api/info").json()["clients"] == 0:
                break
            time.sleep(0.02)
        assert client.get("/api/info").json()["clients"] == 0


def test_two_frames_in_flight_are_both_answered_in_order(scene):
    """The page keeps two frames in flight: the second waits in the slot and starts as the first's reply goes out."""
    with _client(SlowMemory) as client, client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "select", "box": _box(scene.masks[0])}))
        ws.send_bytes(encode_frame(1, scene.frames[1]))
        ids = []
        for i in range(2, 12):
            ws.send_bytes(encode_frame(i, scene.frames[i]))
            header, _, _ = decode_result(ws.receive_bytes())  # the reply to i - 1; i is waiting or running
            ids.append(header["id"])
        header, _, _ = decode_result(ws.receive_bytes())
        ids.append(header["id"])
    assert ids == list(range(1, 12)) and header["dropped"] == 0


def _number(frame: np.ndarray) -> int:
    """The frame number written into its top-left 16x16 block (survives JPEG)."""
    return round(float(frame[:16, :16].mean()) / 20)


class TwoStageMemory(MemoryInpainter):
    """A memory engine whose guide (`prepare`) and network (`push_prepared`) each take 60 ms and log their spans."""

    spans: list = []

    def prepare(self, frame, mask):
        start = time.perf_counter()
        time.sleep(0.06)
        TwoStageMemory.spans.append(("front", _number(frame), start, time.perf_counter()))
        return frame, mask

    def push_prepared(self, prepared):
        start = time.perf_counter()
        time.sleep(0.06)
        out = super().push_prepared(prepared)
        TwoStageMemory.spans.append(("back", _number(prepared[0]), start, time.perf_counter()))
        return out


def test_the_guide_of_the_next_frame_runs_beside_the_network_of_this_one(scene):
    """Two frames in flight: front(t + 1) overlaps back(t) in another worker; both stages keep frame order, and the
    replies carry the same fills as one frame at a time would."""
    TwoStageMemory.spans = []
    frames = [f.copy() for f in scene.frames[:12]]
    for i, f in enumerate(frames):
        f[:16, :16] = 20 * i  # the frame's number, readable in the spans
    box = _box(scene.masks[0])
    with _client(TwoStageMemory) as client, client.websocket_connect("/ws") as ws:
        ws.send_text(json.dumps({"type": "select", "box": box}))
        ws.send_bytes(encode_frame(0, frames[0]))
        replies = []
        for i in range(1, 12):
            ws.send_bytes(encode_frame(i, frames[i]))
            replies.append(decode_result(ws.receive_bytes()))
        replies.append(decode_result(ws.receive_bytes()))
    assert [h["id"] for h, _, _ in replies] == list(range(12))
    fronts = [s for s in TwoStageMemory.spans if s[0] == "front"]
    backs = {s[1]: s for s in TwoStageMemory.spans if s[0] == "back"}
    assert [s[1] for s in fronts] == [s[1] for s in TwoStageMemory.spans if s[0] == "back"] == list(range(12))
    overlapped = sum(1 for _, i, a, b in fronts if i - 1 in backs and a < backs[i - 1][3] and b > backs[i - 1][2])
    assert overlapped >= 8, overlapped  # frames 1..11 could overlap; the first reply's wait may not
    for h, _, _ in replies:
        assert h["stage"] <= h["ms"] and h["ms"] >= 110  # both 60 ms stages counted in ms, the slower one in stage
    with _client() as client, client.websocket_connect("/ws") as ws:  # the same frames, one at a time
        ws.send_text(json.dumps({"type": "select", "box": box}))
        for i, (header, patch, mask) in enumerate(replies):
            ws.send_bytes(encode_frame(i, frames[i]))
            h, p, m = decode_result(ws.receive_bytes())
            assert (h["x"], h["y"], h["w"], h["h"]) == (header["x"], header["y"], header["w"], header["h"])
            np.testing.assert_array_equal(m, mask)
            np.testing.assert_array_equal(p, patch)
