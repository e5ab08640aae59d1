"""Fixtures of the train tests: tiny processed datasets with a learnable seizure pattern."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.train.synthetic_store import FS, LABEL_RATE, STRIDE_S, WINDOW_S, make_processed

__all__ = ["FS", "LABEL_RATE", "STRIDE_S", "WINDOW_S", "make_processed", "tiny_params"]


def tiny_params(**overrides):
    """Params for the tiny datasets: 64 Hz, 20 s windows, a small model, a few short epochs."""
    from brain_brr.config import parse_params

    raw = {
        "data": {
            "sampling_rate": FS,
            "window_s": WINDOW_S,
            "stride_s": STRIDE_S,
            "label_rate": LABEL_RATE,
            "bandpass_high": 30.0,
        },
        "model": {"width": 16, "depth": 3, "dropout": 0.0},
        "train": {
            "batch_size": 16,
            "epochs": 3,
            "steps_per_epoch": 12,
            "lr": 3e-3,
            "warmup_steps": 3,
            "max_val_windows": 200,
            "device": "cpu",
            "patience": 5,
        },
        "sampler": {"target_pos_fraction": 0.5, "min_pos_per_batch": 2},
    }
    for key, value in overrides.items():
        node = raw
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return parse_params(raw)


@pytest.fixture(scope="session")
def tiny_processed(tmp_path_factory) -> Path:
    """A shared read-only tiny corpus (10 recordings of 4 min); returns its root (holds data/ and metrics/)."""
    root = tmp_path_factory.mktemp("tiny")
    make_processed(root)
    return root
