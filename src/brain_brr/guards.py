"""The three defences against class-imbalance collapse, and every red flag's rule.

Pure functions over the validated params and measured figures. Each returns the red
flags that apply as ``(name, one-line reason)``; the stage raises them through its
run (``tracking.run.StageRun.flag``), which prints ``[RED FLAG] name: reason``, tags
the MLflow run and decides whether the stage stops.

The defences (:func:`defences`) are the single definition behind ``brain-brr check``,
the train stage's start-up flags and the evaluate stage's ``trained_without_defences``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from brain_brr.data.splits import leakage_reason

if TYPE_CHECKING:
    from brain_brr.config import GuardsConfig, Params

RedFlag = tuple[str, str]  # (name, one-line reason)

DECISION_THRESHOLD = 0.5  # a probability at or above this is a seizure prediction


@dataclass(frozen=True)
class Defence:
    name: str  # focal_loss | balanced_sampling | pos_weight
    holds: bool
    detail: str  # one line: what is configured
    red_flags: tuple[RedFlag, ...]  # what training raises when the defence is off


def defences(params: Params) -> tuple[Defence, Defence, Defence]:
    """The verdict on the three defences for ``params``, in the order the README lists them."""
    return _focal_defence(params), _sampler_defence(params), _pos_weight_defence(params)


def _focal_defence(params: Params) -> Defence:
    if params.loss != "focal":
        reason = f"loss={params.loss}: plain BCE lets the background class dominate; set loss: focal"
        return Defence("focal_loss", False, f"loss={params.loss}: focal loss is off", (("loss_not_focal", reason),))
    if not params.alpha_is_neutral():
        reason = (
            f"focal_alpha={params.focal_alpha} != 0.5 down-weights "
            "one class on top of the sampler; set focal_alpha: 0.5"
        )
        detail = f"focal_alpha={params.focal_alpha} != 0.5 (0.25 down-weights seizures)"
        return Defence("focal_loss", False, detail, (("focal_alpha_not_neutral", reason),))
    return Defence("focal_loss", True, f"focal loss, alpha={params.focal_alpha}, gamma={params.focal_gamma}", ())


def _sampler_defence(params: Params) -> Defence:
    if not params.use_balanced_sampling:
        reason = "use_balanced_sampling=false: batches may hold no seizure at all; set use_balanced_sampling: true"
        detail = "use_balanced_sampling=false: batches may hold no seizure"
        return Defence("balanced_sampling", False, detail, (("balanced_sampling_off", reason),))
    s = params.sampler
    detail = (
        f"balanced sampler, >= {s.min_pos_per_batch} positive windows per batch, target {s.target_pos_fraction:.0%}"
    )
    return Defence("balanced_sampling", True, detail, ())


def _pos_weight_defence(params: Params) -> Defence:
    if params.pos_weight == "none":
        reason = "pos_weight=none: the loss gets no automatic class weighting; set pos_weight: auto"
        detail = "pos_weight=none: no automatic class weighting"
        return Defence("pos_weight", False, detail, (("pos_weight_off", reason),))
    if not params.pos_weight_reaches_loss():  # the focal defence's flag already names the cause
        return Defence(
            "pos_weight", False, f"pos_weight={params.pos_weight} disabled by the double-count guard (alpha != 0.5)", ()
        )
    return Defence("pos_weight", True, f"pos_weight={params.pos_weight} passed to the loss", ())


def configuration_flags(params: Params) -> list[RedFlag]:
    """The red flags of a configuration with a defence off: raised before any data is read."""
    return [flag for d in defences(params) for flag in d.red_flags]


def configuration_checklist(params: Params) -> dict[str, bool]:
    """The train run's ``check.*`` items that follow from the configuration alone."""
    return {
        "focal_loss": params.loss == "focal",
        "alpha_neutral": params.alpha_is_neutral(),
        "balanced_sampler": params.use_balanced_sampling,
        "pos_weight_used": params.pos_weight_reaches_loss(),
    }


# ----------------------------------------------------------------------------- data stages
def corpus_flags(
    leaks: dict[str, list[str]], train_recordings: int, train_seizure_s: float, train_hours: float
) -> list[RedFlag]:
    """``patient_leakage`` and ``no_train_seizures``: ingest checks them on the corpus, stats on the tables."""
    flags = []
    if leaks:
        flags.append(("patient_leakage", leakage_reason(leaks)))
    if train_seizure_s <= 0:
        reason = f"the train split ({train_recordings} recordings, {train_hours:.2f} h) holds no seizure time"
        flags.append(("no_train_seizures", reason))
    return flags


def ingest_flags(
    all_zero: list[str], n_skipped: int, n_total: int, guards: GuardsConfig, report_path: str
) -> list[RedFlag]:
    """``all_zero_labels`` and ``too_many_skipped`` of one ingest run."""
    flags = []
    if all_zero:
        shown = ", ".join(all_zero[:5])
        flags.append(
            (
                "all_zero_labels",
                f"{len(all_zero)} recording(s) with seizure annotations gave an all-zero label mask: {shown}",
            )
        )
    fraction = n_skipped / n_total if n_total else 0.0
    if fraction > guards.max_skipped_fraction:
        reason = (
            f"{n_skipped} of {n_total} recordings skipped ({fraction:.1%} > guards.max_skipped_fraction="
            f"{guards.max_skipped_fraction}); see {report_path}"
        )
        flags.append(("too_many_skipped", reason))
    return flags


# ----------------------------------------------------------------------------- training
def nonfinite_loss_flag(loss: float, step: int) -> RedFlag:
    return "nonfinite_loss", f"loss is {loss} at step {step}; lower train.lr or check the inputs"


def epoch_flags(
    guards: GuardsConfig,
    *,
    epoch: int,
    zero_pos: int,
    n_batches: int,
    per_rank_batch: int,
    batch_pos_ratio_mean: float | None,
    val_auroc: float,
) -> list[RedFlag]:
    """Red flags of one training epoch (``epoch`` counts from 1)."""
    flags = []
    if zero_pos:
        reason = (
            f"{zero_pos} of the {n_batches} batches of epoch {epoch} "
            f"held no positive window (per-rank batch {per_rank_batch})"
        )
        flags.append(("zero_positive_batch", reason))
    if batch_pos_ratio_mean is not None and batch_pos_ratio_mean < guards.min_batch_pos_ratio:
        reason = (
            f"mean batch positive ratio {batch_pos_ratio_mean:.3f} < "
            f"guards.min_batch_pos_ratio={guards.min_batch_pos_ratio}"
        )
        flags.append(("low_batch_pos_ratio", reason))
    floor = 0.5 + guards.auroc_margin
    if epoch == 1 and not (math.isfinite(val_auroc) and val_auroc > floor):
        reason = (
            f"first val AUROC {val_auroc:.4f} <= 0.5 + guards.auroc_margin ({floor:.2f}): "
            "the detector ranks seizures no better than chance"
        )
        flags.append(("auroc_collapse", reason))
    return flags


def best_model_flags(max_probability: float) -> list[RedFlag]:
    """``all_predictions_zero``: the best weights never predict a seizure on the validation windows."""
    if max_probability < DECISION_THRESHOLD:
        reason = (
            f"every val prediction of the best model is below {DECISION_THRESHOLD} (max {max_probability:.4f}): "
            "it never predicts a seizure"
        )
        return [("all_predictions_zero", reason)]
    return []


# ----------------------------------------------------------------------------- evaluation
def evaluation_flags(
    train_params: Params,
    guards: GuardsConfig,
    *,
    n_recordings: int,
    has_seizures: bool,
    auroc: float | None,
    pred_pos_rate: float,
    tau_on: float,
    max_probability: float,
) -> list[RedFlag]:
    """Red flags of the evaluate stage; ``train_params`` are those the model was trained with."""
    flags = []
    off = [d for d in defences(train_params) if not d.holds]
    if off:
        flags.append(("trained_without_defences", "; ".join(f"{d.name}: {d.detail}" for d in off)))
    if not has_seizures:
        reason = f"the {n_recordings} eval recording(s) hold no seizure: sensitivity and AUROC are undefined"
        flags.append(("no_eval_seizures", reason))
    elif auroc is not None and auroc <= 0.5 + guards.auroc_margin:
        flags.append(
            ("eval_auroc_collapse", f"eval AUROC {auroc:.3f} <= 0.5 + guards.auroc_margin ({guards.auroc_margin})")
        )
    if pred_pos_rate == 0.0:
        reason = f"no eval step reaches tau_on={tau_on:.3f} (max probability {max_probability:.3f})"
        flags.append(("all_predictions_below_threshold", reason))
    return flags
