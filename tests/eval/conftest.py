"""Fixtures of the evaluation tests (data and model helpers in ``helpers.py``)."""

from __future__ import annotations

import pytest
import torch

from brain_brr.config import parse_params
from tests.eval.helpers import tiny_raw, train_briefly, write_store


@pytest.fixture(scope="session")
def eval_assets(tmp_path_factory):
    """(processed dir, params, trained model) shared by the tests of this folder (read-only)."""
    torch.set_num_threads(1)
    processed = tmp_path_factory.mktemp("assets") / "processed"
    write_store(processed)
    params = parse_params(tiny_raw(processed))
    return processed, params, train_briefly(params, processed)
