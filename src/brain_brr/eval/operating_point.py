"""Default thresholds, chosen on the dev split (never eval) at the end of training.

Criterion: sweep ``tau_on`` over :func:`threshold_grid` with ``tau_off = tau_on *
(eval.tau_off / eval.tau_on)`` (the ratio set in params, 0.6 by default) and the
other post-processing keys from ``params.eval``; keep the ``tau_on`` with the
highest OVLP sensitivity whose FA/24h on dev is at most :data:`DEV_FA_BUDGET`;
ties go to fewer false alarms, then to the higher ``tau_on``. When no threshold
meets the budget, the one with the fewest false alarms is taken and the
criterion string says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brain_brr.eval.postprocess import events_for, thresholds_from_params
from brain_brr.eval.scoring import ovlp_sweep, threshold_grid

DEV_FA_BUDGET = 10.0


def ovlp_curve(
    probs: list[np.ndarray],
    refs: list[list[tuple[float, float]]],
    durations: list[float],
    label_rate: float,
    base: dict[str, Any],
) -> list[dict]:
    """OVLP sensitivity / FA per 24 h for each ``tau_on`` of the grid (post-processing from ``base``)."""
    hyps = {float(t): [events_for(p, label_rate, base, tau_on=float(t)) for p in probs] for t in threshold_grid()}
    return ovlp_sweep(refs, durations, hyps)


def choose_threshold(sweep: list[dict], budget: float = DEV_FA_BUDGET) -> tuple[dict, str]:
    """The sweep row chosen by the criterion above, and the criterion as one line."""
    ok = [r for r in sweep if r["fa_per_24h"] <= budget + 1e-9]
    if ok:
        best = max(ok, key=lambda r: (r["sensitivity"], -r["false_alarms"], r["tau_on"]))
        return best, f"max OVLP sensitivity on dev s.t. FA/24h <= {budget:g}"
    best = min(sweep, key=lambda r: (r["false_alarms"], -r["sensitivity"], -r["tau_on"]))
    return best, f"no tau_on met FA/24h <= {budget:g} on dev: fewest false alarms"


def thresholds_on_dev(
    probs: list[np.ndarray],
    refs: list[list[tuple[float, float]]],
    durations: list[float],
    label_rate: float,
    eval_cfg: Any,
) -> dict[str, Any]:
    base = thresholds_from_params(eval_cfg)
    best, criterion = choose_threshold(ovlp_curve(probs, refs, durations, label_rate, base))
    return {
        **base,
        "tau_on": best["tau_on"],
        "tau_off": round(best["tau_on"] * base["tau_off"] / base["tau_on"], 6),
        "criterion": criterion,
        "dev_sensitivity": best["sensitivity"],
        "dev_fa_per_24h": best["fa_per_24h"],
    }


def select_operating_point(model: Any, params: Any, processed: Path, device: str = "cpu") -> dict[str, Any]:
    """Thresholds for ``config.json``: chosen on dev when ``eval.select_on_dev``, else ``params.eval``."""
    from brain_brr.eval.inference import infer_split

    base = thresholds_from_params(params.eval)
    if not params.eval.select_on_dev:
        return {
            **base,
            "criterion": "params.eval (eval.select_on_dev=false)",
            "dev_sensitivity": None,
            "dev_fa_per_24h": None,
        }
    d = params.data
    model = getattr(model, "module", model)  # unwrap DDP: only the main rank runs this, so no collective may happen
    was_training = model.training
    model.eval()  # dropout off while scoring; restored below so training can go on
    preds = infer_split(
        model, processed, "dev", fs=d.sampling_rate, label_rate=d.label_rate, window_s=d.window_s, device=device
    )
    model.train(was_training)
    if not any(p.ref_events for p in preds):
        print(
            f"[EVAL] dev split has {len(preds)} recording(s) and no seizure: thresholds taken from params.eval",
            flush=True,
        )
        return {
            **base,
            "criterion": "params.eval (no seizure in the dev split)",
            "dev_sensitivity": None,
            "dev_fa_per_24h": None,
        }
    out = thresholds_on_dev(
        [p.probs for p in preds],
        [p.ref_events for p in preds],
        [p.duration_s for p in preds],
        d.label_rate,
        params.eval,
    )
    print(
        f"[EVAL] operating point on dev: tau_on={out['tau_on']:.3f} tau_off={out['tau_off']:.3f} "
        f"sensitivity={out['dev_sensitivity']:.3f} FA/24h={out['dev_fa_per_24h']:.2f} ({out['criterion']})",
        flush=True,
    )
    return out
