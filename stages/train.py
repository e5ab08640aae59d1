"""Stage train: the detector, trained with the positive-aware balanced sampler and focal loss.

Reads data.processed and metrics/stats.json; writes models/detector/{model.pt,config.json}
(weights and everything predict needs but the thresholds, which the next stage chooses on dev),
models/checkpoints/{best,last}.pt, metrics/train.json, reports/train/history.csv and its picture
reports/train/history.png. Red flags: a defence switched off (before any data is read),
no_positive_windows, and per epoch zero_positive_batch, low_batch_pos_ratio, auroc_collapse,
nonfinite_loss; all_predictions_zero for the best weights.

`python stages/train.py --resume` continues from models/checkpoints/last.pt (written after every
epoch, and at the last finished step on Ctrl-C), if it holds the same training settings and
data; the MLflow run of the interrupted training goes on. Under
`torchrun --nproc_per_node N stages/train.py` every rank runs this file; rank 0 alone
logs, prints and writes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import torch

from brain_brr import guards
from brain_brr.atomic import write_json_atomic
from brain_brr.config import Params
from brain_brr.data.checks import check_processed
from brain_brr.data.derivation import DERIVATION
from brain_brr.data.loader import create_balanced_sampler, open_split, sampled_label_ratio
from brain_brr.data.stats import load_stats, train_pos_weight
from brain_brr.data.store import tables_digest
from brain_brr.device import resolve_device, torch_device
from brain_brr.errors import InputError
from brain_brr.stage import stage_main
from brain_brr.tracking.run import StageRun, UntrackedRun, mark_training_run, repo_root
from brain_brr.train.checkpoint import fingerprint_differences, load_checkpoint, training_fingerprint
from brain_brr.train.distributed import DistInfo, init_distributed, shutdown
from brain_brr.train.focal import build_loss, init_lines, resolve_pos_weight
from brain_brr.train.loop import (
    EpochReport,
    Trainer,
    TrainingInterrupted,
    TrainState,
    keep_freed_memory,
    seed_everything,
    write_history,
)
from brain_brr.train.model import save_detector
from brain_brr.train.plots import plot_history

STATS = "metrics/stats.json"
DETECTOR = "models/detector"
CHECKPOINTS = "models/checkpoints"
METRICS = "metrics/train.json"
HISTORY = "reports/train/history.csv"
HISTORY_PNG = "reports/train/history.png"
CORPUS_KEYS = ("root", "format", "split", "processed")  # which corpus: ingest's business, not the model's
POS_WEIGHT_BATCHES = 50  # batches sampled to estimate pos_weight when train.pos_weight_source=batches


class EpochLog:
    """The train run's view of each epoch: red flags, step curves, epoch metrics, one log line."""

    def __init__(self, run: Any, epochs: int):
        self.run, self.epochs = run, epochs

    def on_epoch_end(self, state: TrainState, report: EpochReport) -> None:
        for name, reason in report.new_flags:
            self.run.flag(name, reason)
        if self.run.run_id is not None:
            self.run.step_metrics(report.steps, report.first_step)
        self.run.metrics(report.metrics, step=report.epoch)
        m = report.metrics
        print(
            f"[TRAIN] epoch {report.epoch}/{self.epochs}: loss={m['epoch_loss']:.4f} val_auroc={m['val_auroc']:.4f} "
            f"val_pred_pos_rate={m['val_pred_pos_rate']:.4f} lr={m['lr']:.2e} zero_pos_batches={report.zero_pos} "
            f"data_wait={m['data_wait_fraction']:.0%}",
            flush=True,
        )


RESUME_HINT = "resume with `python stages/train.py --resume` (then `dvc commit train` and `dvc repro` go on from there)"


def run(params: Params, resume: bool = False) -> None:
    if not guards.configuration_flags(params):  # a defence that is off is the run's red flag first, read no data
        check_processed(params.resolve(params.data.processed, repo_root()))  # a damaged file: one line, no run
    keep_freed_memory()
    dist = init_distributed(resolve_device(params.train.device))
    root = repo_root()
    try:
        device = torch_device(params.train.device, dist.local_rank)
        checkpoint = resume_checkpoint(params, root) if resume else None
        if checkpoint is None and dist.is_main:  # an older training's checkpoint must never be resumed later
            (root / CHECKPOINTS / "last.pt").unlink(missing_ok=True)
        if dist.is_main:
            run_id = checkpoint.get("mlflow_run_id") if checkpoint else None
            with StageRun("train", params, run_id=run_id) as tracked:
                train(params, checkpoint, device, dist, tracked)
        else:
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # rank 0 speaks for all
                train(params, checkpoint, device, dist, UntrackedRun("train", params.guards.strict))
    finally:
        shutdown(dist)


def resume_checkpoint(params: Params, root: Path) -> dict[str, Any]:
    """``last.pt`` if it was written for exactly these training settings and data; else exit 2 naming differences."""
    path = root / CHECKPOINTS / "last.pt"
    if not path.is_file():
        raise InputError(f"{path}: nothing to resume (no checkpoint); start training with `python stages/train.py`")
    checkpoint = load_checkpoint(path)
    saved = checkpoint.get("fingerprint")
    if saved is None:
        raise InputError(
            f"{path}: written without a training fingerprint (older version); start over with `python stages/train.py`"
        )
    differences = fingerprint_differences(saved, training_fingerprint(params, data_version(params, root)))
    if differences:
        raise InputError(
            f"{path}: saved for other training settings or data ({'; '.join(differences)}); "
            "start over with `python stages/train.py` (without --resume), or restore those settings"
        )
    return checkpoint


def data_version(params: Params, root: Path) -> str:
    processed = params.resolve(params.data.processed, root)
    try:
        return tables_digest(processed)
    except OSError:
        raise InputError(f"{processed}: no processed tables; run the ingest stage first (`dvc repro ingest`)") from None


def train(params: Params, checkpoint: dict[str, Any] | None, device: torch.device, dist: DistInfo, run: Any) -> None:
    root = repo_root()
    summary: dict[str, Any] = {
        "focal_alpha": params.focal_alpha,
        "focal_gamma": params.focal_gamma,
        "pos_weight_used": None,
    }
    state = TrainState()
    try:  # metrics/train.json is written however the stage ends, red flags included
        for line in init_lines(params):
            print(line, flush=True)
        for item, ok in guards.configuration_checklist(params).items():
            run.check(item, ok)
        for name, reason in guards.configuration_flags(params):
            run.flag(name, reason)
        run.stop_if_flagged()  # a defence is off: stop before any data is read

        trainer = build_trainer(params, device, dist, run, summary)
        version = data_version(params, root)
        trainer.checkpoint_meta = {"fingerprint": training_fingerprint(params, version), "mlflow_run_id": run.run_id}
        if checkpoint is not None:
            trainer.resume(checkpoint)
            print(f"[TRAIN] resumed from {CHECKPOINTS}/last.pt: {resume_point(trainer.state, params)}", flush=True)
            for name, reason in trainer.state.red_flags.items():  # raised before the interruption: they still hold
                run.flag(name, f"{reason} (before --resume)")
        else:
            run.log_datasets(params.resolve(params.data.processed, root), run.data_version or version)
        state = trainer.state
        try:
            ended = trainer.fit(EpochLog(run, params.train.epochs), stop_on_flags=params.guards.strict)
        except TrainingInterrupted as exc:
            run.ended_by = f"interrupted ({exc}); {RESUME_HINT}"
            raise
        if ended == "red_flag":
            run.stop_if_flagged()
        if ended == "early_stop":
            print(f"[TRAIN] early stop: val_auroc did not improve for {params.train.patience} epoch(s)", flush=True)
        finish(params, trainer, device, dist, run)
    finally:
        if dist.is_main:
            write_json_atomic(root / METRICS, {**summary, **state.summary(), "red_flags": list(run.red_flags)})


def resume_point(state: TrainState, params: Params) -> str:
    if state.partial_rows:
        return f"epoch {state.epoch + 1}/{params.train.epochs}, step {len(state.partial_rows) + 1}"
    if state.epoch >= params.train.epochs or state.bad_epochs >= params.train.patience:
        return f"training had finished ({state.epoch} epoch(s)); nothing left to train, the best weights are written"
    return f"epoch {state.epoch + 1}/{params.train.epochs}"


def build_trainer(params: Params, device: torch.device, dist: DistInfo, run: Any, summary: dict[str, Any]) -> Trainer:
    """Data, balanced sampler, pos_weight and loss; seeds first, so the same seed gives the same run."""
    root = repo_root()
    seed_everything(params.train.seed)
    processed = params.resolve(params.data.processed, root)
    # On CUDA the stored float16 travels as is and the GPU converts it (lossless, half the bytes).
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    train_ds, dev_ds = (
        open_split(processed, "train", params.data, dtype),
        open_split(processed, "dev", params.data, dtype),
    )
    stats = load_stats(root / STATS)
    if params.use_balanced_sampling and not train_ds.is_pos.any():
        reason = (
            f"the train split has {len(train_ds)} windows and none holds "
            "a seizure label; check the annotations and the ingest report"
        )
        run.flag("no_positive_windows", reason)
        run.stop_if_flagged(always=True)
    sampler = create_balanced_sampler(
        train_ds, params, seizure_ratio=stats["train"]["seizure_ratio"], rank=dist.rank, world_size=dist.world_size
    )
    pos_weight = resolve_pos_weight(
        params,
        corpus_ratio=lambda: train_pos_weight(stats, root / STATS),
        batch_ratio=lambda: sampled_label_ratio(sampler, train_ds.seizure_frac, POS_WEIGHT_BATCHES),
    )
    summary["pos_weight_used"] = pos_weight
    shown = pos_weight if pos_weight is None else round(pos_weight, 4)
    print(
        f"[INIT] pos_weight used: {shown} (pos_weight={params.pos_weight}, source={params.train.pos_weight_source})",
        flush=True,
    )
    loss_fn = build_loss(params, pos_weight)
    return Trainer(params, train_ds, dev_ds, sampler, loss_fn, device, dist, root / CHECKPOINTS)


def finish(params: Params, trainer: Trainer, device: torch.device, dist: DistInfo, run: Any) -> None:
    """Best weights: the collapse check, the checklist, the model directory (thresholds: the next stage)."""
    root = repo_root()
    final = trainer.finish()
    for item, ok in final.checks.items():
        run.check(item, ok)
        if item.startswith("loss_decreasing") and not ok:
            print(
                f"WARNING: the {item.removeprefix('loss_decreasing_')}-class "
                "loss did not decrease over the first epochs",
                flush=True,
            )
    for name, reason in final.new_flags:
        run.flag(name, reason)
    run.stop_if_flagged()  # a collapsed model never lands in models/detector under guards.strict
    if not dist.is_main:
        return
    # The model directory records the settings that made it and no other (dvc.yaml: the train stage's params).
    settings = params.outcome_dump()
    settings["data"] = {k: v for k, v in settings["data"].items() if k not in CORPUS_KEYS}
    config = {
        "model": settings["model"],
        "data": settings["data"],
        "label_rate": params.data.label_rate,
        "derivation": DERIVATION,
        "train_params": {k: v for k, v in settings.items() if k not in ("synth", "eval")},
    }
    save_detector(root / DETECTOR, trainer.model, config)
    if run.run_id is not None:
        mark_training_run(run.run_id, root / DETECTOR)  # the later stages find this run by the weights' digest
    write_history(root / HISTORY, trainer.state.history)
    plot_history(root / HISTORY_PNG, trainer.state.history)
    run.artifact(root / HISTORY_PNG, "train")
    best = trainer.state.summary()["val_auroc_best"]
    run.metrics({"val_auroc_best": best or float("nan"), "val_pred_pos_rate_best": final.val_pred_pos_rate})
    print(
        f"[TRAIN] done: {len(trainer.state.history)} epoch(s), val_auroc best={best} "
        f"(re-evaluated {final.val_auroc:.4f}); model -> {root / DETECTOR}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    return stage_main(run, __doc__, argv, resume=True, interrupted_hint=RESUME_HINT)


if __name__ == "__main__":
    sys.exit(main())
