"""RTMDet-Ins and YOLO-seg sources on small ONNX graphs with the real signatures that return known detections."""

import numpy as np
import pytest

from unseen.errors import UnseenError
from unseen.masks.coco import COCO_CLASSES
from unseen.masks.detectors import DetectorMaskSource, class_ids, load_segmenter
from unseen.masks.hygiene import Hysteresis, remove_small

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

BOTTLE, PERSON = COCO_CLASSES.index("bottle"), COCO_CLASSES.index("person")


def _const_graph(path, inputs: list[tuple[str, list[int]]], outputs: dict[str, np.ndarray]) -> str:
    """A graph whose outputs are constants; the inputs are declared (and summed into a dummy so they are used)."""
    nodes, outs, inits = [], [], []
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(value, name + "_value"))
        nodes.append(helper.make_node("Identity", [name + "_value"], [name]))
        dtype = TensorProto.INT64 if value.dtype == np.int64 else TensorProto.FLOAT
        outs.append(helper.make_tensor_value_info(name, dtype, list(value.shape)))
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs]
    graph = helper.make_graph(nodes, "fake", ins, outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return str(path)


def _rtmdet(tmp_path) -> str:
    dets = np.array([[[100, 50, 300, 250, 0.9], [400, 300, 500, 400, 0.8], [10, 10, 60, 60, 0.1]]], np.float32)
    labels = np.array([[BOTTLE, PERSON, BOTTLE]], np.int64)
    masks = np.zeros((1, 3, 160, 160), np.float32)
    masks[0, 0, 50 // 4 : 250 // 4, 100 // 4 : 300 // 4] = 0.95  # masks at a quarter of the input size
    masks[0, 1, 300 // 4 : 400 // 4, 400 // 4 : 500 // 4] = 0.95
    masks[0, 2, 2:15, 2:15] = 0.95
    return _const_graph(tmp_path / "end2end.onnx", [("input", [1, 3, 640, 640])], {"dets": dets, "labels": labels, "masks": masks})


def _yolo(tmp_path) -> str:
    anchors = 10
    pred = np.zeros((1, 4 + 80 + 32, anchors), np.float32)
    pred[0, :4, 0] = (320, 320, 200, 100)  # cx, cy, w, h in the 640 input
    pred[0, 4 + BOTTLE, 0] = 0.9
    pred[0, 4 + 80, 0] = 10.0  # coefficient of prototype 0
    pred[0, :4, 1] = (100, 100, 40, 40)
    pred[0, 4 + PERSON, 1] = 0.9
    pred[0, 4 + 80, 1] = 10.0
    protos = np.zeros((1, 32, 40, 40), np.float32)
    protos[0, 0] = 1.0
    return _const_graph(tmp_path / "yolo-seg.onnx", [("images", [1, 3, 640, 640])], {"output0": pred, "output1": protos})


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def _rect(h, w, x0, y0, x1, y1) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[int(round(y0)) : int(round(y1)), int(round(x0)) : int(round(x1))] = True
    return m


def test_rtmdet_ins_letterbox_and_class_filter(tmp_path):
    seg = load_segmenter(_rtmdet(tmp_path))
    frame = np.zeros((320, 480, 3), np.uint8)  # scale 640/480 = 4/3, padded at the bottom
    instances = seg(frame)
    assert [i.label for i in instances] == [BOTTLE, PERSON]  # the 0.1-score detection is dropped
    assert instances[0].box == pytest.approx((75, 37.5, 225, 187.5))
    mask = DetectorMaskSource(seg, class_ids("bottle"))(frame)
    assert mask.shape == (320, 480)
    assert _iou(mask, _rect(320, 480, 75, 37.5, 225, 187.5)) > 0.95
    both = DetectorMaskSource(seg, class_ids("bottle,person"))(frame)
    assert both.sum() > mask.sum()


def test_yolo_seg_centred_letterbox_and_prototypes(tmp_path):
    seg = load_segmenter(_yolo(tmp_path))
    frame = np.zeros((320, 480, 3), np.uint8)  # scale 4/3, 640x427 centred: pad_y = 106
    mask = DetectorMaskSource(seg, class_ids("bottle"))(frame)
    s, pad_y = 640 / 480, (640 - 427) // 2
    expected = _rect(320, 480, 220 / s, (270 - pad_y) / s, 420 / s, (370 - pad_y) / s)
    assert _iou(mask, expected) > 0.9
    assert not DetectorMaskSource(seg, class_ids("cup"))(frame).any()


def test_bad_models_and_names_are_clear_errors(tmp_path):
    with pytest.raises(UnseenError, match="no such detector"):
        load_segmenter(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(UnseenError, match="not a loadable ONNX"):
        load_segmenter(tmp_path / "junk.onnx")
    odd = _const_graph(tmp_path / "odd.onnx", [("x", [1, 3, 8, 8])], {"a": np.zeros(1, np.float32)})
    with pytest.raises(UnseenError, match="match neither"):
        load_segmenter(odd)
    with pytest.raises(UnseenError, match="unknown class 'bottel'"):
        class_ids("bottel")


def test_remove_cli_with_a_detector(tmp_path):
    from tests.conftest import write_pngs
    from unseen.cli import main
    from unseen.io.frames import open_frames

    frames = np.full((4, 320, 480, 3), 90, np.uint8)
    frames[:, 40:185, 77:223] = (250, 250, 250)  # the "bottle" where the fake detector puts it
    write_pngs(tmp_path / "in", frames)
    args = ["remove", str(tmp_path / "in"), "--remove", "bottle", "--detector", _rtmdet(tmp_path), "--out", str(tmp_path / "out")]
    assert main(args + ["--method", "telea", "-q"]) == 0
    with open_frames(tmp_path / "out") as out:
        result = list(out)
    assert (result[0][60:170, 100:200] < 120).all()  # the bright object is gone, filled from the grey around it


def test_hygiene_min_area_and_hysteresis():
    m = np.zeros((20, 20), bool)
    m[1:3, 1:3] = True  # 4 px speck
    m[10:16, 10:16] = True
    cleaned = remove_small(m, 10)
    assert not cleaned[1:3, 1:3].any() and cleaned[10:16, 10:16].all()
    hyst = Hysteresis(hold=2)
    seq = [m, np.zeros_like(m), np.zeros_like(m), np.zeros_like(m)]
    out = [hyst(x) for x in seq]
    assert out[1][12, 12] and out[2][12, 12] and not out[3][12, 12]  # held 2 frames, then released
