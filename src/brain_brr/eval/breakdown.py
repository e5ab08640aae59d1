"""What a clinician asks after "how many seizures": which kinds are detected, and how late.

*Seizure types*: each reference seizure takes the type of the annotated seizure event that
overlaps it most (TUSZ ``.csv`` per-channel labels ``fnsz``, ``cpsz``, ..., merged over
channels; BIDS/SzCORE ``eventType`` ``sz_foc_*``, ``sz_gen_*``, ...); a term-only ``seiz``/``sz``
label is itself the type. Per type, pooled over recordings: the number of reference seizures,
OVLP sensitivity (a seizure is found when a detection overlaps it) and SzCORE event sensitivity
(``timescoring`` event scoring of that type's seizures against every detection).

*Onset latency*: for every reference seizure a detection overlaps, the start of the earliest
overlapping detection minus the seizure's onset, in seconds (negative when the detection
starts early); median and 90th percentile, pooled and per subject.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brain_brr.data.annotations import Annotation, annotation_for, merge_intervals, read_csv
from brain_brr.eval.scoring import Interval, szcore_counts

UNTYPED = "unknown"


def typed_seizures(ann: Annotation) -> list[tuple[float, float, str]]:
    """The annotation's seizure events as ``(start, stop, type)``, one type's rows merged (over channels)."""
    by_type: dict[str, list[Interval]] = {}
    for e in ann.events:
        if e.is_seizure:
            by_type.setdefault(e.label.strip().lower(), []).append((e.start, e.stop))
    return sorted((s, t, label) for label, ivs in by_type.items() for s, t in merge_intervals(ivs))


def typed_seizures_of(path: Path, ann: Annotation | None = None) -> list[tuple[float, float, str]]:
    """The typed seizures of one recording: from the TUSZ per-channel ``.csv`` beside ``path`` (an EDF or a
    ``.csv_bi``, which says only ``seiz``) when there is one, else from ``ann`` or the annotation beside the EDF."""
    csv = path.with_suffix(".csv")
    if csv.is_file():
        return typed_seizures(read_csv(csv))
    return typed_seizures(ann if ann is not None else annotation_for(path))


def _overlap(a: Interval, b: tuple[float, float, str] | Interval) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def types_of(refs: list[Interval], typed: list[tuple[float, float, str]]) -> list[str]:
    """The type of each reference seizure: the typed event overlapping it most (``unknown`` when none does)."""
    out = []
    for r in refs:
        best = max(typed, key=lambda t: _overlap(r, t), default=None)
        out.append(best[2] if best is not None and _overlap(r, best) > 0 else UNTYPED)
    return out


def type_table(
    refs: list[list[Interval]], types: list[list[str]], hyps: list[list[Interval]], durations: list[float]
) -> dict[str, dict]:
    """``{type: {n_ref, ovlp_sensitivity, szcore_sensitivity}}``, pooled over recordings, types sorted."""
    counts: dict[str, list[int]] = {}  # type -> [n_ref, ovlp hits, szcore reference events, szcore tp]
    for ref, typ, hyp, duration in zip(refs, types, hyps, durations):
        for label in sorted(set(typ)):
            mine = [r for r, t in zip(ref, typ) if t == label]
            hits = sum(any(_overlap(r, h) > 0 for h in hyp) for r in mine)
            sz_ref, sz_tp, _ = szcore_counts(mine, hyp, duration)
            c = counts.setdefault(label, [0, 0, 0, 0])
            for i, v in enumerate((len(mine), hits, sz_ref, sz_tp)):
                c[i] += v
    return {
        label: {
            "n_ref": n,
            "ovlp_sensitivity": hits / n if n else None,
            "szcore_sensitivity": tp / sz if sz else None,
        }
        for label, (n, hits, sz, tp) in sorted(counts.items())
    }


def onset_delays(ref: list[Interval], hyp: list[Interval]) -> list[float]:
    """For each reference seizure a detection overlaps: earliest overlapping detection's start minus the onset."""
    out = []
    for r in ref:
        starts = [h[0] for h in hyp if _overlap(r, h) > 0]
        if starts:
            out.append(float(min(starts) - r[0]))
    return out


def _summary(delays: list[float]) -> dict:
    if not delays:
        return {"n": 0, "median_s": None, "p90_s": None}
    return {"n": len(delays), "median_s": float(np.median(delays)), "p90_s": float(np.percentile(delays, 90))}


def latency_table(refs: list[list[Interval]], hyps: list[list[Interval]], subjects: list[str]) -> dict:
    """``{"pooled": {n, median_s, p90_s}, "per_subject": {subject: {...}}, "delays_s": [...]}``."""
    per: dict[str, list[float]] = {}
    for ref, hyp, subject in zip(refs, hyps, subjects):
        per.setdefault(subject, []).extend(onset_delays(ref, hyp))
    pooled = [d for ds in per.values() for d in ds]
    return {
        "pooled": _summary(pooled),
        "per_subject": {s: _summary(ds) for s, ds in sorted(per.items())},
        "delays_s": pooled,
    }


def plot_delays(path: Path, delays: list[float]) -> None:
    """Histogram of the onset delays (PNG), median marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    if delays:
        ax.hist(delays, bins=min(30, max(5, len(delays))), color="tab:blue", alpha=0.8)
        ax.axvline(float(np.median(delays)), color="k", linestyle="--", label=f"median {np.median(delays):.1f} s")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no detected seizure", ha="center", va="center", transform=ax.transAxes)
    ax.axvline(0.0, color="tab:red", linewidth=1)
    ax.set_xlabel("detection start - seizure onset (s)")
    ax.set_ylabel("detected seizures")
    ax.set_title("Onset latency (eval split)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def recording_types(rec_ids: list[str], refs: list[list[Interval]], processed: Path, root: Path) -> list[list[str]]:
    """The type of every reference seizure of each recording, from the annotation beside its EDF under ``root``
    (``unknown`` where that file is gone or unreadable: the processed data keep no types)."""
    import pandas as pd

    from brain_brr.errors import InputError

    paths = pd.read_parquet(processed / "recordings.parquet").set_index("rec_id")["path"]
    out = []
    for rec_id, ref in zip(rec_ids, refs):
        try:
            typed = typed_seizures_of(root / paths[rec_id])
        except (InputError, OSError, KeyError) as exc:
            print(f"[EVAL] {rec_id}: seizure types unknown ({str(exc).splitlines()[0]})", flush=True)
            typed = []
        out.append(types_of(ref, typed))
    return out
