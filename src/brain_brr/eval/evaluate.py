"""What the evaluate stage computes: every metric of ``metrics/eval.json`` for a detector's traces.

:func:`score_predictions` turns probability traces into events and scores them
(sample-level AUROC/PR-AUC, NEDC OVLP and TAES, SzCORE event and sample scores, pooled
and per subject, sensitivity at fixed false-alarm rates); :func:`score_operating_points`
scores every operating point chosen on dev; :func:`recordings_table` and
:func:`subjects_table` are the per-recording and per-subject views;
:func:`line_length_baseline` scores the classical detector the model has to beat.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from brain_brr.config import EvalConfig, Params, parse_params
from brain_brr.errors import InputError
from brain_brr.eval.baseline import line_length_score
from brain_brr.eval.inference import RecordingPrediction, predict_split
from brain_brr.eval.operating_point import ovlp_curve, thresholds_on_dev
from brain_brr.eval.postprocess import events_for, thresholds_from_params
from brain_brr.eval.scoring import (
    RecordingScore,
    sample_metrics,
    score_recording,
    score_table,
    sens_at_fa,
    summarise_scores,
)


def subject_of(p: RecordingPrediction) -> str:
    return p.patient or p.rec_id.split("_")[0]


def score_events(preds: list[RecordingPrediction], thresholds: dict, label_rate: int) -> tuple[list, list, dict]:
    """Events at ``thresholds``, their per-recording scores and the summary (every scorer, pooled and per subject)."""
    hyps = [events_for(p.probs, label_rate, thresholds) for p in preds]
    scores = [score_recording(p.ref_events, h, p.duration_s) for p, h in zip(preds, hyps)]
    return hyps, scores, summarise_scores(scores, [subject_of(p) for p in preds])


def score_predictions(preds: list[RecordingPrediction], thresholds: dict, label_rate: int) -> dict[str, Any]:
    """Every metric of ``metrics/eval.json`` for one detector's traces; ``hyps`` and ``scores`` per recording."""
    probs, labels = [p.probs for p in preds], [p.labels for p in preds]
    hyps, scores, summary = score_events(preds, thresholds, label_rate)
    sweep = ovlp_curve(probs, [p.ref_events for p in preds], [p.duration_s for p in preds], label_rate, thresholds)
    return {
        **sample_metrics(probs, labels, thresholds["tau_on"]),
        "sens_at_fa": sens_at_fa(sweep),
        **{k: summary[k] for k in ("szcore", "ovlp", "taes", "scores", "counts")},
        "_hyps": hyps,
        "_scores": scores,
        "_sweep": sweep,
    }


def score_operating_points(preds: list[RecordingPrediction], thresholds: dict, label_rate: int) -> dict[str, Any]:
    """The eval scores at each operating point chosen on dev (``thresholds["operating_points"]``)."""
    out = {}
    for target, op in (thresholds.get("operating_points") or {}).items():
        _, _, summary = score_events(
            preds, {**thresholds, "tau_on": op["tau_on"], "tau_off": op["tau_off"]}, label_rate
        )
        out[target] = {
            **{k: op.get(k) for k in ("tau_on", "rule", "dev_fa_per_24h", "dev_fa_per_24h_fitted")},
            **{k: summary[k] for k in ("ovlp", "taes", "szcore")},
        }
    return out


def subjects_table(preds: list[RecordingPrediction], scores: list[RecordingScore]) -> pd.DataFrame:
    """One row per subject (OVLP and SzCORE event scores at the default operating point), worst first:
    lowest sensitivity first (a subject without seizures counts as 1), then most false alarms."""
    groups: dict[str, list[tuple[RecordingPrediction, RecordingScore]]] = {}
    for p, s in zip(preds, scores):
        groups.setdefault(subject_of(p), []).append((p, s))
    rows = []
    for subject, members in groups.items():
        table = score_table([s for _, s in members])
        ovlp, sz = table["ovlp"]["pooled"], table["szcore_event"]["pooled"]
        seizures = sum(s.targets for _, s in members)
        rows.append(
            {
                "subject": subject,
                "recordings": len(members),
                "hours": sum(s.duration_s for _, s in members) / 3600,
                "seizures": seizures,
                "detected": sum(s.hits for _, s in members),
                "sensitivity": ovlp["sensitivity"] if seizures else None,
                "false_alarms": sum(s.false_alarms for _, s in members),
                "fa_per_24h": ovlp["fa_per_24h"],
                "szcore_sensitivity": sz["sensitivity"] if seizures else None,
                "szcore_fp_per_24h": sz["fa_per_24h"],
            }
        )
    rows.sort(key=lambda r: (1.0 if r["sensitivity"] is None else r["sensitivity"], -r["fa_per_24h"], r["subject"]))
    return pd.DataFrame(rows)


def public(result: dict) -> dict:
    """The JSON-ready part of :func:`score_predictions` (without per-recording ``_`` keys)."""
    return {k: v for k, v in result.items() if not k.startswith("_")}


def recordings_table(preds: list[RecordingPrediction], scores: list[RecordingScore], tau_on: float) -> pd.DataFrame:
    rows = []
    for p, s in zip(preds, scores):
        rec = sample_metrics([p.probs], [p.labels], tau_on)
        rows.append(
            {
                "rec_id": p.rec_id,
                "duration_s": p.duration_s,
                "n_ref": s.targets,
                "n_hyp": s.n_hyp,
                "hits": s.hits,
                "misses": s.misses,
                "false_alarms": s.false_alarms,
                "szcore_tp": s.sz_tp,
                "szcore_fp": s.sz_fp,
                "auroc": rec["auroc"],
                "max_prob": float(p.probs.max()) if len(p.probs) else 0.0,
                "pred_pos_rate": rec["pred_pos_rate"],
            }
        )
    return pd.DataFrame(rows)


def train_params_of(config: dict, model_dir: Path) -> Params:
    """The params a model directory's detector was trained with."""
    if "train_params" not in config:
        raise InputError(f"{model_dir / 'config.json'}: key 'train_params' missing; retrain with `dvc repro train`")
    return parse_params(config["train_params"], source=f"{model_dir / 'config.json'} train_params")


def file_stem(rec_id: str, processed: Path) -> str:
    """``rec_id`` comes from the tables on disk: never let it name a path outside the output folder."""
    if not rec_id or rec_id != Path(rec_id).name or rec_id.startswith("."):
        raise InputError(
            f"{processed / 'recordings.parquet'}: rec_id {rec_id!r} is not a plain file name; re-run ingest"
        )
    return rec_id


def line_length_baseline(processed: Path, *, fs: int, label_rate: int, eval_cfg: EvalConfig) -> dict[str, Any]:
    """The line-length detector on the eval split, its threshold chosen on dev by the model's own criterion."""
    ll = partial(line_length_score, fs=fs, label_rate=label_rate)
    dev = predict_split(processed, "dev", fs=fs, label_rate=label_rate, score=ll)
    ev = predict_split(processed, "eval", fs=fs, label_rate=label_rate, score=ll)
    if any(p.ref_events for p in dev):
        probs, refs, durations = [p.probs for p in dev], [p.ref_events for p in dev], [p.duration_s for p in dev]
        th = thresholds_on_dev(probs, refs, durations, label_rate, eval_cfg)
    else:
        th = thresholds_from_params(eval_cfg)
    return {**public(score_predictions(ev, th, label_rate)), "thresholds": th}
