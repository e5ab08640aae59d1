"""Event scoring: OVLP exactly as NEDC ``nedc_eeg_eval`` v6.0.0, and SzCORE via ``timescoring``.

OVLP (NEDC v6.0.0, ``nedc_eeg_eval_ovlp.py``, label SEIZ), per recording:

- every reference seizure event is a *target*; it is a *hit* when at least one
  hypothesis seizure event overlaps it (``hyp.stop > ref.start and hyp.start <
  ref.stop``: touching end points do not overlap), otherwise a *miss*;
- every hypothesis seizure event that overlaps no reference seizure event is a
  *false alarm* (a hypothesis event overlapping several references, or several
  hypotheses overlapping one reference, add no false alarms);
- events are taken row by row as written (no merging), background rows are not
  seizure events and play no part in the SEIZ figures.

Counts are summed over recordings; sensitivity = hits / targets and FA/24h =
false alarms / total duration x 86400, the duration of a file being its
``# duration`` header. This reproduces the scorer's own example output.

SzCORE uses ``timescoring.scoring.EventScoring`` with its default parameters
(30 s tolerance before and 60 s after a reference event, events closer than 90 s
merged, events longer than 5 min split, any overlap counts); its true
positives, false positives and reference events are summed over recordings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SECONDS_PER_DAY = 86400.0
FA_BUDGETS = ("10", "5", "2.5", "1")

Interval = tuple[float, float]


@dataclass(frozen=True)
class RecordingScore:
    """Event counts of one recording under both scorers."""

    duration_s: float
    targets: int
    hits: int
    false_alarms: int
    n_hyp: int
    sz_ref: int
    sz_tp: int
    sz_fp: int

    @property
    def misses(self) -> int:
        return self.targets - self.hits


def _overlaps(a: Interval, b: Interval) -> bool:
    return b[1] > a[0] and b[0] < a[1]


def ovlp_counts(ref: list[Interval], hyp: list[Interval]) -> tuple[int, int, int]:
    """NEDC OVLP for one recording: ``(targets, hits, false_alarms)``."""
    hits = sum(any(_overlaps(r, h) for h in hyp) for r in ref)
    false_alarms = sum(not any(_overlaps(h, r) for r in ref) for h in hyp)
    return len(ref), hits, false_alarms


def szcore_counts(ref: list[Interval], hyp: list[Interval], duration_s: float) -> tuple[int, int, int]:
    """SzCORE event scoring (timescoring defaults) for one recording: ``(ref_events, tp, fp)``."""
    from timescoring import scoring
    from timescoring.annotations import Annotation

    fs = 10  # timescoring works at 10 Hz internally; building the masks at 10 Hz avoids a resampling step
    n = max(1, int(round(duration_s * fs)))
    ref_ann = Annotation([(float(s), float(e)) for s, e in sorted(ref)], fs, n)
    hyp_ann = Annotation([(float(s), float(e)) for s, e in sorted(hyp)], fs, n)
    res = scoring.EventScoring(ref_ann, hyp_ann)
    return int(res.refTrue), int(res.tp), int(res.fp)


def score_recording(ref: list[Interval], hyp: list[Interval], duration_s: float) -> RecordingScore:
    targets, hits, fa = ovlp_counts(ref, hyp)
    sz_ref, sz_tp, sz_fp = szcore_counts(ref, hyp, duration_s)
    return RecordingScore(float(duration_s), targets, hits, fa, len(hyp), sz_ref, sz_tp, sz_fp)


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


def summarise_scores(scores: list[RecordingScore]) -> dict:
    """Summed counts -> the ``ovlp``/``szcore`` blocks of ``metrics/eval.json`` plus counts.

    A ratio with a zero denominator (no reference events, no detections) is 0.0:
    JSON has no NaN, and 0 is what a sensitivity with nothing to detect is reported as.
    """
    duration = sum(s.duration_s for s in scores)
    targets = sum(s.targets for s in scores)
    hits = sum(s.hits for s in scores)
    fa = sum(s.false_alarms for s in scores)
    sz_ref = sum(s.sz_ref for s in scores)
    sz_tp = sum(s.sz_tp for s in scores)
    sz_fp = sum(s.sz_fp for s in scores)
    sz_sens = _ratio(sz_tp, sz_ref)
    sz_prec = _ratio(sz_tp, sz_tp + sz_fp)
    return {
        "ovlp": {"sensitivity": _ratio(hits, targets), "fa_per_24h": _ratio(fa * SECONDS_PER_DAY, duration)},
        "szcore": {
            "sensitivity": sz_sens,
            "precision": sz_prec,
            "f1": _ratio(2 * sz_tp, 2 * sz_tp + sz_fp + (sz_ref - sz_tp)),
            "fp_per_24h": _ratio(sz_fp * SECONDS_PER_DAY, duration),
        },
        "counts": {
            "recordings": len(scores),
            "duration_s": duration,
            "targets": targets,
            "hits": hits,
            "misses": targets - hits,
            "false_alarms": fa,
            "szcore_ref_events": sz_ref,
            "szcore_tp": sz_tp,
            "szcore_fp": sz_fp,
        },
    }


def ovlp_sweep(
    refs: list[list[Interval]], durations: list[float], hyps_by_threshold: dict[float, list[list[Interval]]]
) -> list[dict]:
    """OVLP sensitivity and FA/24h for each threshold: rows ``{tau_on, sensitivity, fa_per_24h, false_alarms}``."""
    total = float(sum(durations))
    rows = []
    for tau, hyps in sorted(hyps_by_threshold.items()):
        targets = hits = fa = 0
        for ref, hyp in zip(refs, hyps):
            t, h, f = ovlp_counts(ref, hyp)
            targets, hits, fa = targets + t, hits + h, fa + f
        rows.append(
            {
                "tau_on": float(tau),
                "sensitivity": _ratio(hits, targets),
                "fa_per_24h": _ratio(fa * SECONDS_PER_DAY, total),
                "false_alarms": fa,
            }
        )
    return rows


def sens_at_fa(sweep: list[dict], budgets: tuple[str, ...] = FA_BUDGETS) -> dict[str, float]:
    """Best OVLP sensitivity whose FA/24h does not exceed each budget (0.0 when no threshold fits)."""
    out = {}
    for b in budgets:
        ok = [r["sensitivity"] for r in sweep if r["fa_per_24h"] <= float(b) + 1e-9]
        out[b] = max(ok) if ok else 0.0
    return out


def threshold_grid(n: int = 49) -> np.ndarray:
    """tau_on values swept for the sensitivity/FA curve (0.02 .. 0.98)."""
    return np.round(np.linspace(0.02, 0.98, n), 4)


def sample_metrics(probs: list[np.ndarray], labels: list[np.ndarray], tau_on: float) -> dict:
    """AUROC, PR-AUC (average precision) and the fraction of steps with ``p >= tau_on``, over all steps.

    AUROC and PR-AUC are ``None`` when the labels hold a single class (undefined).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    p = np.concatenate(probs) if probs else np.zeros(0)
    y = np.concatenate(labels).astype(np.int8) if labels else np.zeros(0, dtype=np.int8)
    both = len(np.unique(y)) == 2
    return {
        "auroc": float(roc_auc_score(y, p)) if both else None,
        "pr_auc": float(average_precision_score(y, p)) if both else None,
        "pred_pos_rate": float(np.mean(p >= tau_on)) if len(p) else 0.0,
    }
