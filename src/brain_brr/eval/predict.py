"""``brain-brr predict``: a trained detector on EDF files -> ``<stem>.csv_bi``, ``.tsv`` and ``.probs.parquet``.

Each EDF is read exactly as the ingest stage reads it (``data.edf.read_eeg`` with
the model's own data settings: any sampling rate, TUSZ or BIDS channel names), run
whole-recording, and post-processed with the thresholds in the model's
``config.json``. ``<stem>.tsv`` is the SzCORE annotation (``dateTime`` from the EDF
header, ``recordingDuration`` the EDF's duration, ``confidence`` the mean probability
over the event). A recording too short to filter (under 4 s) gets a background-only
annotation and a warning. A file that cannot be read gets one line on stderr; the
others are still written, and the command exits 2 at the end.

Layouts (``--layout``): ``flat`` writes every file into ``--out``; ``bids`` mirrors each
input BIDS dataset, one ``<stem>_events.tsv`` per recording at the reference's relative
path (``sub-*/[ses-*/]eeg/``, the ``.csv_bi`` and ``.probs.parquet`` beside it), the
tree ``python -m szcore_evaluation REF HYP out.json`` reads; ``auto`` (default) is
``bids`` when every input is a BIDS dataset folder, else ``flat``.
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
from brain_brr.data.layout import BIDS_LAYOUT, BIDS_SKIP, bids_entities, detect_format
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


PREDICT_LAYOUTS = ("auto", "flat", "bids")


@dataclass(frozen=True)
class Place:
    """Where one EDF's outputs go: ``folder/<stem>.csv_bi``, ``.probs.parquet`` and ``folder/<tsv>``."""

    edf: Path
    folder: Path
    tsv: str


def _is_bids_dataset(path: Path) -> bool:
    try:
        return path.is_dir() and detect_format(path) == "bids"
    except InputError:
        return False


def resolve_layout(layout: str, inputs: list[Path]) -> str:
    """``flat`` or ``bids``; ``auto`` is ``bids`` when every input is a BIDS dataset folder."""
    if layout not in PREDICT_LAYOUTS:
        raise InputError(f"--layout {layout!r}: one of {', '.join(PREDICT_LAYOUTS)}")
    if layout != "auto":
        return layout
    return "bids" if inputs and all(_is_bids_dataset(p) for p in inputs) else "flat"


def bids_places(inputs: list[Path], out: Path) -> tuple[list[Place], list[str]]:
    """Each recording of the BIDS datasets ``inputs``, its hypothesis at the dataset's relative path under ``out``."""
    places, problems = [], []
    for root in inputs:
        if not root.is_dir():
            problems.append(f"{root}: --layout bids takes BIDS dataset folders; pass the dataset root or --layout flat")
            continue
        edfs, missing = find_edfs([root])
        problems += missing
        for edf in edfs:
            rel = edf.relative_to(root)
            if rel.parts[0] in BIDS_SKIP:
                continue
            if bids_entities(rel) is None:
                problems.append(f"{edf}: not in the BIDS layout {BIDS_LAYOUT}; skipped (or use --layout flat)")
                continue
            places.append(Place(edf, out / rel.parent, rel.name[: -len("_eeg.edf")] + "_events.tsv"))
    return places, problems


def output_places(inputs: list[Path], out: Path, layout: str) -> tuple[list[Place], list[str]]:
    if resolve_layout(layout, inputs) == "bids":
        return bids_places(inputs, out)
    edfs, problems = find_edfs(inputs)
    return [Place(e, out, f"{e.stem}.tsv") for e in edfs], problems


def run_predict(model_dir: Path, inputs: list[Path], out: Path, layout: str = "auto") -> int:
    det = load_model_dir(model_dir)
    places, problems = output_places(inputs, out, layout)
    for line in problems:
        stderr(line)
    if not places:
        raise InputError("predict: no EDF file to process; pass EDF files or folders holding them")
    device = resolve_device("auto")
    failed = len(problems)
    seen: dict[Path, Path] = {}
    for place in places:
        edf, key = place.edf, place.folder / place.edf.stem
        if key in seen:
            stderr(f"{edf}: same stem as {seen[key]}; its outputs would overwrite each other; skipped (rename one)")
            failed += 1
            continue
        seen[key] = edf
        try:
            n = _predict_one(det, place, device)
        except BrainBrrError as exc:
            stderr(" ".join(exc.lines))
            failed += 1
            continue
        except Exception as exc:  # one unreadable file must not stop the others
            stderr(f"{edf}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'failed'}; skipped")
            failed += 1
            continue
        print(f"{edf}: {n} seizure event(s) -> {key}.csv_bi, {place.folder / place.tsv}", flush=True)
    print(f"predict: {len(places) - failed + len(problems)} of {len(places)} EDF file(s) written to {out}", flush=True)
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


def write_prediction(out: Path, stem: str, pred: EdfPrediction, label_rate: int, tsv: str | None = None) -> None:
    """``<stem>.csv_bi``, the SzCORE annotation (``tsv``, default ``<stem>.tsv``) and ``<stem>.probs.parquet``
    in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv_bi(out / f"{stem}.csv_bi", pred.events, pred.info.duration_s)
    write_events_tsv(
        out / (tsv or f"{stem}.tsv"), pred.events, pred.info.duration_s, pred.info.start, confidences=pred.confidences
    )
    steps = np.arange(len(pred.probs), dtype=np.float64) / label_rate
    table = pa.table({"time_s": steps, "prob": pred.probs.astype(np.float32)})
    write_table_atomic(table, out / f"{stem}.probs.parquet")


def _predict_one(det: Detector, place: Place, device: str) -> int:
    pred = predict_edf(det.model, place.edf, det.data, det.label_rate, det.thresholds, device)
    for warning in pred.warnings:
        print(f"{place.edf}: {warning}", flush=True)
    write_prediction(place.folder, place.edf.stem, pred, det.label_rate, place.tsv)
    return len(pred.events)
