import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from brain_brr.data.stats import load_stats, train_pos_weight
from brain_brr.errors import InputError
from brain_brr.train.focal import GUARD_LINE, build_loss, focal_loss, init_lines, resolve_pos_weight, weighted_bce
from tests.train.conftest import tiny_params


def reference_focal(x, y, alpha, gamma, pw):
    """Textbook formula in float64 numpy: p = sigmoid(x), p_t, alpha_t, BCE with pos_weight."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    p = 1 / (1 + np.exp(-x))
    p_t = p * y + (1 - p) * (1 - y)
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    bce = -(pw * y * np.log(p) + (1 - y) * np.log(1 - p))
    return alpha_t * (1 - p_t) ** gamma * bce


@pytest.mark.parametrize(
    "alpha,gamma,pw", [(0.5, 2.0, 1.0), (0.25, 2.0, 1.0), (0.5, 1.5, 3.86), (0.75, 0.5, 1.0), (0.5, 0.0, 2.0)]
)
def test_matches_reference(alpha, gamma, pw):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, 500)
    y = (rng.random(500) < 0.3).astype(np.float64)
    got = focal_loss(torch.tensor(x), torch.tensor(y), alpha=alpha, gamma=gamma, pos_weight=pw).numpy()
    np.testing.assert_allclose(got, reference_focal(x, y, alpha, gamma, pw), rtol=1e-10, atol=1e-12)


def test_gamma_zero_is_weighted_bce():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(0, 2, 300))
    y = torch.tensor((rng.random(300) < 0.5).astype(np.float64))
    fl = focal_loss(x, y, alpha=0.5, gamma=0.0, pos_weight=3.0)
    torch_bce = F.binary_cross_entropy_with_logits(x, y, pos_weight=torch.tensor(3.0), reduction="none")
    torch.testing.assert_close(fl, 0.5 * torch_bce)
    torch.testing.assert_close(weighted_bce(x, y, 3.0), torch_bce)


def test_neutral_alpha_weights_classes_equally():
    x = torch.tensor([1.3, -1.3])
    loss = focal_loss(x, torch.tensor([1.0, 0.0]), alpha=0.5, gamma=2.0, pos_weight=None)
    torch.testing.assert_close(loss[0], loss[1])


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_extreme_logits_finite_with_finite_grads(gamma):
    x = torch.tensor([100.0, -100.0, 100.0, -100.0, 0.0], requires_grad=True)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0])
    loss = focal_loss(x, y, alpha=0.5, gamma=gamma, pos_weight=4.0)
    assert torch.isfinite(loss).all()
    loss.sum().backward()
    assert torch.isfinite(x.grad).all()
    # Confidently wrong predictions cost ~|x| (scaled), confidently right ones ~0.
    assert loss[2] > 40 and loss[3] > 40 and loss[0] < 1e-6 and loss[1] < 1e-6


def _corpus():
    return 11.75


def _no_batches():
    raise AssertionError("the sampled batches are read only for train.pos_weight_source=batches")


def test_guard_disables_pos_weight_when_alpha_not_neutral():
    assert resolve_pos_weight(tiny_params(focal_alpha=0.25), _corpus, _no_batches) is None
    assert init_lines(tiny_params(focal_alpha=0.25))[1] == GUARD_LINE
    assert GUARD_LINE == "[INIT] FOCAL: alpha != 0.5 → disabling pos_weight to avoid double-counting"
    assert resolve_pos_weight(tiny_params(focal_alpha=0.5 + 1e-7), _corpus, _no_batches) == 11.75
    assert GUARD_LINE not in init_lines(tiny_params(focal_alpha=0.5 + 1e-7))
    assert GUARD_LINE not in init_lines(tiny_params(focal_alpha=0.25, pos_weight="none"))  # nothing to disable


def test_pos_weight_sources():
    assert resolve_pos_weight(tiny_params(), _corpus, _no_batches) == 11.75
    assert resolve_pos_weight(tiny_params(pos_weight=2.5), _corpus, _no_batches) == 2.5
    assert resolve_pos_weight(tiny_params(pos_weight="none"), _corpus, _no_batches) is None
    assert resolve_pos_weight(tiny_params(loss="bce", focal_alpha=0.25), _corpus, _no_batches) == 11.75
    assert resolve_pos_weight(tiny_params(**{"train.pos_weight_source": "batches"}), _corpus, lambda: 1.7) == 1.7


def test_auto_pos_weight_without_stats_names_file_and_command(tmp_path):
    path = tmp_path / "metrics" / "stats.json"
    with pytest.raises(InputError, match=r"stats.json: missing.*dvc repro stats"):
        load_stats(path)
    path.parent.mkdir()
    path.write_text(json.dumps({"train": {"pos_weight": None}}))
    with pytest.raises(InputError, match=r"train.pos_weight is None.*dvc repro stats"):
        train_pos_weight(load_stats(path), path)


def test_init_line_and_built_loss():
    assert init_lines(tiny_params()) == ["[INIT] Using FOCAL loss (alpha=0.5, gamma=2.0)"]
    assert (
        init_lines(tiny_params(focal_alpha=0.25, focal_gamma=1.0))[0]
        == "[INIT] Using FOCAL loss (alpha=0.25, gamma=1.0)"
    )
    loss = build_loss(tiny_params(), 2.0)
    x, y = torch.tensor([0.3, -0.2]), torch.tensor([1.0, 0.0])
    torch.testing.assert_close(loss(x, y), focal_loss(x, y, alpha=0.5, gamma=2.0, pos_weight=2.0))
    bce = build_loss(tiny_params(loss="bce"), 2.0)
    torch.testing.assert_close(bce(x, y), weighted_bce(x, y, 2.0))
