"""Operating points chosen on the dev split (never eval) after training (the thresholds stage): one per FA target.

For each target ``r`` of ``eval.fa_targets`` (false alarms per 24 h) the wanted ``tau_on`` is
the most sensitive one whose false-alarm rate is at most ``r`` (``tau_off = tau_on *
eval.tau_off / eval.tau_on``, the other post-processing keys from ``params.eval``). On a dev
split of ``H`` hours the target allows ``k = r * H / 24`` false alarms.

The dev false-alarm count ``n(tau)`` is one noisy draw per threshold, so the rules read a
smoothed curve: a Poisson regression ``log E[n] = a + b * logit(tau_on)`` (:func:`fit_fa_tail`)
fitted to the part of the curve near the targets, the thresholds from which every dev count
stays within ``NEAR_FACTOR`` times the largest target's allowance (at least ``NEAR_MIN``).
Fitted over the whole tail instead, the low thresholds' many false alarms (where detections
merge) set the slope, and the fit then expects more false alarms near the targets than dev
shows: the rule stopped short of its budget (measured: docs/evaluation-extras.md).

- ``k >= 1``, dev resolves the target: the empirical rule. A threshold is within the target
  when, at it and at every threshold above it, the fitted curve expects at most ``k``
  false alarms and the observed count is plausible for a rate of ``k`` (``P(N >= n) >= 0.05``,
  Poisson: two dev false alarms where ``k`` is 1.67 are as likely as not); among those, the
  one that detects the most (:func:`most_detecting`): OVLP sensitivity first, then the
  fraction of dev seizure time inside a detection (:func:`covered_time`), then fewer false
  alarms. Without a fit (fewer than two thresholds with false alarms near the targets) the
  observed counts decide alone: at most ``k`` (:func:`within_budget`).
- ``k < 1``, dev is too short (1.3 h: one false alarm is already 18 per 24 h), and the curve
  alone would give every target the same "zero false alarms" threshold: ``tau_on`` is where
  the fit expects ``k`` false alarms. It is raised to a floor only where the dev data demand
  it: above the floor every dev count ``n`` is plausible when ``k`` are expected
  (:func:`floor_threshold`); and it is never above the highest threshold at which dev still
  finds a seizure (a threshold that finds nothing is no operating point, and with so little
  dev the fit says little that far out). Without a fit, the lowest threshold without a dev
  false alarm above it is used and the rule says so.

A smaller target never gets a lower threshold than a larger one. The first target is the
default operating point (``tau_on``/``tau_off`` of ``models/detector/config.json``, used by
``predict`` and the SzCORE entry point); ``operating_points`` holds them all.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from brain_brr.atomic import write_json_atomic
from brain_brr.eval.postprocess import events_for, thresholds_from_params
from brain_brr.eval.scoring import ovlp_sweep, threshold_grid
from brain_brr.train.model import THRESHOLDS_FILE

DEV_FA_BUDGET = 10.0
TOP_TAU = float(threshold_grid()[-1])
FLOOR_LEVEL = 0.05  # dev false-alarm counts less likely than this under the target's rate contradict the target
NEAR_FACTOR = 4.0  # the fit describes the curve where dev counts stay within this many times the largest allowance
NEAR_MIN = 5.0  # ... and within at least this many false alarms


def _hyps(probs: list[np.ndarray], label_rate: float, base: dict[str, Any], grid: Any) -> dict[float, list]:
    return {float(t): [events_for(p, label_rate, base, tau_on=float(t)) for p in probs] for t in grid}


def ovlp_curve(
    probs: list[np.ndarray],
    refs: list[list[tuple[float, float]]],
    durations: list[float],
    label_rate: float,
    base: dict[str, Any],
    taus: Any = None,
) -> list[dict]:
    """OVLP sensitivity / FA per 24 h for each ``tau_on`` of the grid (post-processing from ``base``)."""
    return ovlp_sweep(refs, durations, _hyps(probs, label_rate, base, threshold_grid() if taus is None else taus))


def covered_time(refs: list[list[tuple[float, float]]], hyps: list[list[tuple[float, float]]]) -> float:
    """The fraction of reference seizure time inside a detection (0 without seizure time)."""
    inside = sum(max(0.0, min(r[1], h[1]) - max(r[0], h[0])) for ref, hyp in zip(refs, hyps) for r in ref for h in hyp)
    total = sum(r[1] - r[0] for ref in refs for r in ref)
    return inside / total if total > 0 else 0.0


def dev_curve(
    probs: list[np.ndarray],
    refs: list[list[tuple[float, float]]],
    durations: list[float],
    label_rate: float,
    base: dict[str, Any],
    taus: Any = None,
) -> list[dict]:
    """:func:`ovlp_curve`'s rows with ``covered``, the seizure time detected (:func:`covered_time`)."""
    hyps = _hyps(probs, label_rate, base, threshold_grid() if taus is None else taus)
    rows = ovlp_sweep(refs, durations, hyps)
    return [{**r, "covered": covered_time(refs, hyps[r["tau_on"]])} for r in rows]


def within_budget(sweep: list[dict], budget: float) -> list[dict]:
    """The rows from the grid's top down to the first over ``budget`` FA/24h: a threshold is within the
    target when every threshold above it is too (one that dips back under, as merged events can, is not)."""
    rows = []
    for r in sorted(sweep, key=lambda r: r["tau_on"], reverse=True):
        if r["fa_per_24h"] > budget + 1e-9:
            break
        rows.append(r)
    return rows


def most_detecting(rows: list[dict]) -> dict:
    """The row that detects the most: OVLP sensitivity, then seizure time covered; then fewer false alarms,
    then the higher ``tau_on`` (equal detection for more false alarms is no gain)."""
    return max(rows, key=lambda r: (r["sensitivity"], r.get("covered", 0.0), -r["false_alarms"], r["tau_on"]))


def choose_threshold(sweep: list[dict], budget: float = DEV_FA_BUDGET) -> tuple[dict, str]:
    """The most detecting row (:func:`most_detecting`) within ``budget`` FA/24h, and the criterion as one line."""
    ok = within_budget(sweep, budget)
    if ok:
        return most_detecting(ok), f"most detecting on dev (OVLP, then seizure time) s.t. FA/24h <= {budget:g}"
    best = min(sweep, key=lambda r: (r["false_alarms"], -r["sensitivity"], -r["tau_on"]))
    return best, f"no tau_on met FA/24h <= {budget:g} on dev: fewest false alarms"


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def poisson_tail(n: int, mean: float) -> float:
    """``P(N >= n)`` for ``N ~ Poisson(mean)``."""
    return 1.0 - sum(math.exp(-mean) * mean**k / math.factorial(k) for k in range(n))


def floor_threshold(sweep: list[dict], allowed: float, level: float = FLOOR_LEVEL) -> float:
    """The lowest grid ``tau_on`` above which every dev false-alarm count is plausible when ``allowed`` are
    expected (``P(N >= n) >= level``, Poisson): dev data contradict a threshold below it. With ``allowed``
    near 0 it is the lowest threshold without a dev false alarm above it; the grid's top when none fits."""
    tau = TOP_TAU
    for r in sorted(sweep, key=lambda r: r["tau_on"], reverse=True):
        if poisson_tail(int(r["false_alarms"]), allowed) < level:
            break
        tau = r["tau_on"]
    return tau


def detecting_ceiling(sweep: list[dict]) -> float:
    """The highest grid ``tau_on`` at which dev still finds a seizure (the grid's top when none does)."""
    found = [r["tau_on"] for r in sweep if r["sensitivity"] > 0]
    return max(found) if found else TOP_TAU


def fit_fa_tail(sweep: list[dict], near: float | None = None) -> tuple[float, float] | None:
    """``(a, b)`` of ``log E[false alarms] = a + b * logit(tau_on)`` on the tail of the curve, or ``None``.

    The tail runs from the threshold where the count peaks upward; with ``near``, only its part
    from where every count at and above stays at most ``near`` (the curve near the targets)."""
    rows = sorted(sweep, key=lambda r: r["tau_on"])
    counts = [r["false_alarms"] for r in rows]
    peak = max(i for i, n in enumerate(counts) if n == max(counts))
    tail = rows[peak:]
    if near is not None:
        start = len(tail)
        while start > 0 and tail[start - 1]["false_alarms"] <= near:
            start -= 1
        tail = tail[start:]
    if sum(r["false_alarms"] > 0 for r in tail) < 2:
        return None
    x = np.array([_logit(r["tau_on"]) for r in tail])
    y = np.array([r["false_alarms"] for r in tail], dtype=float)
    a, b = poisson_regression(x, y)
    return (a, b) if b < 0 else None


def poisson_regression(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood ``(a, b)`` of ``y ~ Poisson(exp(a + b * x))``: Newton's method on the concave
    log-likelihood, each step halved until the likelihood rises (scikit-learn's ``PoissonRegressor(alpha=0)``
    gives the same two numbers; this keeps its import, a second of every thresholds run, out of the stage)."""
    design = np.column_stack([np.ones_like(x), x])
    theta = np.array([math.log(max(float(y.mean()), 1e-12)), 0.0])

    def loglik(t: np.ndarray) -> float:
        eta = design @ t
        return float(y @ eta - np.exp(eta).sum())

    for _ in range(200):
        mu = np.exp(design @ theta)
        step = np.linalg.solve(design.T @ (design * mu[:, None]), design.T @ (y - mu))
        scale, current = 1.0, loglik(theta)
        while loglik(theta + scale * step) < current and scale > 1e-10:
            scale /= 2
        theta = theta + scale * step
        if np.max(np.abs(scale * step)) < 1e-12:
            break
    return float(theta[0]), float(theta[1])


def near_targets(targets: Any, hours: float) -> float:
    """The largest dev count the fit reads (:func:`fit_fa_tail`'s ``near``) for these FA targets on ``hours`` of dev."""
    return max(NEAR_FACTOR * max(targets) * hours / 24.0, NEAR_MIN)


def within_smoothed(sweep: list[dict], allowed: float, fit: tuple[float, float]) -> list[dict]:
    """The rows from the grid's top down to the first where the fit expects more than ``allowed`` false alarms
    or where the observed count is implausible for that many (``P(N >= n) < FLOOR_LEVEL``)."""
    rows = []
    for r in sorted(sweep, key=lambda r: r["tau_on"], reverse=True):
        if expected_false_alarms(fit, r["tau_on"]) > allowed + 1e-9:
            break
        if poisson_tail(int(r["false_alarms"]), allowed) < FLOOR_LEVEL:
            break
        rows.append(r)
    return rows


def expected_false_alarms(fit: tuple[float, float], tau: float) -> float:
    """Dev false alarms the Poisson fit expects at ``tau``."""
    return math.exp(fit[0] + fit[1] * _logit(tau))


def threshold_for(sweep: list[dict], target: float, hours: float, fit: tuple[float, float] | None) -> tuple[float, str]:
    """``(tau_on, rule)`` for one target in false alarms per 24 h (see the module's docstring)."""
    allowed = target * hours / 24.0
    if allowed >= 1.0:
        rows = [] if fit is None else within_smoothed(sweep, allowed, fit)
        if rows:
            best = most_detecting(rows)
            return float(best["tau_on"]), (
                f"empirical: most detecting on dev where the Poisson-smoothed curve expects FA/24h <= {target:g} "
                "and the observed counts are plausible"
            )
        best, _ = choose_threshold(sweep, target)
        return float(best["tau_on"]), f"empirical: most detecting on dev with observed FA/24h <= {target:g}"
    if fit is None:
        floor = floor_threshold(sweep, 0.0)
        return floor, f"zero dev false alarms ({hours:.2f} h of dev allow {allowed:.2f}; too few to extrapolate)"
    floor = floor_threshold(sweep, allowed)
    a, b = fit
    tau = 1.0 / (1.0 + math.exp(-(math.log(allowed) - a) / b))
    rule = f"extrapolated: Poisson fit of the dev false alarms expects {allowed:.2f} in {hours:.2f} h"
    ceiling = max(detecting_ceiling(sweep), floor)
    if tau > ceiling:
        return ceiling, f"{rule}, capped at the highest threshold still finding a dev seizure"
    if tau < floor:
        return floor, f"{rule}, raised to where dev's false alarms are plausible at that rate"
    return float(tau), rule


def _key(target: float) -> str:
    return f"{target:g}"


def thresholds_on_dev(
    probs: list[np.ndarray],
    refs: list[list[tuple[float, float]]],
    durations: list[float],
    label_rate: float,
    eval_cfg: Any,
) -> dict[str, Any]:
    """The default thresholds (first target) and every target's operating point, chosen on dev."""
    base = thresholds_from_params(eval_cfg)
    ratio = base["tau_off"] / base["tau_on"]
    sweep = dev_curve(probs, refs, durations, label_rate, base)
    hours = float(sum(durations)) / 3600.0
    fit = fit_fa_tail(sweep, near_targets(eval_cfg.fa_targets, hours))
    chosen: dict[str, tuple[float, str]] = {}
    previous, previous_key = 0.0, ""
    for target in sorted(eval_cfg.fa_targets, reverse=True):  # a smaller target never gets a lower threshold
        tau, rule = threshold_for(sweep, target, hours, fit)
        if tau < previous:
            tau, rule = previous, f"{rule}; raised to the {previous_key}/24h threshold"
        chosen[_key(target)] = (tau, rule)
        previous, previous_key = tau, _key(target)
    at = {r["tau_on"]: r for r in ovlp_curve(probs, refs, durations, label_rate, base, [t for t, _ in chosen.values()])}
    points = {}
    for target in eval_cfg.fa_targets:
        tau, rule = chosen[_key(target)]
        expected = None if fit is None else expected_false_alarms(fit, tau) * 24.0 / hours
        points[_key(target)] = {
            "tau_on": tau,
            "tau_off": round(tau * ratio, 6),
            "rule": rule,
            "dev_sensitivity": at[tau]["sensitivity"],
            "dev_fa_per_24h": at[tau]["fa_per_24h"],
            "dev_fa_per_24h_fitted": expected,
        }
    default = points[_key(eval_cfg.fa_targets[0])]
    return {
        **base,
        "tau_on": default["tau_on"],
        "tau_off": default["tau_off"],
        "criterion": f"FA target {_key(eval_cfg.fa_targets[0])}/24h, {default['rule']}",
        "dev_sensitivity": default["dev_sensitivity"],
        "dev_fa_per_24h": default["dev_fa_per_24h"],
        "dev_hours": hours,
        "operating_points": points,
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
    for key, op in out["operating_points"].items():
        print(
            f"[EVAL] operating point for {key} FA/24h ({out['dev_hours']:.2f} h of dev): tau_on={op['tau_on']:.3f} "
            f"dev sensitivity={op['dev_sensitivity']:.3f} dev FA/24h={op['dev_fa_per_24h']:.2f} ({op['rule']})",
            flush=True,
        )
    return out


def write_thresholds(model_dir: Path, thresholds: dict[str, Any]) -> None:
    """``thresholds.json`` beside the detector's weights (``load_detector`` returns it as ``config["thresholds"]``)."""
    write_json_atomic(model_dir / THRESHOLDS_FILE, thresholds)
