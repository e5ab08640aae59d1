"""Checkpoints and model files load with weights_only=True: a pickled object is refused, not run."""

import os

import pytest
import torch

from brain_brr.config import ModelConfig
from brain_brr.data.derivation import DERIVATION
from brain_brr.errors import InputError
from brain_brr.train.checkpoint import load_checkpoint
from brain_brr.train.model import build_detector, load_detector, save_detector


class Payload:
    """Unpickling this would run code (os.system) if arbitrary objects were allowed."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pickled_object_in_checkpoint_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "last.pt"
    torch.save({"model": {}, "extra": Payload()}, path)
    with pytest.raises(InputError, match="weights_only=True"):
        load_checkpoint(path)
    assert not (tmp_path / "pwned").exists()


def test_pickled_object_in_model_dir_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = build_detector(ModelConfig(width=8, depth=1), 64, 1, 20)
    save_detector(
        tmp_path / "m",
        model,
        {
            "model": ModelConfig(width=8, depth=1).model_dump(),
            "data": {"sampling_rate": 64, "window_s": 20},
            "label_rate": 1,
            "derivation": DERIVATION,
        },
    )
    torch.save(Payload(), tmp_path / "m" / "model.pt")
    with pytest.raises(InputError, match="refused to load"):
        load_detector(tmp_path / "m")
    assert not (tmp_path / "pwned").exists()


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    torch.save({"w": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match="not a readable checkpoint"):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_config_are_a_clear_error(tmp_path):
    small = build_detector(ModelConfig(width=8, depth=1), 64, 1, 20)
    save_detector(
        tmp_path / "m",
        small,
        {
            "model": ModelConfig(width=16, depth=2).model_dump(),
            "data": {"sampling_rate": 64, "window_s": 20},
            "label_rate": 1,
            "derivation": DERIVATION,
        },
    )
    with pytest.raises(InputError, match="do not fit together"):
        load_detector(tmp_path / "m")
