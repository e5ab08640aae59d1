"""``brain-brr predict``: a trained detector on EDF files -> ``<stem>.csv_bi`` and ``<stem>.probs.parquet``.

Each EDF is read exactly as the ingest stage reads it (``data.edf.read_eeg`` with
the model's own data settings: any sampling rate, TUSZ channel names), run
whole-recording, and post-processed with the thresholds in the model's
``config.json``. A file that cannot be read gets one line on stderr; the others
are still written, and the command exits 2 at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

from brain_brr.config import DataConfig
from brain_brr.data.annotations import write_csv_bi
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


def run_predict(model_dir: Path, inputs: list[Path], out: Path) -> int:
    from brain_brr.train.model import load_detector

    model, config = load_detector(model_dir)
    try:
        data_cfg = DataConfig(**config["data"])
    except ValueError as exc:
        raise InputError(
            f"{model_dir / 'config.json'}: its 'data' settings are invalid "
            f"({str(exc).splitlines()[0]}); retrain with `dvc repro train`"
        ) from None
    thresholds = thresholds_from_config(config, model_dir)
    label_rate = int(config["label_rate"])
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
            n = _predict_one(model, edf, data_cfg, label_rate, thresholds, out, device)
        except BrainBrrError as exc:
            stderr(" ".join(exc.lines))
            failed += 1
            continue
        except Exception as exc:  # one unreadable file must not stop the others
            stderr(f"{edf}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'failed'}; skipped")
            failed += 1
            continue
        print(f"{edf}: {n} seizure event(s) -> {out / (edf.stem + '.csv_bi')}", flush=True)
    print(f"predict: {len(edfs) - failed + len(problems)} of {len(edfs)} EDF file(s) written to {out}", flush=True)
    return 2 if failed else 0


def _predict_one(
    model, edf: Path, data_cfg: DataConfig, label_rate: int, thresholds: dict, out: Path, device: str
) -> int:
    from brain_brr.data.edf import read_eeg

    rec = read_eeg(edf, data_cfg)
    for warning in rec.warnings:
        print(f"{edf}: {warning}", flush=True)
    probs = infer_recording(
        model, rec.signal, fs=rec.fs, label_rate=label_rate, window_s=data_cfg.window_s, device=device
    )
    events = events_for(probs, label_rate, thresholds)
    write_csv_bi(out / f"{edf.stem}.csv_bi", events, rec.duration_s)
    table = pa.table({"time_s": np.arange(len(probs), dtype=np.float64) / label_rate, "prob": probs.astype(np.float32)})
    write_table_atomic(table, out / f"{edf.stem}.probs.parquet")
    return len(events)
