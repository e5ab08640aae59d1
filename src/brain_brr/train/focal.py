"""Focal loss from logits, with the pos_weight double-count guard.

``loss = alpha_t * (1 - p_t)^gamma * BCEWithLogits(x, y, pos_weight)`` with
``alpha_t = alpha*y + (1-alpha)*(1-y)``. Both ``alpha != 0.5`` and ``pos_weight`` re-weight
the classes; applying both counts the imbalance twice (an alpha of 0.25 on top of
pos_weight starves the seizure class), so pos_weight reaches the loss only when alpha is
neutral.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from brain_brr.config import Params

GUARD_LINE = "[INIT] FOCAL: alpha != 0.5 → disabling pos_weight to avoid double-counting"


def weighted_bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight: float | None) -> torch.Tensor:
    """Element-wise ``BCEWithLogits`` (softplus form: finite for any logit)."""
    pw = 1.0 if pos_weight is None else pos_weight
    return pw * targets * F.softplus(-logits) + (1 - targets) * F.softplus(logits)


def focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, *, alpha: float, gamma: float, pos_weight: float | None
) -> torch.Tensor:
    """Element-wise focal loss for 0/1 targets.

    ``1 - p_t = sigmoid(-z)`` with ``z = x`` for positives and ``-x`` for negatives; the
    modulating factor is computed as ``exp(gamma * logsigmoid(-z))`` so that saturated logits
    (|x| = 100) give finite values and gradients for every gamma.
    """
    z = logits * (2 * targets - 1)
    modulating = torch.exp(gamma * F.logsigmoid(-z))
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return alpha_t * modulating * weighted_bce(logits, targets, pos_weight)


def init_lines(params: Params) -> list[str]:
    """The ``[INIT]`` lines: the loss, and the guard's line when it keeps pos_weight from the loss."""
    if params.loss == "focal":
        lines = [f"[INIT] Using FOCAL loss (alpha={params.focal_alpha}, gamma={params.focal_gamma})"]
    else:
        lines = [f"[INIT] Using BCE loss (pos_weight={params.pos_weight})"]
    if params.pos_weight != "none" and not params.pos_weight_reaches_loss():
        lines.append(GUARD_LINE)
    return lines


def resolve_pos_weight(
    params: Params, corpus_ratio: Callable[[], float], batch_ratio: Callable[[], float]
) -> float | None:
    """The pos_weight that reaches the loss, or ``None`` (``pos_weight: none``, or disabled by the guard).

    ``corpus_ratio`` gives background/seizure time of the train split (``metrics/stats.json``),
    ``batch_ratio`` the negative/positive label-step ratio of the sampled batches (used when
    ``train.pos_weight_source: batches``). Each is called only when needed.
    """
    if not params.pos_weight_reaches_loss():
        return None
    if isinstance(params.pos_weight, float):
        return params.pos_weight
    return float(batch_ratio() if params.train.pos_weight_source == "batches" else corpus_ratio())


def build_loss(params: Params, pos_weight: float | None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Element-wise loss ``(logits, targets) -> loss`` for ``params.loss``."""
    if params.loss == "focal":
        alpha, gamma = params.focal_alpha, params.focal_gamma
        return lambda x, y: focal_loss(x, y, alpha=alpha, gamma=gamma, pos_weight=pos_weight)
    return lambda x, y: weighted_bce(x, y, pos_weight)
