"""Training-step probe: N steps of the default detector on fixed random batches; prints a weights hash.

    python benchmarks/determinism_probe.py [--steps 20] [--batch 32] [--window-s 60] [--threads N]

Runs what the train stage's step runs (``build_detector`` from params.yaml's ``model``,
augmentation, the focal loss, AdamW with warm-up, gradient clipping), on batches drawn from
a fixed seed, then prints one line: ``sha256=<hash of the final weights> seconds=<time>
threads=<n> isa=<ATen CPU capability> mkldnn=<on|off>``. Run it in fresh processes under
different machine emulations (``ATEN_CPU_CAPABILITY``, ``ONEDNN_MAX_CPU_ISA``,
``MKL_CBWR``, ``--threads``): equal hashes mean the training step gives the same bits there.
docs/determinism.md holds the table this produced. ``--no-fix`` measures without
the CPU settings of :mod:`brain_brr.device` (the variables already set are still honoured).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--window-s", type=int, default=60)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads after them (0: leave)")
    ap.add_argument("--no-fix", action="store_true", help="without the CPU settings of brain_brr.device")
    ap.add_argument("--no-mkldnn", action="store_true", help="torch.backends.mkldnn.enabled = False")
    args = ap.parse_args(argv)
    if not args.no_fix:
        from brain_brr.device import resolve_device  # pins the kernels at import

        resolve_device("cpu")
    import torch

    from brain_brr.config import load_params
    from brain_brr.train.augment import Augmenter
    from brain_brr.train.focal import build_loss
    from brain_brr.train.loop import lr_factor, seed_everything
    from brain_brr.train.model import build_detector

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    params = load_params(ROOT / "params.yaml")
    fs, rate, tc = params.data.sampling_rate, params.data.label_rate, params.train
    seed_everything(tc.seed)
    model = build_detector(params.model, fs, rate, args.window_s)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, partial(lr_factor, warmup=tc.warmup_steps, total=args.steps))
    augment = Augmenter(params.augment, label_rate=rate, seed=tc.seed)
    loss_fn = build_loss(params, pos_weight=3.0)
    g = torch.Generator().manual_seed(1)
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        x = torch.randn((args.batch, 19, args.window_s * fs), generator=g)  # (b, 19, T)
        y = (torch.rand((args.batch, args.window_s * rate), generator=g) < 0.25).float()  # (b, S)
        x, y = augment(x, y, step)
        per = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        per.mean().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        sched.step()
    seconds = time.perf_counter() - started
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode() + tensor.detach().contiguous().numpy().tobytes())
    mkldnn = "on" if torch.backends.mkldnn.enabled else "off"
    isa = torch.backends.cpu.get_cpu_capability()
    threads = torch.get_num_threads()
    print(f"sha256={digest.hexdigest()} seconds={seconds:.2f} threads={threads} isa={isa} mkldnn={mkldnn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
