"""Batch augmentation: each one alone does what it says, labels follow the signal, draws are seeded."""

from __future__ import annotations

import pytest
import torch

from brain_brr.config import AugmentConfig
from brain_brr.data.channels import CHANNELS
from brain_brr.train.augment import Augmenter, mirror_index

B, S, FACTOR = 6, 20, 16  # windows, label steps, samples per label step
OFF = dict.fromkeys(("mix_p", "time_shift_p", "mirror_p", "amplitude_p", "channel_dropout_p", "noise_p"), 0.0)


def only(**kw) -> Augmenter:
    return Augmenter(AugmentConfig(enabled=True, **{**OFF, **kw}), label_rate=1, seed=0)


def batch(n_pos: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample holds its label step index + 1000 * channel + 100000 * window: its origin is readable."""
    steps = torch.arange(S * FACTOR) // FACTOR
    channel, window = torch.arange(19)[None, :, None], torch.arange(B)[:, None, None]
    x = (steps[None, None, :] + 1000 * channel + 100000 * window).float()
    y = torch.zeros(B, S)
    y[:n_pos, 5:12] = 1.0
    return x, y


def test_disabled_is_the_identity_and_all_zero_probabilities_change_nothing():
    x, y = batch()
    out = Augmenter(AugmentConfig(), label_rate=1, seed=0)(x, y, 1)
    assert out[0] is x and out[1] is y
    x2, y2 = only()(x, y, 1)
    assert torch.equal(x2, x) and torch.equal(y2, y)


def test_mirror_swaps_hemispheres_and_keeps_the_midline():
    assert [CHANNELS[i] for i in mirror_index()][:7] == ["FP2", "FP1", "F8", "F4", "FZ", "F3", "F7"]
    assert mirror_index()[mirror_index()[3]] == 3
    x, y = batch()
    x2, y2 = only(mirror_p=1.0)(x, y, 1)
    assert torch.equal(x2, x[:, mirror_index()]) and torch.equal(y2, y)
    assert torch.equal(x2[:, CHANNELS.index("CZ")], x[:, CHANNELS.index("CZ")])


def test_time_shift_moves_labels_with_the_signal():
    x, y = batch()
    x2, y2 = only(time_shift_p=1.0, time_shift_max_s=4)(x, y, 3)
    step_of = (x2 % 1000).long()  # the label step each sample came from
    shift = (torch.arange(S * FACTOR) // FACTOR)[None, :] - step_of[:, 0, :]  # (B, T), constant per window mod S
    assert any(int(s[0]) != 0 for s in shift)
    for b in range(B):
        k = int(shift[b, 0]) % S
        assert k <= 4 or k >= S - 4
        assert torch.equal(y2[b], torch.roll(y[b], k))
        assert torch.equal(x2[b], torch.roll(x[b], k * FACTOR, dims=-1))
    assert torch.equal(y2.sum(1), y.sum(1))  # every seizure window stays one


def test_amplitude_scales_each_window_within_bounds():
    x, y = batch()
    x = x + 1.0
    x2, _ = only(amplitude_p=1.0, amplitude_max=1.5)(x, y, 1)
    ratio = x2 / x
    per_window = ratio[:, 0, 0]
    assert torch.allclose(ratio, per_window[:, None, None].expand_as(ratio))
    assert bool(((per_window >= 1 / 1.5 - 1e-6) & (per_window <= 1.5 + 1e-6)).all())
    assert len(set(per_window.tolist())) == B


def test_channel_dropout_zeroes_one_to_max_channels():
    x, y = batch()
    x = x + 1.0
    x2, _ = only(channel_dropout_p=1.0, channel_dropout_max=3)(x, y, 2)
    dropped = (x2 == 0).all(dim=2).sum(dim=1)
    assert bool(((dropped >= 1) & (dropped <= 3)).all())
    kept = (x2 != 0).all(dim=2)
    assert torch.equal(x2[kept], x[kept])


def test_noise_has_the_configured_spread():
    x = torch.zeros(B, 19, 4096)
    y = torch.zeros(B, 256)
    x2, _ = Augmenter(AugmentConfig(enabled=True, **{**OFF, "noise_p": 1.0, "noise_std": 0.2}), label_rate=1, seed=0)(
        x, y, 1
    )
    assert float(x2.std()) == pytest.approx(0.2, rel=0.02)
    assert not x.any()  # the input batch is never written to


def test_mix_adds_background_to_seizure_windows_only():
    _, y = batch(n_pos=3)
    x = torch.randn(B, 19, S * FACTOR, generator=torch.Generator().manual_seed(0))
    x2, y2 = only(mix_p=1.0, mix_max=0.6)(x, y, 1)
    assert torch.equal(y2, y)
    assert torch.equal(x2[3:], x[3:])  # background windows untouched
    w = torch.linspace(0, 0.6, 6001)[:, None, None]
    for b in range(3):
        # x2 = (x + w * x_j) / sqrt(1 + w^2) for one background window j and one w in [0, 0.6]
        fits = [
            float(((x[b, :2] + w * x[j, :2]) / torch.sqrt(1 + w**2) - x2[b, :2]).abs().amax(dim=(1, 2)).min())
            for j in range(3, B)
        ]
        assert min(fits) < 1e-3 and not torch.equal(x2[b], x[b])


def test_mix_without_background_in_the_batch_is_a_no_op():
    x, y = batch(n_pos=B)
    x2, _ = only(mix_p=1.0)(x, y, 1)
    assert torch.equal(x2, x)


def test_seeded_by_seed_step_and_rank():
    x, y = batch()
    cfg = AugmentConfig(enabled=True)
    a = Augmenter(cfg, label_rate=1, seed=0)
    first = a(x, y, 7)
    assert all(torch.equal(u, v) for u, v in zip(first, Augmenter(cfg, label_rate=1, seed=0)(x, y, 7)))
    assert not torch.equal(first[0], a(x, y, 8)[0])
    assert not torch.equal(first[0], Augmenter(cfg, label_rate=1, seed=1)(x, y, 7)[0])
    assert not torch.equal(first[0], Augmenter(cfg, label_rate=1, seed=0, rank=1)(x, y, 7)[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_the_gpu_and_is_reproducible_there():
    x, y = batch()
    x, y = x.cuda(), y.cuda()
    a = Augmenter(AugmentConfig(enabled=True), label_rate=1, seed=0)
    x1, y1 = a(x, y, 3)
    x2, y2 = a(x, y, 3)
    assert x1.device == x.device and torch.equal(x1, x2) and torch.equal(y1, y2)
