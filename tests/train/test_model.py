import json

import pytest
import torch

from brain_brr.config import ModelConfig
from brain_brr.data.derivation import DERIVATION
from brain_brr.errors import InputError
from brain_brr.train.model import build_detector, load_detector, save_detector


@pytest.mark.parametrize("fs,label_rate,window_s", [(256, 1, 60), (256, 4, 10), (200, 2, 12), (250, 1, 6)])
def test_window_shape(fs, label_rate, window_s):
    model = build_detector(ModelConfig(width=8, depth=2), fs, label_rate, window_s)
    out = model(torch.randn(3, 19, window_s * fs))
    assert out.shape == (3, window_s * label_rate)
    assert out.dtype == torch.float32


def test_any_length_multiple_of_step():
    model = build_detector(ModelConfig(width=8, depth=3), 256, 1, 60).eval()
    for n_steps in (1, 7, 61, 600):
        assert model(torch.randn(1, 19, n_steps * 256)).shape == (1, n_steps)
    with pytest.raises(ValueError, match="multiple"):
        model(torch.randn(1, 19, 300))


def test_save_load_roundtrip(tmp_path):
    cfg = ModelConfig(width=8, depth=2, dropout=0.0)
    model = build_detector(cfg, 256, 1, 10)
    config = {
        "model": cfg.model_dump(),
        "data": {"sampling_rate": 256, "window_s": 10},
        "label_rate": 1,
        "derivation": DERIVATION,
        "thresholds": {"tau_on": 0.7},
    }
    save_detector(tmp_path / "det", model, config)
    loaded, cfg_back = load_detector(tmp_path / "det")
    assert not loaded.training
    assert cfg_back == json.loads((tmp_path / "det" / "config.json").read_text())
    x = torch.randn(2, 19, 10 * 256)
    model.eval()
    assert torch.equal(model(x), loaded(x))
    assert not list((tmp_path / "det").glob(".*tmp*"))


def test_load_missing_dir_names_file(tmp_path):
    with pytest.raises(InputError, match="config.json"):
        load_detector(tmp_path / "nothing")
