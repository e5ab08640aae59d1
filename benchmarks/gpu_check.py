"""GPU check of the training path: synthetic store -> balanced loader -> bf16 steps.

Self-contained for a GPU machine without network: needs torch, numpy and pyarrow (no
pydantic, no MLflow). Builds a default-config processed dataset (256 Hz, 60 s windows,
10 s stride) in a temp dir, runs training steps with bf16 autocast and DataLoader workers,
prints the numbers and writes them as JSON to ``$OUT/gpu_check.json`` (or the cwd).

    python benchmarks/gpu_check.py [--steps 60] [--batch-size 32] [--workers 6]
        [--loader ring|dataloader|both] [--arch tcn|unet_transformer]

``ring`` is the train stage's path (workers write into a page-locked shared ring, batches go
to the GPU on a side stream); ``dataloader`` the previous one (a shared-memory batch per step,
copied into pinned memory by DataLoader's pin-memory thread).

Finishes in well under 3 minutes on one H100/H200.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from brain_brr.data.loader import BalancedBatchSampler, RingLoader, WindowDataset  # noqa: E402
from brain_brr.train.focal import focal_loss  # noqa: E402
from brain_brr.train.model import build_detector  # noqa: E402
from tests.train.synthetic_store import make_processed  # noqa: E402

FS, WINDOW_S, STRIDE_S, LABEL_RATE = 256, 60, 10, 1
DATA_CFG = SimpleNamespace(sampling_rate=FS, window_s=WINDOW_S, stride_s=STRIDE_S, label_rate=LABEL_RATE)
MODEL_CFG = SimpleNamespace(arch="tcn", width=32, depth=4, dropout=0.1, heads=4)  # params.yaml defaults


def build_store(root: Path, recordings: int = 8, minutes: float = 30.0) -> WindowDataset:
    """Default-rate synthetic train split (~8% seizure time) and its dataset."""
    make_processed(
        root,
        recordings={"train": recordings, "dev": 1},
        minutes=minutes,
        seizures_per_rec=2,
        seizure_s=minutes * 60 * 0.04,
        fs=FS,
        window_s=WINDOW_S,
        stride_s=STRIDE_S,
        label_rate=LABEL_RATE,
    )
    # As the train stage does on CUDA: float16 from the workers, converted on the GPU.
    signal_dtype = torch.float16 if torch.cuda.is_available() else torch.float32
    return WindowDataset(root / "data" / "processed", "train", DATA_CFG, signal_dtype=signal_dtype)


def time_training(
    ds: WindowDataset,
    device: torch.device,
    *,
    steps: int,
    batch_size: int,
    workers: int,
    warmup: int = 5,
    pin: bool = True,
    model_cfg: SimpleNamespace = MODEL_CFG,
    ring: bool = True,
) -> dict:
    """Windows/s of fwd+bwd+AdamW steps fed by the balanced loader, and the share of time spent waiting for data.

    Two epochs over persistent workers, as the train stage runs them: the first starts with
    cold row-group caches (every worker decodes what it touches), the second is the steady
    state that a long training run sees. Both are reported; the headline is the second.
    """
    torch.manual_seed(0)
    model = build_detector(model_cfg, FS, LABEL_RATE, WINDOW_S).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sampler = BalancedBatchSampler(
        ds.is_pos, target_pos_fraction=0.5, min_pos_per_batch=2, batch_size=batch_size, steps=steps + warmup, seed=0
    )
    cuda = device.type == "cuda"
    if ring:
        loader = RingLoader(ds, sampler, batch_size=batch_size, device=device, num_workers=workers)
    else:
        loader = DataLoader(
            ds,
            sampler=sampler,
            batch_size=None,
            num_workers=workers,
            pin_memory=cuda and pin,
            persistent_workers=workers > 0,
        )
    epochs = []
    for epoch in range(2):
        sampler.set_epoch(epoch)
        wait = busy = 0.0
        t0 = time.perf_counter()
        for k, (x, y) in enumerate(loader):
            t1 = time.perf_counter()
            x, y = x.to(device, non_blocking=True).float(), y.to(device, non_blocking=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                logits = model(x)  # (B, S)
            loss = focal_loss(logits.float(), y, alpha=0.5, gamma=2.0, pos_weight=None).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()  # synchronises, so the step's GPU time is inside `busy`
            t2 = time.perf_counter()
            if k >= warmup:
                wait += t1 - t0
                busy += t2 - t1
            t0 = t2
        epochs.append((wait, busy))
    (cold_wait, cold_busy), (wait, busy) = epochs
    total, cold_total = wait + busy, cold_wait + cold_busy
    return {
        "windows_per_s": steps * batch_size / total,
        "data_wait_fraction": wait / total,
        "step_ms": 1000 * total / steps,
        "cold_windows_per_s": steps * batch_size / cold_total,
        "cold_data_wait_fraction": cold_wait / cold_total,
        "batch_size": batch_size,
        "workers": workers,
        "loader": "ring" if ring else "dataloader",
        "steps": steps,
        "final_loss": loss.item(),
    }


def compute_only(
    device: torch.device, batch_size: int, steps: int = 20, model_cfg: SimpleNamespace = MODEL_CFG
) -> float:
    """Windows/s of the same steps on one resident batch: the ceiling without the loader."""
    model = build_detector(model_cfg, FS, LABEL_RATE, WINDOW_S).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch_size, 19, WINDOW_S * FS, device=device)
    y = (torch.rand(batch_size, WINDOW_S * LABEL_RATE, device=device) < 0.3).float()
    cuda = device.type == "cuda"
    for k in range(steps + 3):
        if k == 3:
            if cuda:
                torch.cuda.synchronize()
            t = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
            logits = model(x)
        loss = focal_loss(logits.float(), y, alpha=0.5, gamma=2.0, pos_weight=None).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if cuda:
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    ap.add_argument(
        "--no-pin",
        action="store_true",
        help="dataloader path: hand batches to the GPU from shared memory, without the pin-memory thread",
    )
    ap.add_argument("--arch", choices=("tcn", "unet_transformer"), default="tcn", help="model.arch to time")
    ap.add_argument("--loader", choices=("ring", "dataloader", "both"), default="both")
    args = ap.parse_args()
    model_cfg = SimpleNamespace(**{**vars(MODEL_CFG), "arch": args.arch})
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    result = {
        "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
        "device": device.type,
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "bf16_autocast": device.type == "cuda",
        "arch": args.arch,
    }
    print(
        f"[GPU-CHECK] device={device.type} gpu={result['gpu']} torch={torch.__version__} cpus={os.cpu_count()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        ds = build_store(Path(tmp))
        result["store_build_s"] = round(time.perf_counter() - t, 2)
        result["train_windows"] = len(ds)
        print(f"[GPU-CHECK] synthetic store: {len(ds)} train windows in {result['store_build_s']} s", flush=True)
        runs = []
        paths = {"ring": [True], "dataloader": [False], "both": [True, False]}[args.loader]
        for batch_size in sorted({args.batch_size, 4 * args.batch_size}):
            compute = compute_only(device, batch_size, model_cfg=model_cfg)
            for ring in paths:
                r = time_training(
                    ds,
                    device,
                    steps=args.steps,
                    batch_size=batch_size,
                    workers=args.workers,
                    pin=not args.no_pin,
                    ring=ring,
                    model_cfg=model_cfg,
                )
                r["pin_memory"] = not args.no_pin
                r["compute_only_windows_per_s"] = compute
                runs.append(r)
                print(
                    f"[GPU-CHECK] {r['loader']}, batch {batch_size}, {args.workers} workers: "
                    f"{r['windows_per_s']:.0f} windows/s, data wait {r['data_wait_fraction']:.0%}, "
                    f"step {r['step_ms']:.1f} ms (first epoch, cold caches: "
                    f"{r['cold_windows_per_s']:.0f} windows/s, wait {r['cold_data_wait_fraction']:.0%}); "
                    f"compute only {r['compute_only_windows_per_s']:.0f} windows/s",
                    flush=True,
                )
    result.update(runs[0])
    result["runs"] = runs
    out = Path(os.environ.get("OUT", "."))
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
