"""The larger detector (model.arch: unet_transformer), at a tiny size on CPU: shapes, save/load, training, DDP."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
import yaml

from brain_brr.config import ModelConfig, parse_params
from brain_brr.data.derivation import DERIVATION
from brain_brr.errors import ConfigError
from brain_brr.train.model import build_detector, load_detector, save_detector
from brain_brr.train.unet_transformer import UNetTransformer
from tests.conftest import run_stage
from tests.train.conftest import make_processed, tiny_params
from tests.train.test_distributed import _train

TINY = ModelConfig(arch="unet_transformer", width=8, depth=1, heads=2, dropout=0.0)


@pytest.mark.parametrize("fs,label_rate,window_s", [(256, 1, 60), (256, 4, 10), (200, 2, 12), (250, 1, 6)])
def test_window_shape(fs, label_rate, window_s):
    model = build_detector(TINY, fs, label_rate, window_s)
    assert isinstance(model, UNetTransformer)
    out = model(torch.randn(2, 19, window_s * fs))
    assert out.shape == (2, window_s * label_rate) and out.dtype == torch.float32


def test_any_length_multiple_of_step_and_no_leak_from_padding():
    model = build_detector(TINY, 64, 1, 20).eval()
    for n_steps in (1, 3, 7, 61, 600):  # 1, 3, 7, 61: padded to a multiple of 4 tokens inside
        assert model(torch.randn(1, 19, n_steps * 64)).shape == (1, n_steps)
    with pytest.raises(ValueError, match="multiple"):
        model(torch.randn(1, 19, 100))


def test_every_output_step_sees_the_whole_window():
    """Attention over time: changing the first second moves the logit of the last step."""
    model = build_detector(TINY, 64, 1, 32).eval()
    x = torch.randn(1, 19, 32 * 64)
    y = x.clone()
    y[:, :, :64] += 5.0
    with torch.no_grad():
        assert not torch.allclose(model(x)[0, -1], model(y)[0, -1])


def test_larger_than_the_tcn_at_the_defaults():
    def n(cfg):
        return sum(p.numel() for p in build_detector(cfg, 256, 1, 60).parameters())

    assert n(ModelConfig(arch="unet_transformer")) > 20 * n(ModelConfig())


def test_heads_must_divide_the_transformer_width():
    with pytest.raises(ConfigError, match=r"model.heads=3 does not divide"):
        parse_params({"model": {"arch": "unet_transformer", "width": 8, "heads": 3}})
    parse_params({"model": {"arch": "tcn", "width": 8, "heads": 3}})  # unused by the TCN


def test_save_load_roundtrip_through_config_json(tmp_path):
    model = build_detector(TINY, 64, 1, 20)
    config = {
        "model": TINY.model_dump(),
        "data": {"sampling_rate": 64, "window_s": 20},
        "label_rate": 1,
        "derivation": DERIVATION,
    }
    save_detector(tmp_path / "det", model, config)
    assert json.loads((tmp_path / "det" / "config.json").read_text())["model"]["arch"] == "unet_transformer"
    loaded, _ = load_detector(tmp_path / "det")
    assert isinstance(loaded, UNetTransformer) and not loaded.training
    x = torch.randn(2, 19, 20 * 64)
    model.eval()
    assert torch.equal(model(x), loaded(x))


def test_config_json_without_arch_loads_the_tcn(tmp_path):
    """Model directories written before model.arch existed keep loading."""
    cfg = ModelConfig(width=8, depth=2)
    dump = {k: v for k, v in cfg.model_dump().items() if k not in ("arch", "heads")}
    config = {"model": dump, "data": {"sampling_rate": 64, "window_s": 20}, "label_rate": 1, "derivation": DERIVATION}
    save_detector(tmp_path / "det", build_detector(cfg, 64, 1, 20), config)
    loaded, _ = load_detector(tmp_path / "det")
    assert not isinstance(loaded, UNetTransformer)


def test_trains_with_augmentation_through_the_stage(tmp_path, mlflow_store):
    make_processed(tmp_path)
    arch = {"model.arch": "unet_transformer", "model.width": 8, "model.depth": 1, "model.heads": 2}
    run_stage("train", tiny_params(**arch, **{"augment.enabled": True}))
    metrics = json.loads((tmp_path / "metrics/train.json").read_text())
    assert metrics["red_flags"] == [] and metrics["zero_pos_batches"] == 0 and metrics["batch_pos_ratio_min"] >= 2 / 16
    assert metrics["val_auroc_best"] > 0.6, metrics  # the tiny store, 36 steps: it learns, no more is claimed
    model, config = load_detector(tmp_path / "models/detector")
    assert isinstance(model, UNetTransformer) and config["train_params"]["augment"]["enabled"] is True


@pytest.mark.skipif(sys.platform == "win32", reason="gloo over torchrun")
def test_two_ranks_match_single_process(tmp_path, mlflow_store):
    make_processed(tmp_path, recordings={"train": 4, "dev": 1}, minutes=3.0)
    params = tiny_params(
        **{
            "train.epochs": 1,
            "train.steps_per_epoch": 6,
            "model.arch": "unet_transformer",
            "model.width": 8,
            "model.depth": 1,
            "model.heads": 2,
            "model.dropout": 0.0,
        }
    )
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params.model_dump()))
    _, m1, _, loss1 = _train(tmp_path, params_file, 1)
    _, m2, run2, loss2 = _train(tmp_path, params_file, 2)
    assert run2.info.status == "FINISHED" and run2.data.params["model.arch"] == "unet_transformer"
    assert m2["zero_pos_batches"] == 0 and len(loss2) == len(loss1) == 6
    np.testing.assert_allclose(loss2, loss1, rtol=1e-4)
