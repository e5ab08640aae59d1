"""Seizure scoring as the field reports it: NEDC OVLP and TAES, SzCORE event and sample scoring.

OVLP (NEDC v6.0.0, ``nedc_eeg_eval_ovlp.py``, label SEIZ), per recording:

- every reference seizure event is a *target*; it is a *hit* when at least one
  hypothesis seizure event overlaps it (``hyp.stop > ref.start and hyp.start <
  ref.stop``: touching end points do not overlap), otherwise a *miss*;
- every hypothesis seizure event that overlaps no reference seizure event is a
  *false alarm* (a hypothesis event overlapping several references, or several
  hypotheses overlapping one reference, add no false alarms);
- background rows are not seizure events and play no part in the SEIZ figures.

TAES (NEDC v6.0.0, fractional hits, misses and false alarms): :mod:`brain_brr.eval.taes`.

SzCORE (``timescoring``, as the benchmark's ``szcore-evaluation`` runs it): each
annotation becomes a 1 Hz mask (``mask[int(onset):int(onset + duration)]``, the length
``int(recordingDuration)``); *event* scoring (:class:`timescoring.scoring.EventScoring`,
defaults: 30 s tolerance before and 60 s after a reference event, any overlap counts,
events closer than 90 s merged, longer than 5 min split) and *sample* scoring
(:class:`timescoring.scoring.SampleScoring`, second by second).

Every scorer is reported two ways (:func:`score_table`): *pooled* (counts summed over all
recordings, as NEDC sums them; a ratio with nothing to divide by is 0) and *averaged per
subject* (counts summed per subject, the ratios averaged over subjects, a ratio a subject
cannot define left out, as SzCORE reports; ``None`` when no subject defines it). The same
predictions give about 3x fewer false alarms under SzCORE than under OVLP: a score means
little without its scorer and aggregation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brain_brr.eval.taes import taes_counts

SECONDS_PER_DAY = 86400.0
FA_BUDGETS = ("10", "5", "2.5", "1")
SCORERS = ("ovlp", "taes", "szcore_event", "szcore_sample")
METRICS = ("sensitivity", "precision", "f1", "fa_per_24h")

Interval = tuple[float, float]


@dataclass(frozen=True)
class RecordingScore:
    """Counts of one recording under every scorer."""

    duration_s: float
    targets: int  # OVLP: reference seizure events
    hits: int
    false_alarms: int
    n_hyp: int
    sz_ref: int  # SzCORE event scoring: reference events (after merging and splitting), true and false positives
    sz_tp: int
    sz_fp: int
    taes_hit: float  # TAES: fractional hits, misses, false alarms
    taes_miss: float
    taes_fa: float
    smp_ref: int  # SzCORE sample scoring: seizure seconds in the reference, true and false positive seconds
    smp_tp: int
    smp_fp: int
    smp_n: int  # seconds in the 1 Hz masks (int(duration)): SzCORE's duration for its rates

    @property
    def misses(self) -> int:
        return self.targets - self.hits

    def counts(self, scorer: str) -> tuple[float, float, float, float]:
        """``(true positives, reference total, false positives, duration_s)`` under one scorer."""
        if scorer == "ovlp":
            return self.hits, self.targets, self.false_alarms, self.duration_s
        if scorer == "taes":
            return self.taes_hit, self.taes_hit + self.taes_miss, self.taes_fa, self.duration_s
        if scorer == "szcore_event":
            return self.sz_tp, self.sz_ref, self.sz_fp, self.smp_n
        if scorer == "szcore_sample":
            return self.smp_tp, self.smp_ref, self.smp_fp, self.smp_n
        raise ValueError(f"unknown scorer {scorer!r}; one of {', '.join(SCORERS)}")


def _overlaps(a: Interval, b: Interval) -> bool:
    return b[1] > a[0] and b[0] < a[1]


def ovlp_counts(ref: list[Interval], hyp: list[Interval]) -> tuple[int, int, int]:
    """NEDC OVLP for one recording: ``(targets, hits, false_alarms)``."""
    hits = sum(any(_overlaps(r, h) for h in hyp) for r in ref)
    false_alarms = sum(not any(_overlaps(h, r) for r in ref) for h in hyp)
    return len(ref), hits, false_alarms


def mask_1hz(events: list[Interval], duration_s: float) -> np.ndarray:
    """SzCORE's mask of an annotation: one sample per second, ``int`` of onset and end, ``int(duration)`` long."""
    mask = np.zeros(max(1, int(duration_s)), dtype=bool)
    for s, e in events:
        mask[max(0, int(s)) : max(0, int(e))] = True
    return mask


def szcore_counts(ref: list[Interval], hyp: list[Interval], duration_s: float) -> tuple[int, int, int]:
    """SzCORE event scoring (timescoring defaults) for one recording: ``(ref_events, tp, fp)``."""
    from timescoring import scoring
    from timescoring.annotations import Annotation

    res = scoring.EventScoring(Annotation(mask_1hz(ref, duration_s), 1), Annotation(mask_1hz(hyp, duration_s), 1))
    return int(res.refTrue), int(res.tp), int(res.fp)


def szcore_sample_counts(ref: list[Interval], hyp: list[Interval], duration_s: float) -> tuple[int, int, int, int]:
    """SzCORE sample scoring at 1 Hz: ``(reference seizure seconds, tp seconds, fp seconds, seconds)``."""
    from timescoring import scoring
    from timescoring.annotations import Annotation

    res = scoring.SampleScoring(Annotation(mask_1hz(ref, duration_s), 1), Annotation(mask_1hz(hyp, duration_s), 1))
    return int(res.refTrue), int(res.tp), int(res.fp), int(res.numSamples)


def score_recording(
    ref: list[Interval], hyp: list[Interval], duration_s: float, nedc: tuple[list, list] | None = None
) -> RecordingScore:
    """Every scorer on one recording. ``nedc``: the (ref, hyp) seizure events as NEDC reads the files, when
    they differ from ``ref``/``hyp`` (NEDC scores rows sorted, with touching rows of one label joined)."""
    n_ref, n_hyp = nedc if nedc is not None else (sorted(ref), sorted(hyp))
    targets, hits, fa = ovlp_counts(n_ref, n_hyp)
    taes_hit, taes_miss, taes_fa = taes_counts(n_ref, n_hyp)
    sz_ref, sz_tp, sz_fp = szcore_counts(ref, hyp, duration_s)
    smp = szcore_sample_counts(ref, hyp, duration_s)
    return RecordingScore(
        float(duration_s), targets, hits, fa, len(hyp), sz_ref, sz_tp, sz_fp, taes_hit, taes_miss, taes_fa, *smp
    )


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0


def _metrics(tp: float, ref: float, fp: float, duration_s: float, undefined: float | None) -> dict[str, float | None]:
    """The four ratios from counts; a zero denominator gives ``undefined``."""

    def ratio(num: float, den: float) -> float | None:
        return float(num) / float(den) if den else undefined

    return {
        "sensitivity": ratio(tp, ref),
        "precision": ratio(tp, tp + fp),
        "f1": ratio(2 * tp, 2 * tp + fp + (ref - tp)),
        "fa_per_24h": ratio(fp * SECONDS_PER_DAY, duration_s),
    }


def _summed(scores: list[RecordingScore], scorer: str) -> tuple[float, float, float, float]:
    rows = [s.counts(scorer) for s in scores]
    return tuple(float(sum(r[k] for r in rows)) for k in range(4))  # type: ignore[return-value]


def score_table(scores: list[RecordingScore], subjects: list[str] | None = None) -> dict:
    """``{scorer: {"pooled": {...}, "subject_avg": {...}}}`` for :data:`SCORERS`, plus ``n_subjects``.

    ``subjects[i]`` is the subject (patient) of ``scores[i]``; ``None`` puts every recording
    in one subject.
    """
    subjects = subjects if subjects is not None else ["all"] * len(scores)
    groups: dict[str, list[RecordingScore]] = {}
    for subject, score in zip(subjects, scores):
        groups.setdefault(subject, []).append(score)
    table: dict = {"n_subjects": len(groups)}
    for scorer in SCORERS:
        per_subject = [_metrics(*_summed(g, scorer), undefined=float("nan")) for g in groups.values()]
        averaged = {}
        for m in METRICS:
            values = [v[m] for v in per_subject if not np.isnan(v[m])]
            averaged[m] = float(np.mean(values)) if values else None
        table[scorer] = {"pooled": _metrics(*_summed(scores, scorer), undefined=0.0), "subject_avg": averaged}
    return table


def summarise_scores(scores: list[RecordingScore], subjects: list[str] | None = None) -> dict:
    """Summed counts and the score table -> the ``ovlp``, ``taes``, ``szcore`` and ``scores`` blocks of
    ``metrics/eval.json``, plus counts.

    ``ovlp`` and ``taes`` are pooled, as NEDC reports them; ``szcore`` is event scoring averaged
    over subjects, as SzCORE reports it (``fp_per_24h`` is its ``fa_per_24h``).
    """
    table = score_table(scores, subjects)
    ovlp, taes, sz = table["ovlp"]["pooled"], table["taes"]["pooled"], table["szcore_event"]["subject_avg"]
    duration = sum(s.duration_s for s in scores)
    targets, hits, fa = (sum(getattr(s, k) for s in scores) for k in ("targets", "hits", "false_alarms"))
    return {
        "ovlp": {"sensitivity": ovlp["sensitivity"], "fa_per_24h": ovlp["fa_per_24h"]},
        "taes": {"sensitivity": taes["sensitivity"], "fa_per_24h": taes["fa_per_24h"]},
        "szcore": {
            "sensitivity": sz["sensitivity"],
            "precision": sz["precision"],
            "f1": sz["f1"],
            "fp_per_24h": sz["fa_per_24h"],
        },
        "scores": table,
        "counts": {
            "recordings": len(scores),
            "subjects": table["n_subjects"],
            "duration_s": duration,
            "targets": targets,
            "hits": hits,
            "misses": targets - hits,
            "false_alarms": fa,
            "taes_hits": sum(s.taes_hit for s in scores),
            "taes_misses": sum(s.taes_miss for s in scores),
            "taes_false_alarms": sum(s.taes_fa for s in scores),
            "szcore_ref_events": sum(s.sz_ref for s in scores),
            "szcore_tp": sum(s.sz_tp for s in scores),
            "szcore_fp": sum(s.sz_fp for s in scores),
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
    """tau_on values swept for the sensitivity/FA curve: 0.02 .. 0.98, then 0.985 .. 0.999 for confident models."""
    return np.concatenate([np.round(np.linspace(0.02, 0.98, n), 4), [0.985, 0.99, 0.995, 0.998, 0.999]])


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


SCORER_NAMES = {
    "ovlp": "NEDC OVLP",
    "taes": "NEDC TAES",
    "szcore_event": "SzCORE event",
    "szcore_sample": "SzCORE sample",
}
AGGREGATIONS = {"pooled": "pooled", "subject_avg": "per subject"}


def _cell(value: float | None, pct: bool) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.2f}%" if pct else f"{value:.3f}" if value < 10 else f"{value:.1f}"


def table_rows(table: dict) -> list[list[str]]:
    """The score table as rows of text: scorer, aggregation, sensitivity, precision, F1, FA/24h."""
    rows = []
    for scorer in SCORERS:
        for agg, agg_name in AGGREGATIONS.items():
            m = table[scorer][agg]
            rows.append(
                [SCORER_NAMES[scorer], agg_name, _cell(m["sensitivity"], True), _cell(m["precision"], True)]
                + [_cell(m["f1"], False), _cell(m["fa_per_24h"], False)]
            )
    return rows


TABLE_HEADER = ["scorer", "aggregation", "sensitivity", "precision", "F1", "FA/24h"]


def format_table(table: dict, markdown: bool = False) -> str:
    """The score table for a terminal (aligned columns) or as a Markdown table."""
    rows = table_rows(table)
    if markdown:
        lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(r[i]) for r in [TABLE_HEADER, *rows]) for i in range(len(TABLE_HEADER))]
    return "\n".join(
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in [TABLE_HEADER, *rows]
    )
