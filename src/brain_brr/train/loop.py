"""The training loop: balanced batches through the loss, early stopping on dev AUROC, exact resume.

:class:`Trainer` owns the model, optimizer, schedule and a typed :class:`TrainState`. After
every epoch it writes ``last.pt`` (everything ``--resume`` needs) and hands an
:class:`EpochReport` to a :class:`TrainCallback`; it never knows which tracker listens.
Red flags of an epoch follow :mod:`brain_brr.guards` and are kept in the state, so they
survive an interruption.

Under ``torchrun`` every rank runs the same Trainer on its shard of each global batch
(DDP); losses and batch statistics are reduced over ranks, so every rank takes the same
decisions, and only rank 0 writes checkpoints.

Ctrl-C (SIGINT) or SIGTERM during training finishes the current step, writes ``last.pt`` as of
that step (mid-epoch included) and raises :class:`TrainingInterrupted`; a second signal stops
at once. ``BRAIN_BRR_INTERRUPT_AT_STEP=k`` sends this process SIGINT after global step ``k``,
so that interruptions can be tested anywhere.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from brain_brr.config import Params
from brain_brr.data.loader import RingLoader, WindowDataset, batches_of
from brain_brr.guards import RedFlag, best_model_flags, epoch_flags, nonfinite_loss_flag
from brain_brr.progress import progress
from brain_brr.train.augment import Augmenter
from brain_brr.train.checkpoint import rng_state, save_checkpoint, set_rng_state
from brain_brr.train.distributed import DistInfo, all_reduce
from brain_brr.train.model import build_detector

INTERRUPT_AT_ENV = "BRAIN_BRR_INTERRUPT_AT_STEP"
DECISION_THRESHOLD = 0.5
STEP_CURVES = ("loss", "loss_pos", "loss_neg", "batch_pos_ratio")  # logged per step

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class TrainState:
    """Everything ``--resume`` restores besides model, optimizer, scheduler, sampler and RNG states."""

    epoch: int = 0  # epochs completed
    best_auroc: float | None = None
    bad_epochs: int = 0  # epochs since the best val AUROC
    history: list[dict[str, float]] = field(default_factory=list)  # one row per epoch (history.csv)
    steps: list[dict[str, float]] = field(default_factory=list)  # losses and batch ratios of every step
    zero_pos_batches: int = 0
    val_auroc_first: float | None = None
    red_flags: dict[str, str] = field(default_factory=dict)  # name -> reason, in the order raised
    partial_rows: list[dict[str, float]] = field(default_factory=list)  # steps done of an interrupted epoch

    def summary(self) -> dict[str, Any]:
        """The measured keys of ``metrics/train.json``."""
        ratios = [s["batch_pos_ratio"] for s in self.steps]
        aurocs = [h["val_auroc"] for h in self.history if math.isfinite(h["val_auroc"])]
        return {
            "batch_pos_ratio_mean": float(np.mean(ratios)) if ratios else None,
            "batch_pos_ratio_min": float(min(s["batch_pos_ratio_min"] for s in self.steps)) if self.steps else None,
            "zero_pos_batches": int(self.zero_pos_batches),
            "val_auroc_first": _finite_or_none(self.val_auroc_first),
            "val_auroc_best": max(aurocs) if aurocs else None,
            "epochs": len(self.history),
        }


@dataclass(frozen=True)
class EpochReport:
    epoch: int  # counts from 1
    first_step: int
    steps: list[dict[str, float]]  # this epoch's STEP_CURVES rows
    metrics: dict[str, float]  # val_auroc, val_pred_pos_rate, lr, epoch_loss, data_wait_fraction, windows_per_s
    zero_pos: int
    improved: bool  # a new best val AUROC: these weights are the best so far
    new_flags: list[RedFlag]


@dataclass(frozen=True)
class FinalReport:
    val_auroc: float  # of the best weights, re-evaluated
    val_pred_pos_rate: float
    checks: dict[str, bool]
    new_flags: list[RedFlag]


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C/SIGTERM; ``last.pt`` holds everything up to the last finished step."""


class _DeferredInterrupt:
    """During training, SIGINT/SIGTERM only ask to stop; the loop stops at the next step boundary."""

    def __init__(self) -> None:
        self.requested = ""
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _DeferredInterrupt:
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:  # noqa: ARG002
        if self.requested:  # asked twice: stop now
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} received twice")
        self.requested = signal.Signals(signum).name

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class TrainCallback(Protocol):
    def on_epoch_end(self, state: TrainState, report: EpochReport) -> None: ...


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


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1, then cosine decay to 0 at the last step."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def _worker_init(_: int) -> None:
    keep_freed_memory()


class Trainer:
    """One training run: ``fit`` epochs, then ``finish`` with the best weights loaded."""

    def __init__(
        self,
        params: Params,
        train_ds: WindowDataset,
        dev_ds: WindowDataset,
        sampler: Any,
        loss_fn: LossFn,
        device: torch.device,
        dist: DistInfo,
        checkpoint_dir: Path,
    ):
        tc = params.train
        self.params, self.tc, self.device, self.dist = params, tc, device, dist
        self.sampler, self.loss_fn, self.checkpoint_dir = sampler, loss_fn, checkpoint_dir
        self.cuda = device.type == "cuda"
        self.model = build_detector(
            params.model, params.data.sampling_rate, params.data.label_rate, params.data.window_s
        ).to(device)
        ddp = (
            DistributedDataParallel(self.model, device_ids=[device.index] if self.cuda else None)
            if dist.enabled
            else None
        )
        self.net = ddp or self.model
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        total = tc.epochs * tc.steps_per_epoch
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, partial(lr_factor, warmup=tc.warmup_steps, total=total)
        )
        self.augment = Augmenter(params.augment, label_rate=params.data.label_rate, seed=tc.seed, rank=dist.rank)
        self.state = TrainState()
        self.checkpoint_meta: dict[str, Any] = {}  # stored in last.pt beside the state (fingerprint, MLflow run id)
        self._interrupt = _DeferredInterrupt()
        self._pending: list[RedFlag] = []  # flags raised inside an epoch (non-finite loss), reported at its end
        self.best_weights: dict[str, torch.Tensor] = {}  # every rank keeps it: no rank waits on rank 0's file
        loader_kw = {
            "num_workers": tc.num_workers,
            "pin_memory": self.cuda,
            "persistent_workers": tc.num_workers > 0,
            "worker_init_fn": _worker_init if tc.num_workers else None,
        }
        n_val = min(tc.max_val_windows, len(dev_ds))
        val_idx = np.sort(np.random.default_rng(tc.seed).choice(len(dev_ds), n_val, replace=False)).tolist()
        self.val_loader = DataLoader(dev_ds, sampler=batches_of(val_idx, 64), batch_size=None, **loader_kw)
        # One loader for all epochs: with workers they persist, and so do their decoded row-group caches.
        # Workers write batches into a shared ring (page-locked on CUDA, sent ahead of each step).
        generator = torch.Generator().manual_seed(tc.seed)
        self.loader = RingLoader(
            train_ds,
            sampler,
            batch_size=tc.batch_size // dist.world_size,
            device=device,
            num_workers=tc.num_workers,
            generator=generator,
            worker_init_fn=loader_kw["worker_init_fn"],
        )

    # ------------------------------------------------------------------ checkpoints
    def resume(self, ckpt: dict[str, Any]) -> None:
        """Restore everything from a loaded ``last.pt`` (the train stage has checked its fingerprint)."""
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.sched.load_state_dict(ckpt["scheduler"])
        self.sampler.load_state_dict(ckpt["sampler"])
        self.state = TrainState(**ckpt["track"])
        self.best_weights = ckpt["best_model"]
        set_rng_state(ckpt["rng"])

    def _save_last(self) -> None:
        if not self.dist.is_main:
            return
        save_checkpoint(
            self.checkpoint_dir / "last.pt",
            {
                "model": self.model.state_dict(),
                "optimizer": self.opt.state_dict(),
                "scheduler": self.sched.state_dict(),
                "sampler": self.sampler.state_dict(),
                "best_model": self.best_weights,
                "rng": rng_state(),
                "track": dataclasses.asdict(self.state),
                "params": self.params.model_dump(),
                **self.checkpoint_meta,
            },
        )

    # ------------------------------------------------------------------ epochs
    def fit(self, callback: TrainCallback, *, stop_on_flags: bool) -> str:
        """Train the remaining epochs; returns why it ended: done, early_stop or red_flag.

        Raises :class:`TrainingInterrupted` after writing ``last.pt`` when interrupted.
        """
        st = self.state
        start = st.epoch if st.bad_epochs < self.tc.patience else self.tc.epochs  # an early-stopped run stays stopped
        with self._interrupt:
            for epoch in range(start, self.tc.epochs):
                report = self._epoch(epoch)
                if self.dist.is_main and report.improved:
                    best = {"model": self.best_weights, "epoch": epoch + 1, "val_auroc": report.metrics["val_auroc"]}
                    save_checkpoint(self.checkpoint_dir / "best.pt", best)
                self._save_last()
                callback.on_epoch_end(st, report)
                if self._interrupt.requested:  # during validation: last.pt already holds the whole epoch
                    raise TrainingInterrupted(f"{self._interrupt.requested} after epoch {epoch + 1}")
                if stop_on_flags and st.red_flags:
                    return "red_flag"
                if st.bad_epochs >= self.tc.patience:
                    return "early_stop"
        return "done"

    def _epoch(self, epoch: int) -> EpochReport:
        """One epoch of steps, validation, best-weights bookkeeping and the epoch's red flags."""
        tc, st = self.tc, self.state
        if not st.partial_rows:  # else: resuming inside this epoch, the sampler knows where
            self.sampler.set_epoch(epoch)
        self.net.train()
        first_step = epoch * tc.steps_per_epoch
        rows, wait, busy = self._train_steps(epoch, first_step)
        auroc, pred_pos_rate, _ = self.validate()
        zero_pos = int(sum(r["zero_pos"] for r in rows))
        st.zero_pos_batches += zero_pos
        st.steps.extend({k: r[k] for k in (*STEP_CURVES, "batch_pos_ratio_min")} for r in rows)
        lr = self.opt.param_groups[0]["lr"]
        epoch_loss = float(np.nanmean([r["loss"] for r in rows])) if rows else float("nan")
        st.history.append(
            {"epoch": epoch + 1, "val_auroc": auroc, "val_pred_pos_rate": pred_pos_rate, "loss": epoch_loss, "lr": lr}
        )
        if st.val_auroc_first is None:
            st.val_auroc_first = auroc
        is_best = (math.isfinite(auroc) and (st.best_auroc is None or auroc > st.best_auroc)) or (
            st.best_auroc is None and epoch == 0
        )
        if is_best:
            st.best_auroc = auroc if math.isfinite(auroc) else None
            st.bad_epochs = 0
            self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            st.bad_epochs += 1
        st.epoch = epoch + 1
        flags = epoch_flags(
            self.params.guards,
            epoch=epoch + 1,
            zero_pos=zero_pos,
            n_batches=len(rows) * self.dist.world_size,
            per_rank_batch=tc.batch_size // self.dist.world_size,
            batch_pos_ratio_mean=st.summary()["batch_pos_ratio_mean"],
            val_auroc=auroc,
        )
        new_flags = self._remember(self._pending + flags)
        self._pending = []
        step_time = wait + busy
        metrics = {
            "val_auroc": auroc,
            "val_pred_pos_rate": pred_pos_rate,
            "lr": lr,
            "epoch_loss": epoch_loss,
            "data_wait_fraction": wait / step_time if step_time > 0 else 0.0,
            "windows_per_s": len(rows) * tc.batch_size / step_time if step_time > 0 else 0.0,
        }
        curves = [{k: r[k] for k in STEP_CURVES} for r in rows]
        return EpochReport(epoch + 1, first_step, curves, metrics, zero_pos, is_best, new_flags)

    def _remember(self, flags: list[RedFlag]) -> list[RedFlag]:
        """Keep the flags not raised before (in the state, for --resume); return them."""
        new = []
        for name, reason in flags:
            if name not in self.state.red_flags:
                self.state.red_flags[name] = reason
                new.append((name, reason))
        return new

    def _train_steps(self, epoch: int, first_step: int) -> tuple[list[dict[str, float]], float, float]:
        """The epoch's remaining steps (after those of an interrupted run); stops cleanly when interrupted."""
        rows, self.state.partial_rows = self.state.partial_rows, []
        interrupt_at = int(os.environ.get(INTERRUPT_AT_ENV, "0") or 0)
        wait = busy = 0.0
        t0 = time.perf_counter()
        bar = progress(
            self.loader,
            total=len(self.sampler),
            desc=f"epoch {epoch + 1}/{self.tc.epochs}",
            disable=not self.dist.is_main,
        )
        try:
            for x, y in bar:
                t1 = time.perf_counter()
                wait += t1 - t0
                row = self._step(x, y, first_step + len(rows) + 1)
                rows.append(row)
                bar.set_postfix(loss=f"{row['loss']:.4f}", pos=f"{row['batch_pos_ratio']:.2f}", refresh=False)
                if interrupt_at and first_step + len(rows) == interrupt_at:
                    os.kill(os.getpid(), signal.SIGINT)
                t0 = time.perf_counter()
                busy += t0 - t1
                if self._interrupt.requested:
                    break
        except Exception:
            if not self._interrupt.requested:  # DataLoader workers die on Ctrl-C too: that is the interruption
                raise
        finally:
            bar.close()
        if self._interrupt.requested:
            self._stop_inside_epoch(epoch, rows)
        return rows, wait, busy

    def _stop_inside_epoch(self, epoch: int, rows: list[dict[str, float]]) -> None:
        """Write ``last.pt`` as of the last finished step of ``epoch``, then raise :class:`TrainingInterrupted`."""
        self.state.partial_rows = rows
        self.sampler.start_step = len(rows)  # the sampler resumes its epoch at this step
        self._save_last()
        where = f"epoch {epoch + 1} step {len(rows)}/{self.tc.steps_per_epoch}"
        raise TrainingInterrupted(f"{self._interrupt.requested} during {where}")

    def _step(self, x: torch.Tensor, y: torch.Tensor, step: int) -> dict[str, float]:
        """One optimisation step; the row holds the global batch's figures, reduced over ranks."""
        x, y = x.to(self.device, non_blocking=True).float(), y.to(self.device, non_blocking=True)  # (b, 19, T), (b, S)
        x, y = self.augment(x, y, step)  # the identity unless augment.enabled
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda):
            logits = self.net(x)  # (b, S)
        per = self.loss_fn(logits.float(), y)  # (b, S)
        pos = y > 0.5
        win_pos = pos.any(dim=1)  # (b,)
        parts = (
            per.sum(),
            per.numel(),
            (per * pos).sum(),
            pos.sum(),
            (per * ~pos).sum(),
            (~pos).sum(),
            win_pos.sum(),
            win_pos.sum() == 0,
        )
        sums = all_reduce(
            torch.stack([torch.as_tensor(t, device=self.device).double() for t in parts]).detach().cpu(), self.dist
        )
        rank_min = all_reduce(torch.tensor([win_pos.float().mean().item()], dtype=torch.float64), self.dist, op="min")
        loss = float(sums[0] / sums[1])
        row = {
            "loss": loss,
            "loss_pos": float(sums[2] / sums[3]) if sums[3] > 0 else float("nan"),
            "loss_neg": float(sums[4] / sums[5]) if sums[5] > 0 else float("nan"),
            "batch_pos_ratio": float(sums[6] / self.tc.batch_size),
            "batch_pos_ratio_min": float(rank_min[0]),
            "zero_pos": float(sums[7]),
        }
        self.opt.zero_grad(set_to_none=True)
        if not math.isfinite(loss):  # skip this update, keep the schedule aligned; flagged at the end of the epoch
            self._pending.append(nonfinite_loss_flag(loss, step))
            self.sched.step()
            return row
        per.mean().backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.tc.grad_clip)
        self.opt.step()
        self.sched.step()
        return row

    @torch.no_grad()
    def validate(self) -> tuple[float, float, float]:
        """(per-label-step AUROC, fraction of steps predicted positive, max probability) on the val subset."""
        was_training = self.model.training
        self.model.eval()
        probs, labels = [], []
        for x, y in self.val_loader:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.cuda):
                logits = self.model(x.to(self.device, non_blocking=True).float())  # (B, S)
            probs.append(torch.sigmoid(logits.float()).cpu().numpy().ravel())
            labels.append(y.numpy().ravel())
        self.model.train(was_training)
        p, y = np.concatenate(probs), np.concatenate(labels)
        from sklearn.metrics import roc_auc_score  # imported here: a stage stopped by a red flag at start-up skips it

        auroc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
        return auroc, float((p >= DECISION_THRESHOLD).mean()), float(p.max())

    # ------------------------------------------------------------------ the end
    def finish(self) -> FinalReport:
        """Best weights back in the model, re-validated; the collapse check and the loss-trend checklist."""
        if self.best_weights:
            self.model.load_state_dict(self.best_weights)
        auroc, pred_pos_rate, p_max = self.validate()
        early = self.state.steps[: min(3, len(self.state.history)) * self.tc.steps_per_epoch]
        checks = {
            f"loss_decreasing_{name}": bool(_decreasing([s[f"loss_{name}"] for s in early])) for name in ("pos", "neg")
        }
        checks["every_batch_has_positive"] = self.state.zero_pos_batches == 0
        return FinalReport(auroc, pred_pos_rate, checks, self._remember(best_model_flags(p_max)))


def _decreasing(values: list[float]) -> bool | None:
    """Mean of the last third below the mean of the first third (None: too few finite values)."""
    v = [x for x in values if math.isfinite(x)]
    if len(v) < 3:
        return None
    k = len(v) // 3
    return float(np.mean(v[-k:])) < float(np.mean(v[:k]))


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def write_history(path: Path, history: list[dict[str, Any]]) -> None:
    """``reports/train/history.csv``: one row per epoch (DVC plots it)."""
    import csv

    from brain_brr.atomic import atomic_path

    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["epoch", "val_auroc", "val_pred_pos_rate", "loss", "lr"])
        writer.writeheader()
        for row in history:
            writer.writerow({k: row[k] for k in writer.fieldnames})
