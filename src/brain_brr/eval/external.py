"""Other corpora as test sets (``eval.external``): every recording of them is test data.

A corpus root is a TUSZ tree or a BIDS dataset (told apart as ``data.root`` is); its split
folders or subject splits are ignored: nothing of it trains or chooses a threshold. Each EDF
is read and run as ``predict`` runs it (the model's own data settings), its reference read
from the annotation beside it, and the events at every operating point of the model's
``config.json`` scored with every scorer, pooled and per subject.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brain_brr.data.annotations import annotation_for
from brain_brr.data.layout import discover
from brain_brr.eval.postprocess import events_for
from brain_brr.eval.predict import Detector, predict_edf
from brain_brr.eval.scoring import score_recording, score_table


def operating_points(thresholds: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Post-processing per operating point of the model (``default`` alone when dev chose none)."""
    points = thresholds.get("operating_points") or {"default": thresholds}
    return {k: {**thresholds, "tau_on": op["tau_on"], "tau_off": op["tau_off"]} for k, op in points.items()}


def score_corpus(det: Detector, root: Path, thresholds: dict[str, Any], device: str) -> dict[str, Any]:
    """``{recordings, subjects, hours, seizures, operating_points: {key: score table}}`` for one corpus."""
    found, stray, fmt = discover(root, det.data.model_copy(update={"format": "auto"}))
    for rel in stray:
        print(f"[EXTERNAL] {root / rel}: outside the {fmt.upper()} layout; not scored", flush=True)
    traces = []
    for f in found:
        pred = predict_edf(det.model, f.edf, det.data, det.label_rate, det.thresholds, device)
        ref = annotation_for(f.edf).seizure_intervals(pred.info.duration_s)
        traces.append((pred.probs, ref, pred.info.duration_s, f.patient))
    subjects = [t[3] for t in traces]
    scored = {}
    for key, th in operating_points(thresholds).items():
        scores = [score_recording(ref, events_for(p, det.label_rate, th), d) for p, ref, d, _ in traces]
        scored[key] = {"tau_on": th["tau_on"], **score_table(scores, subjects)}
    return {
        "format": fmt,
        "recordings": len(traces),
        "subjects": len(set(subjects)),
        "hours": sum(t[2] for t in traces) / 3600.0,
        "seizures": sum(len(t[1]) for t in traces),
        "operating_points": scored,
    }
