import pytest
import torch

from unseen.errors import UnseenError
from unseen.model.checkpoint import load_generator, read_metadata, save_generator
from unseen.model.config import ModelConfig, get_preset
from unseen.model.generator import InpaintGenerator


def test_round_trip_is_bit_exact_and_keeps_the_config(tmp_path):
    torch.manual_seed(1)
    model = InpaintGenerator(get_preset("tiny"))
    path = save_generator(model, tmp_path / "w.safetensors", {"unseen.step": "7"})
    meta = read_metadata(path)
    assert ModelConfig.from_json(meta["unseen.config"]) == model.config and meta["unseen.step"] == "7"
    loaded = load_generator(path)
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_missing_file_and_mismatch_fail_clearly(tmp_path):
    with pytest.raises(UnseenError, match="no such weights file"):
        load_generator(tmp_path / "nope.safetensors")
    from safetensors.torch import save_file

    model = InpaintGenerator(get_preset("tiny"))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["blocks.0.qkv.weight"] = torch.zeros(5, 5)
    save_file(state, str(tmp_path / "bad.safetensors"), metadata={"unseen.config": model.config.to_json()})
    with pytest.raises(UnseenError, match="do not match config 'tiny'.*wrong shape"):
        load_generator(tmp_path / "bad.safetensors")
    save_file(state, str(tmp_path / "nometa.safetensors"))
    with pytest.raises(UnseenError, match="no model config"):
        load_generator(tmp_path / "nometa.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(UnseenError, match="not a readable safetensors"):
        load_generator(tmp_path / "junk.safetensors")


def test_unknown_preset_is_an_error():
    with pytest.raises(UnseenError, match="unknown model preset"):
        get_preset("huge")
