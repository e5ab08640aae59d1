"""Training-path benchmark on this machine: loader, index start-up, training steps.

    python benchmarks/bench_train.py

Prints the machine, balanced random-access loader throughput per worker (0 and 2
workers), the host side of the GPU data path (windows/s of float16 batches made ready
for the copy to a GPU: the batch ring against a shared-memory batch per step plus the
copy into page-locked memory), index start-up time per 1,000 recordings, and training
windows/s with the share of step time spent waiting for data (CPU; GPU with bf16 when
one is present).
Default data config (256 Hz, 60 s windows, 10 s stride). Takes about a minute.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_check import DATA_CFG, build_store, compute_only, time_training  # noqa: E402

from brain_brr.data.loader import BalancedBatchSampler, RingLoader, WindowDataset  # noqa: E402
from brain_brr.data.store import write_table_atomic  # noqa: E402
from brain_brr.train.loop import keep_freed_memory  # noqa: E402


def loader_throughput(ds: WindowDataset, workers: int, n_windows: int = 4000, batch_size: int = 32) -> float:
    """Windows/s per worker of balanced random access (cache warmed by one pass first)."""
    sampler = BalancedBatchSampler(
        ds.is_pos,
        target_pos_fraction=0.5,
        min_pos_per_batch=2,
        batch_size=batch_size,
        steps=n_windows // batch_size,
        seed=1,
    )
    if workers == 0:
        for b in sampler:  # warm the cache as a long-running worker would be
            ds[b]
    loader = DataLoader(ds, sampler=sampler, batch_size=None, num_workers=workers)
    t = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    return n / (time.perf_counter() - t) / max(1, workers)


def host_path(ds: WindowDataset, workers: int, batch_size: int, ring: bool, steps: int = 24) -> float:
    """Windows/s of batches ready for a copy to the GPU, host side only (second of two epochs).

    ``ring``: workers write into the shared batch ring; the main process copies nothing.
    Otherwise the previous path: each batch a new shared-memory tensor, then copied whole by
    the main process into page-locked memory (here a preallocated buffer stands in for it:
    page-locking needs CUDA, the copy costs the same).
    """
    sampler = BalancedBatchSampler(
        ds.is_pos, target_pos_fraction=0.5, min_pos_per_batch=2, batch_size=batch_size, steps=steps, seed=2
    )
    if ring:
        loader = RingLoader(ds, sampler, batch_size=batch_size, device=torch.device("cpu"), num_workers=workers)
    else:
        loader = DataLoader(ds, sampler=sampler, batch_size=None, num_workers=workers, persistent_workers=True)
        staging = torch.empty((batch_size, 19, ds.window_s * ds.fs), dtype=ds.signal_dtype)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        t, n = time.perf_counter(), 0
        for x, _ in loader:
            if not ring:
                staging[: len(x)].copy_(x)
            n += len(x)
    return n / (time.perf_counter() - t)


def index_startup_per_1000(tmp: Path, n_rec: int = 1000, windows_per_rec: int = 355) -> float:
    """Seconds to open the window index of 1,000 one-hour recordings (tables only, no signal)."""
    root = tmp / "index"
    rec_ids = [f"p{i:05d}_s001_t000" for i in range(n_rec)]
    write_table_atomic(
        pa.table(
            {
                "rec_id": rec_ids,
                "split": ["train"] * n_rec,
                "segment_file": [f"segments/train/{r}.parquet" for r in rec_ids],
                "duration_s": np.full(n_rec, 3600.0),
                "seizure_s": np.full(n_rec, 280.0),
            }
        ),
        root / "recordings.parquet",
    )
    rng = np.random.default_rng(0)
    n = n_rec * windows_per_rec
    write_table_atomic(
        pa.table(
            {
                "rec_id": np.repeat(rec_ids, windows_per_rec),
                "split": np.full(n, "train"),
                "seg0": np.tile(np.arange(windows_per_rec, dtype=np.int32), n_rec),
                "seizure_frac": rng.random(n, dtype=np.float32) * (rng.random(n) < 0.1),
                "is_pos": rng.random(n) < 0.1,
            }
        ),
        root / "windows.parquet",
    )
    t = time.perf_counter()
    ds = WindowDataset(root, "train", DATA_CFG)
    BalancedBatchSampler(ds.is_pos, target_pos_fraction=0.5, min_pos_per_batch=2, batch_size=32, steps=100, seed=0)
    return (time.perf_counter() - t) * 1000 / n_rec


def main() -> int:
    keep_freed_memory()  # as the train stage does
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))))
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"GPU: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        ds = build_store(tmp, recordings=6, minutes=30.0)
        print(f"synthetic store: {len(ds)} train windows (60 s, 256 Hz) built in {time.perf_counter() - t:.1f} s")
        for workers in (0, 2):
            print(
                f"loader, balanced random access, {workers} workers: "
                f"{loader_throughput(ds, workers):,.0f} windows/s per worker"
            )
        ds16 = WindowDataset(ds.root, "train", DATA_CFG, signal_dtype=torch.float16)
        for batch_size in (32, 128):
            old, new = host_path(ds16, 2, batch_size, ring=False), host_path(ds16, 2, batch_size, ring=True)
            print(
                f"GPU data path, host side, float16 batches of {batch_size}, 2 workers: "
                f"shared-memory batch + copy {old:,.0f} windows/s, batch ring {new:,.0f} windows/s ({new / old:.2f}x)"
            )
        print(f"index start-up: {index_startup_per_1000(tmp):.2f} s per 1,000 recordings (355 windows each)")
        devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
        for device in devices:
            for workers in (0, 2):
                r = time_training(
                    ds, device, steps=8 if device.type == "cpu" else 40, batch_size=32, workers=workers, warmup=2
                )
                print(
                    f"training on {device.type}{' (bf16)' if device.type == 'cuda' else ''}, "
                    f"batch 32, {workers} workers: "
                    f"{r['windows_per_s']:.0f} windows/s, data wait {r['data_wait_fraction']:.0%} of step time"
                )
            print(
                f"training on {device.type}, compute only (resident batch 32): "
                f"{compute_only(device, 32, steps=5 if device.type == 'cpu' else 20):.0f} windows/s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
