import numpy as np
import pytest

from brain_brr.data.loader import BalancedBatchSampler, WindowDataset, create_balanced_sampler
from brain_brr.data.store import read_recording
from brain_brr.errors import InputError
from tests.train.conftest import FS, LABEL_RATE, STRIDE_S, WINDOW_S, make_processed, tiny_params


def test_window_matches_recording(tiny_processed):
    params = tiny_params()
    ds = WindowDataset(tiny_processed / "data/processed", "train", params.data)
    assert len(ds) > 0 and ds.is_pos.any() and not ds.is_pos.all()
    for i in (0, 1, 7, len(ds) - 1, int(np.flatnonzero(ds.is_pos)[0])):
        x, y = ds[i]
        assert x.shape == (19, WINDOW_S * FS) and y.shape == (WINDOW_S * LABEL_RATE,)
        assert str(x.dtype) == "torch.float32" and str(y.dtype) == "torch.float32"
        signal, labels, _ = read_recording(ds.files[ds.rec_idx[i]])
        a = int(ds.seg0[i]) * STRIDE_S
        np.testing.assert_array_equal(x.numpy(), signal[:, a * FS : (a + WINDOW_S) * FS].astype(np.float32))
        np.testing.assert_array_equal(y.numpy(), labels[a * LABEL_RATE : (a + WINDOW_S) * LABEL_RATE])
        assert bool(y.sum() > 0) == bool(ds.is_pos[i])


def test_cache_stays_within_budget(tiny_processed):
    params = tiny_params()
    ds = WindowDataset(tiny_processed / "data/processed", "train", params.data, cache_bytes=1 << 20)
    rng = np.random.default_rng(0)
    first = ds[3][0].numpy().copy()
    for i in rng.integers(0, len(ds), 300):
        ds[int(i)]
        assert ds._cached_bytes <= (1 << 20) or len(ds._cache) == 1
    np.testing.assert_array_equal(ds[3][0].numpy(), first)


def test_missing_store_names_file_and_fix(tmp_path):
    with pytest.raises(InputError, match=r"recordings.parquet.*dvc repro ingest"):
        WindowDataset(tmp_path, "train", tiny_params().data)


def test_mismatched_rate_names_file(tiny_processed):
    params = tiny_params(**{"data.sampling_rate": 128, "data.bandpass_high": 60.0})
    ds = WindowDataset(tiny_processed / "data/processed", "train", params.data)
    with pytest.raises(InputError, match=r"segments/train/.*fs, label_rate, stride_s = \(64, 1, 5\)"):
        ds[0]


def _sampler(is_pos, batch_size=16, steps=500, seed=0, rank=0, world_size=1, target=0.5, min_pos=2):
    return BalancedBatchSampler(
        np.asarray(is_pos, bool),
        target_pos_fraction=target,
        min_pos_per_batch=min_pos,
        batch_size=batch_size,
        steps=steps,
        seed=seed,
        rank=rank,
        world_size=world_size,
    )


def _n_pos(batch, is_pos):
    return int(np.asarray(is_pos)[batch].sum())


def test_guarantee_over_thousands_of_batches():
    rng = np.random.default_rng(1)
    is_pos = rng.random(20_000) < 0.03
    s = _sampler(is_pos, batch_size=32, steps=1000, target=0.25, min_pos=3)
    counts = []
    for epoch in range(3):
        s.set_epoch(epoch)
        batches = list(s)
        assert len(batches) == 1000
        for b in batches:
            assert len(b) == 32
            counts.append(_n_pos(b, is_pos))
    assert min(counts) >= 3
    assert abs(np.mean(counts) / 32 - 0.25) < 0.02


def test_min_pos_wins_over_low_target():
    is_pos = np.r_[np.ones(50, bool), np.zeros(5000, bool)]
    s = _sampler(is_pos, batch_size=16, steps=200, target=0.01, min_pos=4)
    assert min(_n_pos(b, is_pos) for b in s) >= 4


def test_deterministic_by_seed_and_epoch():
    is_pos = np.random.default_rng(2).random(3000) < 0.1
    a, b, c = _sampler(is_pos, seed=5), _sampler(is_pos, seed=5), _sampler(is_pos, seed=6)
    assert list(a) == list(b)
    assert list(a) != list(c)
    a.set_epoch(1)
    assert list(a) != list(b)


def test_resume_mid_epoch_state():
    is_pos = np.random.default_rng(3).random(3000) < 0.1
    full = _sampler(is_pos, steps=50)
    full.set_epoch(2)
    expected = list(full)
    resumed = _sampler(is_pos, steps=50)
    resumed.load_state_dict({"epoch": 2, "start_step": 20, "seed": 0})
    assert len(resumed) == 30
    assert list(resumed) == expected[20:]


def test_few_positives_are_reused():
    is_pos = np.zeros(1000, bool)
    is_pos[[10, 500, 900]] = True
    s = _sampler(is_pos, batch_size=16, steps=100, target=0.5)
    batches = list(s)
    assert all(_n_pos(b, is_pos) == 8 for b in batches)
    used = {i for b in batches for i in b if is_pos[i]}
    assert used == {10, 500, 900}


def test_scarce_and_absent_negatives():
    is_pos = np.r_[np.ones(500, bool), np.zeros(3, bool)]
    batches = list(_sampler(is_pos, batch_size=16, steps=50, target=0.5))
    assert all(len(b) == 16 and _n_pos(b, is_pos) == 8 for b in batches)
    only_pos = list(_sampler(np.ones(40, bool), batch_size=16, steps=10, target=0.5))
    assert all(len(b) == 16 for b in only_pos)


def test_sharding_by_rank_disjoint_with_guarantee_per_rank():
    is_pos = np.random.default_rng(4).random(5000) < 0.05
    single = list(_sampler(is_pos, batch_size=32, steps=300, target=0.25, min_pos=2))
    ranks = [
        list(_sampler(is_pos, batch_size=32, steps=300, target=0.25, min_pos=2, rank=r, world_size=4)) for r in range(4)
    ]
    for step in range(300):
        parts = [ranks[r][step] for r in range(4)]
        assert all(len(p) == 8 and _n_pos(p, is_pos) >= 2 for p in parts)
        # Together the ranks draw exactly the single-process global batch (negatives and positives are
        # disjoint within a batch unless the pool had to be reused).
        assert sorted(i for p in parts for i in p) == sorted(single[step])


@pytest.mark.parametrize("target, world_size", [(0.3, 4), (0.1, 3), (0.5, 8)])
def test_uneven_positive_counts_still_give_equal_rank_batches(target, world_size):
    is_pos = np.random.default_rng(5).random(4000) < 0.08
    batch = 24 if world_size == 3 else 32
    ranks = [
        list(_sampler(is_pos, batch_size=batch, steps=200, target=target, min_pos=1, rank=r, world_size=world_size))
        for r in range(world_size)
    ]
    for step in range(200):
        parts = [ranks[r][step] for r in range(world_size)]
        assert {len(p) for p in parts} == {batch // world_size}
        assert len({_n_pos(p, is_pos) for p in parts}) == 1 and _n_pos(parts[0], is_pos) >= 1


def test_create_prints_contract_lines(tiny_processed, capsys):
    params = tiny_params()
    ds = WindowDataset(tiny_processed / "data/processed", "train", params.data)
    s = create_balanced_sampler(ds, params, seizure_ratio=0.0784)
    out = capsys.readouterr().out
    n_pos, n_neg = ds.is_pos.sum(), (~ds.is_pos).sum()
    assert "[SAMPLER] Creating positive-aware balanced sampler..." in out
    assert "[SAMPLER] Seizure ratio: 7.84%" in out
    assert f"[SAMPLER] Positive weight: {n_neg / n_pos:.2f}" in out
    assert all(ds.is_pos[b].sum() >= 2 for b in s)


def test_balanced_sampler_never_falls_back_to_uniform(tmp_path, capsys):
    make_processed(tmp_path, recordings={"train": 2, "dev": 1}, minutes=1.0, seizures_per_rec=0)
    params = tiny_params()
    ds = WindowDataset(tmp_path / "data/processed", "train", params.data)
    with pytest.raises(InputError, match="none holds a seizure label: nothing to balance with"):
        create_balanced_sampler(ds, params, seizure_ratio=0.0)


def test_shuffled_sampler_when_balancing_off(tiny_processed):
    params = tiny_params(use_balanced_sampling=False)
    ds = WindowDataset(tiny_processed / "data/processed", "train", params.data)
    s = create_balanced_sampler(ds, params, seizure_ratio=0.1)
    batches = list(s)
    assert len(batches) == params.train.steps_per_epoch
    assert len({i for b in batches for i in b}) == len(batches) * params.train.batch_size  # one pass, no repeats


def test_batch_fetch_equals_single_windows_also_in_workers(tiny_processed):
    import torch
    from torch.utils.data import DataLoader

    params = tiny_params()
    ds = WindowDataset(tiny_processed / "data/processed", "train", params.data)
    s = create_balanced_sampler(ds, params, seizure_ratio=0.1, verbose=False)
    batches = list(s)[:4]
    for workers in (0, 2):
        loader = DataLoader(ds, sampler=batches, batch_size=None, num_workers=workers)
        for idx, (x, y) in zip(batches, loader):
            assert x.shape == (16, 19, WINDOW_S * FS) and y.shape == (16, WINDOW_S * LABEL_RATE)
            assert torch.equal(x, torch.stack([ds[i][0] for i in idx]))
            assert torch.equal(y, torch.stack([ds[i][1] for i in idx]))


def test_sampled_label_ratio_reflects_the_batches():
    from brain_brr.data.loader import sampled_label_ratio

    is_pos = np.r_[np.ones(100, bool), np.zeros(900, bool)]
    frac = np.where(is_pos, 0.25, 0.0)
    s = _sampler(is_pos, batch_size=16, target=0.5)
    # Half the windows positive with a quarter of their steps seizure: 1/8 of steps positive -> ratio 7.
    assert sampled_label_ratio(s, frac, 50) == pytest.approx(7.0)


def test_float16_signals_are_the_stored_values(tiny_processed):
    import torch

    params = tiny_params()
    f32 = WindowDataset(tiny_processed / "data/processed", "train", params.data)
    f16 = WindowDataset(tiny_processed / "data/processed", "train", params.data, signal_dtype=torch.float16)
    x16, y16 = f16[[0, 5, 9]]
    assert x16.dtype == torch.float16 and y16.dtype == torch.float32
    x32, y32 = f32[[0, 5, 9]]
    assert torch.equal(x16.float(), x32) and torch.equal(y16, y32)


@pytest.mark.parametrize("workers", [0, 2])
def test_ring_loader_gives_the_sampled_batches_across_epochs_and_breaks(tiny_processed, workers):
    import torch

    from brain_brr.data.loader import RingLoader

    params = tiny_params()
    ds = WindowDataset(tiny_processed / "data/processed", "train", params.data, signal_dtype=torch.float16)
    s = create_balanced_sampler(ds, params, seizure_ratio=0.1, verbose=False)
    loader = RingLoader(ds, s, batch_size=16, device=torch.device("cpu"), num_workers=workers)
    assert loader.ring.slots == max(1, workers) * 2 + 3 and len(loader) == 12
    # Epoch 0 broken off after 3 batches (an interrupt), then two whole epochs on the same workers:
    # every batch is the sampler's, although slots are reused many times over.
    for epoch, stop in ((0, 3), (1, None), (2, None)):
        s.set_epoch(epoch)
        expected = list(s)[:stop]
        got = 0
        for idx, (x, y) in zip(expected, loader):
            assert x.dtype == torch.float16 and x.shape == (16, 19, WINDOW_S * FS)
            assert y.shape == (16, WINDOW_S * LABEL_RATE)
            want_x, want_y = ds[idx]
            assert torch.equal(x, want_x) and torch.equal(y, want_y)
            got += 1
        assert got == len(expected)
    assert loader.slots.count >= 12 * 2 + 3 > loader.ring.slots
