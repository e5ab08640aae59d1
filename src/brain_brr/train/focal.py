"""Focal loss from logits, with the pos_weight double-count guard.

``loss = alpha_t * (1 - p_t)^gamma * BCEWithLogits(x, y, pos_weight)`` with
``alpha_t = alpha*y + (1-alpha)*(1-y)``. Both ``alpha != 0.5`` and ``pos_weight`` re-weight
the classes; applying both counts the imbalance twice (the seed project's 0.25 alpha on top
of pos_weight starved the seizure class), so pos_weight reaches the loss only when alpha is
neutral.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F

from brain_brr.errors import InputError

if TYPE_CHECKING:
    from brain_brr.config import Params

GUARD_LINE = "[INIT] FOCAL: alpha != 0.5 → disabling pos_weight to avoid double-counting"


def weighted_bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight: float | None) -> torch.Tensor:
    """Element-wise ``BCEWithLogits`` (softplus form: finite for any logit)."""
    pw = 1.0 if pos_weight is None else pos_weight
    return pw * targets * F.softplus(-logits) + (1 - targets) * F.softplus(logits)


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, *, alpha: float, gamma: float, pos_weight: float | None) -> torch.Tensor:
    """Element-wise focal loss for 0/1 targets.

    ``1 - p_t = sigmoid(-z)`` with ``z = x`` for positives and ``-x`` for negatives; the
    modulating factor is computed as ``exp(gamma * logsigmoid(-z))`` so that saturated logits
    (|x| = 100) give finite values and gradients for every gamma.
    """
    z = logits * (2 * targets - 1)
    modulating = torch.exp(gamma * F.logsigmoid(-z))
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return alpha_t * modulating * weighted_bce(logits, targets, pos_weight)



def corpus_pos_weight(stats_path: Path) -> float:
    """``train.pos_weight`` from ``metrics/stats.json`` (background time / seizure time)."""
    if not stats_path.is_file():
        raise InputError(f"{stats_path}: missing; pos_weight: auto needs it, run `dvc repro stats` (or `brain-brr stats`)")
    value = json.loads(stats_path.read_text()).get("train", {}).get("pos_weight")
    if value is None or not float(value) > 0:
        raise InputError(f"{stats_path}: train.pos_weight is {value!r}; rerun `dvc repro stats`, or set pos_weight to a number or none")
    return float(value)


def resolve_pos_weight(params: Params, stats_path: Path, batch_ratio: Callable[[], float] | None = None) -> float | None:
    """The pos_weight that reaches the loss, or ``None``; prints the guard line when it disables one.

    ``batch_ratio`` gives the negative/positive label-step ratio of the sampled batches, used when
    ``train.pos_weight_source: batches``.
    """
    if params.pos_weight == "none":
        return None
    if not params.pos_weight_reaches_loss():
        print(GUARD_LINE, flush=True)
        return None
    if isinstance(params.pos_weight, float):
        return params.pos_weight
    if params.train.pos_weight_source == "batches":
        if batch_ratio is None:
            raise ValueError("train.pos_weight_source=batches needs the sampled batches' label ratio")
        return float(batch_ratio())
    return corpus_pos_weight(stats_path)


def init_line(params: Params) -> str:
    """The contract's first ``[INIT]`` line, printed before the guard decides on pos_weight."""
    if params.loss == "focal":
        return f"[INIT] Using FOCAL loss (alpha={params.focal_alpha}, gamma={params.focal_gamma})"
    return f"[INIT] Using BCE loss (pos_weight={params.pos_weight})"


def build_loss(params: Params, pos_weight: float | None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Element-wise loss ``(logits, targets) -> loss`` for ``params.loss``."""
    if params.loss == "focal":
        alpha, gamma = params.focal_alpha, params.focal_gamma
        return lambda x, y: focal_loss(x, y, alpha=alpha, gamma=gamma, pos_weight=pos_weight)
    return lambda x, y: weighted_bce(x, y, pos_weight)
