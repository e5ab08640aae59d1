"""Sliding-window inference: window placement, stitching by averaging, padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from brain_brr.eval.inference import infer_recording, infer_split, sliding_starts


def test_window_starts_cover_the_end():
    assert sliding_starts(100, 20, 10) == [0, 10, 20, 30, 40, 50, 60, 70, 80]
    assert sliding_starts(95, 20, 10) == [0, 10, 20, 30, 40, 50, 60, 70, 75]
    assert sliding_starts(10, 20, 10) == [0]


class PositionModel(torch.nn.Module):
    """Logit = position of the step inside its window: stitching must average these."""

    def forward(self, x):
        steps = x.shape[-1] // 4
        return torch.arange(steps, dtype=torch.float32).expand(x.shape[0], steps)


class StepMeanModel(torch.nn.Module):
    """Logit = mean of the step's samples: no context, so any windowing gives the same trace."""

    def forward(self, x):
        b, c, t = x.shape
        return x.reshape(b, c, t // 4, 4).mean(dim=(1, 3))


def test_overlaps_are_averaged():
    fs, rate, n_steps = 4, 1, 25  # 4 samples per step
    probs = infer_recording(
        PositionModel(),
        np.zeros((19, n_steps * fs), np.float32),
        fs=fs,
        label_rate=rate,
        window_s=10,
        hop_s=5,
        batch_size=2,
    )
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    expected = np.zeros(n_steps)
    count = np.zeros(n_steps)
    for s in sliding_starts(n_steps, 10, 5):  # [0, 5, 10, 15]
        expected[s : s + 10] += sig(np.arange(10))
        count[s : s + 10] += 1
    np.testing.assert_allclose(probs, expected / count, rtol=1e-6)
    # step 7 is seen by windows starting at 0 (position 7) and 5 (position 2)
    assert probs[7] == pytest.approx((sig(7) + sig(2)) / 2, rel=1e-6)


def test_context_free_model_is_window_independent_and_padding_is_cut():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(19, 4 * 23 + 2)).astype(np.float32)  # 23.5 steps -> 24 steps, last one zero-padded
    probs = infer_recording(StepMeanModel(), x, fs=4, label_rate=1, window_s=10, hop_s=3)
    assert probs.shape == (24,)
    padded = np.zeros((19, 96), np.float32)
    padded[:, : x.shape[1]] = x
    direct = 1 / (1 + np.exp(-padded.reshape(19, 24, 4).mean(axis=(0, 2))))
    np.testing.assert_allclose(probs, direct, rtol=1e-5)
    short = infer_recording(StepMeanModel(), x[:, :20], fs=4, label_rate=1, window_s=10)
    assert short.shape == (5,)
    np.testing.assert_allclose(short, direct[:5], rtol=1e-5)


def test_infer_split_reads_the_store(eval_assets):
    from tests.eval.helpers import FS, LABEL_RATE, RECORDINGS, WINDOW_S

    processed, _, model = eval_assets
    preds = infer_split(model, processed, "eval", fs=FS, label_rate=LABEL_RATE, window_s=WINDOW_S)
    assert [p.rec_id for p in preds] == sorted(r[0] for r in RECORDINGS["eval"])
    for p in preds:
        assert len(p.probs) == len(p.labels) == int(np.ceil(p.duration_s))
        assert p.probs.dtype == np.float32 and p.probs.min() >= 0 and p.probs.max() <= 1
    with pytest.raises(Exception, match="label_rate"):
        infer_split(model, processed, "eval", fs=128, label_rate=LABEL_RATE, window_s=WINDOW_S)
