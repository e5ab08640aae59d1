"""``brain-brr predict``: a trained detector on EDF files -> ``<stem>.csv_bi``, ``.tsv`` and ``.probs.parquet``.

Each EDF is read exactly as the ingest stage reads it (``data.edf.read_eeg`` with
the model's own data settings: any sampling rate, TUSZ or BIDS channel names), run
whole-recording, and post-processed with the thresholds in the model's
``config.json``. ``<stem>.tsv`` is the SzCORE annotation (``dateTime`` from the EDF
header, ``recordingDuration`` the EDF's duration, ``confidence`` the mean probability
over the event). A recording too short to filter (under 4 s) gets a background-only
annotation and a warning. A file that cannot be read gets one line on stderr; the
others are still written, and the command exits 2 at the end.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from brain_brr.config import DataConfig
from brain_brr.data.annotations import write_csv_bi
from brain_brr.data.edf import EdfInfo
from brain_brr.data.events_tsv import write_events_tsv
from brain_brr.data.store import write_table_atomic
from brain_brr.device import resolve_device
from brain_brr.errors import BrainBrrError, InputError
from brain_brr.eval.inference import infer_recording
from brain_brr.eval.postprocess import events_for, thresholds_from_config


def stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def find_edfs(inputs: list[Path]) -> tuple[list[Path], list[str]]:
    """EDF files named or found (recursively) under the folders given; one problem line per bad input."""
    found, problems = [], []
    for p in inputs:
        if p.is_dir():
            edfs = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() == ".edf")
            if not edfs:
                problems.append(f"{p}: no .edf file in this folder or below it")
            found += edfs
        elif p.is_file():
            found.append(p)
        else:
            problems.append(f"{p}: no such file or folder")
    return found, problems


@dataclass
class Detector:
    """A model directory, loaded: the network and what ``predict`` needs from its ``config.json``."""

    model: Any
    data: DataConfig
    label_rate: int
    thresholds: dict


def load_model_dir(model_dir: Path) -> Detector:
    from brain_brr.train.model import load_detector

    model, config = load_detector(model_dir)
    try:
        data_cfg = DataConfig(**config["data"])
    except ValueError as exc:
        raise InputError(
            f"{model_dir / 'config.json'}: its 'data' settings are invalid "
            f"({str(exc).splitlines()[0]}); retrain with `dvc repro train`"
        ) from None
    return Detector(model, data_cfg, int(config["label_rate"]), thresholds_from_config(config, model_dir))


def run_predict(model_dir: Path, inputs: list[Path], out: Path) -> int:
    det = load_model_dir(model_dir)
    edfs, problems = find_edfs(inputs)
    for line in problems:
        stderr(line)
    if not edfs:
        raise InputError("predict: no EDF file to process; pass EDF files or folders holding them")
    device = resolve_device("auto")
    out.mkdir(parents=True, exist_ok=True)
    failed = len(problems)
    seen: dict[str, Path] = {}
    for edf in edfs:
        if edf.stem in seen:
            stderr(
                f"{edf}: same stem as {seen[edf.stem]}; its outputs would "
                "overwrite each other; skipped (rename one of them)"
            )
            failed += 1
            continue
        seen[edf.stem] = edf
        try:
            n = _predict_one(det, edf, out, device)
        except BrainBrrError as exc:
            stderr(" ".join(exc.lines))
            failed += 1
            continue
        except Exception as exc:  # one unreadable file must not stop the others
            stderr(f"{edf}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'failed'}; skipped")
            failed += 1
            continue
        print(f"{edf}: {n} seizure event(s) -> {out / edf.stem}.csv_bi, .tsv", flush=True)
    print(f"predict: {len(edfs) - failed + len(problems)} of {len(edfs)} EDF file(s) written to {out}", flush=True)
    return 2 if failed else 0


@dataclass
class EdfPrediction:
    """A detector's output for one EDF: events with their confidence, the trace, and the header facts."""

    events: list[tuple[float, float]]
    confidences: list[float]
    probs: np.ndarray  # per label step; empty when the recording was too short to run
    info: EdfInfo
    warnings: list[str] = field(default_factory=list)


def event_confidence(probs: np.ndarray, event: tuple[float, float], label_rate: int) -> float:
    """Mean probability over the label steps of an event."""
    a, b = int(round(event[0] * label_rate)), int(round(event[1] * label_rate))
    part = probs[a : max(b, a + 1)]
    return float(part.mean()) if len(part) else 0.0


def predict_edf(
    model, edf: Path, data_cfg: DataConfig, label_rate: int, thresholds: dict, device: str
) -> EdfPrediction:
    """Run the detector on one EDF; a recording shorter than the filters need is background, with a warning."""
    from brain_brr.data.edf import MIN_SECONDS, edf_info, read_eeg

    info = edf_info(edf)
    if info.duration_s < MIN_SECONDS:
        note = f"recording is {info.duration_s:g} s long, under the {MIN_SECONDS:g} s the filters need: background"
        return EdfPrediction([], [], np.zeros(0, dtype=np.float32), info, [note])
    rec = read_eeg(edf, data_cfg)
    probs = infer_recording(
        model, rec.signal, fs=rec.fs, label_rate=label_rate, window_s=data_cfg.window_s, device=device
    )
    events = events_for(probs, label_rate, thresholds)
    confidences = [event_confidence(probs, e, label_rate) for e in events]
    return EdfPrediction(events, confidences, probs, info, list(rec.warnings))


def write_prediction(out: Path, stem: str, pred: EdfPrediction, label_rate: int) -> None:
    """``<stem>.csv_bi``, ``<stem>.tsv`` and ``<stem>.probs.parquet`` in ``out``."""
    write_csv_bi(out / f"{stem}.csv_bi", pred.events, pred.info.duration_s)
    write_events_tsv(
        out / f"{stem}.tsv", pred.events, pred.info.duration_s, pred.info.start, confidences=pred.confidences
    )
    steps = np.arange(len(pred.probs), dtype=np.float64) / label_rate
    table = pa.table({"time_s": steps, "prob": pred.probs.astype(np.float32)})
    write_table_atomic(table, out / f"{stem}.probs.parquet")


def _predict_one(det: Detector, edf: Path, out: Path, device: str) -> int:
    pred = predict_edf(det.model, edf, det.data, det.label_rate, det.thresholds, device)
    for warning in pred.warnings:
        print(f"{edf}: {warning}", flush=True)
    write_prediction(out, edf.stem, pred, det.label_rate)
    return len(pred.events)
