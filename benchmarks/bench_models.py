"""What each ``model.arch`` costs on this machine's CPU, at the default data settings.

    python benchmarks/bench_models.py [--batch-size 32] [--repeats 5] [--augment]

Per architecture (default model params: width 32, depth 4, heads 4): parameters, training
windows/s (forward, backward and AdamW on one resident batch of 60 s windows at 256 Hz, as
the train stage runs them on CPU), inference windows/s (eval mode, no gradients) and, with
``--augment``, the cost of the default augmentation set per batch. The process tunes
malloc as the train stage does (``keep_freed_memory``). Medians over
``--repeats`` timings, after one warm-up step. Writes ``benchmarks/results/models_cpu.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from brain_brr.config import AugmentConfig, ModelConfig  # noqa: E402
from brain_brr.train.augment import Augmenter  # noqa: E402
from brain_brr.train.focal import focal_loss  # noqa: E402
from brain_brr.train.loop import keep_freed_memory  # noqa: E402
from brain_brr.train.model import build_detector  # noqa: E402

FS, WINDOW_S, LABEL_RATE = 256, 60, 1


def _median_s(fn, repeats: int) -> float:
    fn()  # warm-up: allocations, thread pools
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_arch(arch: str, batch_size: int, repeats: int) -> dict:
    torch.manual_seed(0)
    model = build_detector(ModelConfig(arch=arch), FS, LABEL_RATE, WINDOW_S)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch_size, 19, WINDOW_S * FS)
    y = (torch.rand(batch_size, WINDOW_S * LABEL_RATE) < 0.1).float()

    def train_step() -> None:
        loss = focal_loss(model(x), y, alpha=0.5, gamma=2.0, pos_weight=None).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @torch.no_grad()
    def infer() -> None:
        model(x)

    model.train()
    train_s = _median_s(train_step, repeats)
    model.eval()
    infer_s = _median_s(infer, repeats)
    return {
        "arch": arch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_windows_per_s": round(batch_size / train_s, 1),
        "train_step_s": round(train_s, 3),
        "infer_windows_per_s": round(batch_size / infer_s, 1),
    }


def bench_augment(batch_size: int, repeats: int) -> dict:
    x = torch.randn(batch_size, 19, WINDOW_S * FS)
    y = torch.zeros(batch_size, WINDOW_S * LABEL_RATE)
    y[: batch_size // 4, 20:40] = 1.0
    augment = Augmenter(AugmentConfig(enabled=True), label_rate=LABEL_RATE, seed=0)
    step = iter(range(10**6))
    return {"augment_ms_per_batch": round(1000 * _median_s(lambda: augment(x, y, next(step)), repeats), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--augment", action="store_true", help="also time the default augmentation set")
    args = ap.parse_args()
    keep_freed_memory()  # as the train stage does
    result = {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "batch_size": args.batch_size,
        "window": f"{WINDOW_S} s at {FS} Hz",
        "models": [],
    }
    for arch in ("tcn", "unet_transformer"):
        r = bench_arch(arch, args.batch_size, args.repeats)
        result["models"].append(r)
        print(
            f"[BENCH] {arch}: {r['parameters']:,} parameters, training {r['train_windows_per_s']} windows/s "
            f"({r['train_step_s']} s per batch of {args.batch_size}), inference {r['infer_windows_per_s']} windows/s",
            flush=True,
        )
    if args.augment:
        result.update(bench_augment(args.batch_size, args.repeats))
        print(f"[BENCH] default augmentation set: {result['augment_ms_per_batch']} ms per batch", flush=True)
    out = REPO / "benchmarks" / "results" / "models_cpu.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"[BENCH] wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
