"""Train stage: balanced batches, focal loss, early stopping on dev AUROC, exact resume.

Reads ``data/processed`` and ``metrics/stats.json``; writes ``models/detector/``,
``models/checkpoints/{best,last}.pt``, ``metrics/train.json`` and
``reports/train/history.csv``; logs everything to the stage's MLflow run.

Under ``torchrun`` every rank trains on its shard of each global batch (DDP); only rank 0
logs, checkpoints and writes files. ``BRAIN_BRR_STOP_AFTER_EPOCH=k`` ends the stage after
epoch ``k`` (the checkpoint is written) so that ``--resume`` can be tested at an epoch
boundary.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import random
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from brain_brr.atomic import atomic_path
from brain_brr.config import Params, alpha_is_neutral
from brain_brr.data.loader import (
    WindowDataset,
    batches_of,
    create_balanced_sampler,
    sampled_label_ratio,
    training_seizure_ratio,
)
from brain_brr.errors import InputError, RedFlagStop
from brain_brr.eval.inference import resolve_device
from brain_brr.progress import progress
from brain_brr.tracking.run import StageRun, repo_root, write_json_atomic
from brain_brr.train.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from brain_brr.train.distributed import DistInfo, all_reduce, init_distributed, shutdown
from brain_brr.train.focal import build_loss, init_line, resolve_pos_weight
from brain_brr.train.model import build_detector, save_detector

STOP_AFTER_ENV = "BRAIN_BRR_STOP_AFTER_EPOCH"
DECISION_THRESHOLD = 0.5
POS_WEIGHT_BATCHES = 50  # batches sampled to estimate pos_weight when train.pos_weight_source=batches


class _RankRun:
    """What a non-zero rank does with red flags: the same decisions as rank 0, without MLflow."""

    def __init__(self, strict: bool):
        self.strict, self.red_flags, self.run_id, self.group = strict, [], None, ""

    def flag(self, name: str, reason: str, *, stop: bool | None = None) -> None:
        if name not in self.red_flags:
            self.red_flags.append(name)
        if stop if stop is not None else self.strict:
            raise RedFlagStop(f"[RED FLAG] {name}: {reason}")

    def check(self, *a: Any, **k: Any) -> None: ...

    def metrics(self, *a: Any, **k: Any) -> None: ...

    def artifact(self, *a: Any, **k: Any) -> None: ...

    def set_tags(self, *a: Any, **k: Any) -> None: ...


def keep_freed_memory() -> None:
    """Let glibc reuse freed large blocks instead of returning them to the OS (Linux only).

    Every step allocates the same 10-40 MB buffers (batch, activations); by default each is a
    fresh mmap whose pages fault in again. On VMs that doubles CPU step time (measured 310 ->
    650 windows/s on 2 cores). Peak memory is unchanged: the heap only keeps what was in use.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # musl or another libc: nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, 1 << 30)


def _resolve_device(name: str, info: DistInfo) -> torch.device:
    name = resolve_device(name)
    if name == "cuda":
        torch.cuda.set_device(info.local_rank)
        return torch.device("cuda", info.local_rank)
    return torch.device(name)


def run_train(params: Params, resume: bool = False) -> int:
    """The ``brain-brr train`` stage; returns the exit code (red flags raise RedFlagStop)."""
    keep_freed_memory()
    device_type = _resolve_device(params.train.device, DistInfo()).type
    info = init_distributed(device_type)
    device = _resolve_device(params.train.device, info)
    try:
        if info.is_main:
            with StageRun("train", params) as run:
                return _train(params, resume, device, info, run)
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # rank 0 speaks for all
            return _train(params, resume, device, info, _RankRun(params.guards.strict))
    finally:
        shutdown(info)


def _worker_init(_: int) -> None:
    keep_freed_memory()


def _lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1, then cosine decay to 0 at the last step."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def _start_flags(params: Params, pos_weight: float | None, run: Any) -> None:
    """Checklist and the configuration red flags, before any step."""
    run.check("focal_loss", params.loss == "focal")
    run.check("alpha_neutral", alpha_is_neutral(params.focal_alpha))
    run.check("balanced_sampler", params.use_balanced_sampling)
    run.check("pos_weight_used", pos_weight is not None)
    if params.loss != "focal":
        run.flag("loss_not_focal", f"loss={params.loss}: plain BCE lets the background class dominate; set loss: focal")
    if params.loss == "focal" and not alpha_is_neutral(params.focal_alpha):
        run.flag("focal_alpha_not_neutral", f"focal_alpha={params.focal_alpha} != 0.5 down-weights one class on top of the sampler; set focal_alpha: 0.5")
    if not params.use_balanced_sampling:
        run.flag("balanced_sampling_off", "use_balanced_sampling=false: batches may hold no seizure at all; set use_balanced_sampling: true")
    if params.pos_weight == "none":
        run.flag("pos_weight_off", "pos_weight=none: the loss gets no automatic class weighting; set pos_weight: auto")


@torch.no_grad()
def _validate(net: torch.nn.Module, loader: DataLoader, device: torch.device) -> tuple[float, float, float]:
    """(per-label-step AUROC, fraction of steps predicted positive, max probability) on the val subset."""
    was_training = net.training
    net.eval()
    probs, labels = [], []
    for x, y in loader:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = net(x.to(device, non_blocking=True).float())  # (B, S)
        probs.append(torch.sigmoid(logits.float()).cpu().numpy().ravel())
        labels.append(y.numpy().ravel())
    net.train(was_training)
    p, y = np.concatenate(probs), np.concatenate(labels)
    auroc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return auroc, float((p >= DECISION_THRESHOLD).mean()), float(p.max())


def _decreasing(values: list[float]) -> bool | None:
    """Mean of the last third below the mean of the first third (None: too few finite values)."""
    v = [x for x in values if math.isfinite(x)]
    if len(v) < 3:
        return None
    k = len(v) // 3
    return float(np.mean(v[-k:])) < float(np.mean(v[:k]))


def _log_steps(run: Any, rows: list[dict[str, float]], first_step: int) -> None:
    """One MLflow batch per epoch for the per-step curves (one call per step is slow on sqlite)."""
    if run.run_id is None or not rows:
        return
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    now = int(time.time() * 1000)
    metrics = [Metric(k, float(v), now, first_step + i) for i, row in enumerate(rows) for k, v in row.items() if math.isfinite(v)]
    client = MlflowClient()
    for i in range(0, len(metrics), 900):
        client.log_batch(run.run_id, metrics=metrics[i : i + 900])


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["epoch", "val_auroc", "val_pred_pos_rate", "loss", "lr"])
        writer.writeheader()
        for row in history:
            writer.writerow({k: row[k] for k in writer.fieldnames})


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _train(params: Params, resume: bool, device: torch.device, info: DistInfo, run: Any) -> int:
    tc = params.train
    root = repo_root()
    processed = params.resolve(params.data.processed, root)
    stats_path = root / "metrics" / "stats.json"
    ckpt_dir = root / "models" / "checkpoints"
    cuda = device.type == "cuda"
    _seed_everything(tc.seed)

    # ---------------------------------------------------------------- data
    # On CUDA the stored float16 travels as is and the GPU converts it (lossless, half the bytes).
    signal_dtype = torch.float16 if cuda else torch.float32
    train_ds = WindowDataset(processed, "train", params.data, signal_dtype=signal_dtype)
    dev_ds = WindowDataset(processed, "dev", params.data, signal_dtype=signal_dtype)
    for ds in (train_ds, dev_ds):
        if len(ds) == 0:
            raise InputError(f"{processed / 'windows.parquet'}: the {ds.split} split has no window; check data.root and rerun `dvc repro ingest`")

    summary: dict[str, Any] = {
        "focal_alpha": params.focal_alpha,
        "focal_gamma": params.focal_gamma,
        "pos_weight_used": None,
        "batch_pos_ratio_mean": None,
        "batch_pos_ratio_min": None,
        "zero_pos_batches": 0,
        "val_auroc_first": None,
        "val_auroc_best": None,
        "epochs": 0,
        "red_flags": run.red_flags,
    }
    try:  # metrics/train.json is written however the stage ends, red flags included
        sampler = create_balanced_sampler(
            train_ds, params, seizure_ratio=training_seizure_ratio(processed, stats_path, train_ds), rank=info.rank, world_size=info.world_size, run=run
        )
        print(init_line(params), flush=True)
        pos_weight = resolve_pos_weight(params, stats_path, lambda: sampled_label_ratio(sampler, train_ds.seizure_frac, POS_WEIGHT_BATCHES))
        summary["pos_weight_used"] = pos_weight
        loss_fn = build_loss(params, pos_weight)
        print(f"[INIT] pos_weight used: {pos_weight if pos_weight is None else round(pos_weight, 4)} (pos_weight={params.pos_weight}, source={tc.pos_weight_source})", flush=True)
        _start_flags(params, pos_weight, run)
        return _fit(params, resume, device, info, run, train_ds, dev_ds, sampler, loss_fn, summary, ckpt_dir, cuda)
    finally:
        if info.is_main:
            write_json_atomic(root / "metrics" / "train.json", {**summary, "red_flags": list(run.red_flags)})


def _fit(params, resume, device, info, run, train_ds, dev_ds, sampler, loss_fn, summary, ckpt_dir, cuda) -> int:
    tc = params.train
    root = repo_root()
    model = build_detector(params.model, params.data.sampling_rate, params.data.label_rate, params.data.window_s).to(device)
    net = DistributedDataParallel(model, device_ids=[device.index] if cuda else None) if info.enabled else model
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    total_steps = tc.epochs * tc.steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, partial(_lr_factor, warmup=tc.warmup_steps, total=total_steps))

    rng = np.random.default_rng(tc.seed)
    n_val = min(tc.max_val_windows, len(dev_ds))
    val_idx = np.sort(rng.choice(len(dev_ds), n_val, replace=False)).tolist()  # fixed for the whole run
    loader_kw = dict(num_workers=tc.num_workers, pin_memory=cuda, persistent_workers=tc.num_workers > 0, worker_init_fn=_worker_init if tc.num_workers else None)
    val_loader = DataLoader(dev_ds, sampler=batches_of(val_idx, 64), batch_size=None, **loader_kw)

    # Everything that --resume must restore, besides model/optimizer/scheduler/sampler/RNG.
    track: dict[str, Any] = {"epoch": 0, "best_auroc": None, "bad_epochs": 0, "history": [], "steps": [], "zero_pos_batches": 0, "val_auroc_first": None,
                             "red_flags": {}}
    best_state: dict[str, torch.Tensor] = {}  # every rank keeps it: no rank waits on rank 0's file
    if resume:
        ckpt = load_checkpoint(ckpt_dir / "last.pt")
        for section in ("model", "data"):
            if ckpt["params"][section] != params.model_dump()[section]:
                raise InputError(f"{ckpt_dir / 'last.pt'}: saved with different '{section}' params; train from scratch (without --resume)")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        sampler.load_state_dict(ckpt["sampler"])
        track = ckpt["track"]
        best_state = ckpt["best_model"]
        set_rng_state(ckpt["rng"])
        print(f"[TRAIN] resumed from {ckpt_dir / 'last.pt'} at epoch {track['epoch'] + 1}/{tc.epochs}", flush=True)
        _update_summary(summary, track, params)
        for name, reason in track["red_flags"].items():  # raised before the interruption: they still hold
            if name not in run.red_flags:
                run.flag(name, f"{reason} (before --resume)", stop=False)
    best_path = ckpt_dir / "best.pt"
    stop_after = int(os.environ.get(STOP_AFTER_ENV, "0") or 0)
    per_rank = tc.batch_size // info.world_size

    # One loader for all epochs: with workers they persist, and so do their decoded row-group caches.
    loader = DataLoader(train_ds, sampler=sampler, batch_size=None, generator=torch.Generator().manual_seed(tc.seed), **loader_kw)
    start_epoch = track["epoch"] if track["bad_epochs"] < tc.patience else tc.epochs  # an early-stopped run stays stopped
    for epoch in range(start_epoch, tc.epochs):
        sampler.set_epoch(epoch)
        net.train()
        rows: list[dict[str, float]] = []
        first_step = epoch * tc.steps_per_epoch
        wait = busy = 0.0
        t0 = time.perf_counter()
        bar = progress(loader, total=len(sampler), desc=f"epoch {epoch + 1}/{tc.epochs}", disable=not info.is_main)
        for x, y in bar:
            t1 = time.perf_counter()
            wait += t1 - t0
            x, y = x.to(device, non_blocking=True).float(), y.to(device, non_blocking=True)  # (b, 19, T), (b, S)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                logits = net(x)  # (b, S)
            per = loss_fn(logits.float(), y)  # (b, S)
            pos = y > 0.5
            win_pos = pos.any(dim=1)  # (b,)
            # Sums over this rank, reduced over ranks: the global batch's means, exactly.
            sums = all_reduce(
                torch.stack([t.double() for t in (per.sum(), torch.tensor(per.numel(), device=device), (per * pos).sum(), pos.sum(),
                                                  (per * ~pos).sum(), (~pos).sum(), win_pos.sum(), win_pos.sum() == 0)]).detach().cpu(),
                info,
            )
            rank_ratio_min = all_reduce(torch.tensor([win_pos.float().mean().item()], dtype=torch.float64), info, op="min")
            loss_val = float(sums[0] / sums[1])
            row = {
                "loss": loss_val,
                "loss_pos": float(sums[2] / sums[3]) if sums[3] > 0 else float("nan"),
                "loss_neg": float(sums[4] / sums[5]) if sums[5] > 0 else float("nan"),
                "batch_pos_ratio": float(sums[6] / tc.batch_size),
                "batch_pos_ratio_min": float(rank_ratio_min[0]),
                "zero_pos": float(sums[7]),
            }
            rows.append(row)
            opt.zero_grad(set_to_none=True)
            if not math.isfinite(loss_val):
                reason = f"loss is {loss_val} at step {first_step + len(rows)}; lower train.lr or check the inputs"
                track["red_flags"].setdefault("nonfinite_loss", reason)
                run.flag("nonfinite_loss", reason)
                sched.step()  # not strict: skip this update, keep the schedule aligned
                t0 = time.perf_counter()
                continue
            per.mean().backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{loss_val:.4f}", pos=f"{row['batch_pos_ratio']:.2f}")
            t0 = time.perf_counter()
            busy += t0 - t1
        bar.close()

        auroc, pred_pos_rate, _ = _validate(model, val_loader, device)
        zero_pos = int(sum(r["zero_pos"] for r in rows))
        track["zero_pos_batches"] += zero_pos
        track["steps"].extend({k: r[k] for k in ("loss", "loss_pos", "loss_neg", "batch_pos_ratio", "batch_pos_ratio_min")} for r in rows)
        lr = opt.param_groups[0]["lr"]
        epoch_loss = float(np.nanmean([r["loss"] for r in rows])) if rows else float("nan")
        track["history"].append({"epoch": epoch + 1, "val_auroc": auroc, "val_pred_pos_rate": pred_pos_rate, "loss": epoch_loss, "lr": lr})
        if track["val_auroc_first"] is None:
            track["val_auroc_first"] = auroc
        improved = math.isfinite(auroc) and (track["best_auroc"] is None or auroc > track["best_auroc"])
        if improved or (track["best_auroc"] is None and epoch == 0):
            track["best_auroc"] = auroc if math.isfinite(auroc) else None
            track["bad_epochs"] = 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if info.is_main:
                save_checkpoint(best_path, {"model": best_state, "epoch": epoch + 1, "val_auroc": auroc})
        else:
            track["bad_epochs"] += 1
        track["epoch"] = epoch + 1
        _update_summary(summary, track, params)
        _epoch_flags(params, run, track, summary, epoch, zero_pos, auroc, len(rows) * info.world_size, per_rank)
        if info.is_main:
            save_checkpoint(
                ckpt_dir / "last.pt",
                {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "sampler": sampler.state_dict(),
                 "best_model": best_state, "rng": rng_state(), "track": track, "params": params.model_dump()},
            )
        step_time = wait + busy
        _log_steps(run, [{k: r[k] for k in ("loss", "loss_pos", "loss_neg", "batch_pos_ratio")} for r in rows], first_step)
        run.metrics({"val_auroc": auroc, "val_pred_pos_rate": pred_pos_rate, "lr": lr, "epoch_loss": epoch_loss,
                     "data_wait_fraction": wait / step_time if step_time > 0 else 0.0,
                     "windows_per_s": len(rows) * tc.batch_size / step_time if step_time > 0 else 0.0}, step=epoch + 1)
        print(f"[TRAIN] epoch {epoch + 1}/{tc.epochs}: loss={epoch_loss:.4f} val_auroc={auroc:.4f} val_pred_pos_rate={pred_pos_rate:.4f} "
              f"lr={lr:.2e} zero_pos_batches={zero_pos} data_wait={wait / max(step_time, 1e-9):.0%}", flush=True)
        if params.guards.strict and track["red_flags"]:  # already printed and tagged; checkpoint written: stop (exit 3)
            name, reason = next(iter(track["red_flags"].items()))
            raise RedFlagStop(f"[RED FLAG] {name}: {reason}")
        if stop_after and epoch + 1 == stop_after and epoch + 1 < tc.epochs:
            print(f"[TRAIN] stopped after epoch {stop_after} ({STOP_AFTER_ENV}); continue with `brain-brr train --resume`", flush=True)
            run.set_tags({"brain_brr.stopped_after_epoch": stop_after})
            return 0
        if track["bad_epochs"] >= tc.patience:
            print(f"[TRAIN] early stop: val_auroc did not improve for {tc.patience} epoch(s)", flush=True)
            break

    model.load_state_dict(best_state)
    return _finish(params, device, info, run, model, val_loader, track, summary, root)


def _epoch_flags(params: Params, run: Any, track: dict[str, Any], summary: dict[str, Any], epoch: int, zero_pos: int, auroc: float,
                 n_batches: int, per_rank: int) -> None:
    """Red flags of one epoch, raised without stopping and remembered in ``track`` for --resume."""
    def flag(name: str, reason: str) -> None:
        if name not in track["red_flags"]:
            track["red_flags"][name] = reason
            run.flag(name, reason, stop=False)

    if zero_pos:
        flag("zero_positive_batch", f"{zero_pos} of the {n_batches} batches of epoch {epoch + 1} held no positive window (per-rank batch {per_rank})")
    if summary["batch_pos_ratio_mean"] is not None and summary["batch_pos_ratio_mean"] < params.guards.min_batch_pos_ratio:
        flag("low_batch_pos_ratio", f"mean batch positive ratio {summary['batch_pos_ratio_mean']:.3f} < guards.min_batch_pos_ratio={params.guards.min_batch_pos_ratio}")
    if epoch == 0 and not (math.isfinite(auroc) and auroc > 0.5 + params.guards.auroc_margin):
        flag("auroc_collapse", f"first val AUROC {auroc:.4f} <= 0.5 + guards.auroc_margin ({0.5 + params.guards.auroc_margin:.2f}): the detector ranks seizures no better than chance")


def _update_summary(summary: dict[str, Any], track: dict[str, Any], params: Params) -> None:
    steps = track["steps"]
    ratios = [s["batch_pos_ratio"] for s in steps]
    aurocs = [h["val_auroc"] for h in track["history"] if math.isfinite(h["val_auroc"])]
    summary.update(
        batch_pos_ratio_mean=float(np.mean(ratios)) if ratios else None,
        batch_pos_ratio_min=float(min(s["batch_pos_ratio_min"] for s in steps)) if steps else None,
        zero_pos_batches=int(track["zero_pos_batches"]),
        val_auroc_first=_finite_or_none(track["val_auroc_first"]),
        val_auroc_best=max(aurocs) if aurocs else None,
        epochs=len(track["history"]),
    )


def _finish(params, device, info, run, model, val_loader, track, summary, root) -> int:
    """Best weights -> collapse check, loss-trend checks, thresholds, model directory, files."""
    auroc, pred_pos_rate, p_max = _validate(model, val_loader, device)
    first_epochs = [s for s in track["steps"][: min(3, len(track["history"])) * params.train.steps_per_epoch]]
    for name in ("pos", "neg"):
        trend = _decreasing([s[f"loss_{name}"] for s in first_epochs])
        run.check(f"loss_decreasing_{name}", bool(trend))
        if not trend:
            print(f"WARNING: the {'positive' if name == 'pos' else 'negative'}-class loss did not decrease over the first epochs", flush=True)
    run.check("every_batch_has_positive", track["zero_pos_batches"] == 0)
    if p_max < DECISION_THRESHOLD:
        run.flag("all_predictions_zero", f"every val prediction of the best model is below {DECISION_THRESHOLD} (max {p_max:.4f}): it never predicts a seizure")
    if not info.is_main:
        return 0

    from brain_brr.eval.operating_point import select_operating_point

    thresholds = select_operating_point(model, params, str(device))
    config = {
        "model": params.model.model_dump(),
        "data": params.data.model_dump(),
        "label_rate": params.data.label_rate,
        "thresholds": thresholds,
        "train_params": params.model_dump(),
        "mlflow_run_id": run.run_id,
        "group": run.group,
    }
    detector_dir = root / "models" / "detector"
    save_detector(detector_dir, model, config)
    _write_history(root / "reports" / "train" / "history.csv", track["history"])
    run.artifact(detector_dir, "detector")
    run.metrics({"val_auroc_best": summary["val_auroc_best"] or float("nan"), "val_pred_pos_rate_best": pred_pos_rate})
    print(f"[TRAIN] done: {summary['epochs']} epoch(s), val_auroc best={summary['val_auroc_best']} (re-evaluated {auroc:.4f}); model -> {detector_dir}", flush=True)
    return 0
