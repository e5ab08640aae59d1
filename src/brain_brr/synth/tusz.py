"""The corpus in the TUSZ v2 layout: real EDF, ``.csv_bi`` and per-channel ``.csv`` per recording.

``edf/{train,dev,eval}/<patient>/sNNN_<year>/<montage>/<patient>_sNNN_tNNN.edf`` with TUSZ's
headers: channel labels ``EEG FP1-REF`` / ``EEG FP1-LE`` in TUSZ order, extra channels (EKG,
T1/T2, ROC/LOC, PHOTIC, EMG, numbered leads), 1 Hz ``IBI``/``BURSTS``/``SUPPR`` status
channels in most files, a few files without FZ or PZ.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from brain_brr.atomic import atomic_path
from brain_brr.data.annotations import write_csv_bi
from brain_brr.synth.edfwrite import write_edf
from brain_brr.synth.plan import Recording
from brain_brr.synth.render import Rendered, render
from brain_brr.synth.scalp import ELECTRODES, INDEX, tcp_channels

# TUSZ file order of the referential EEG channels, then the extras real files carry.
FILE_ORDER = (
    "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7",
    "F8", "T3", "T4", "T5", "T6", "A1", "A2", "FZ", "CZ", "PZ",
)  # fmt: skip


def edf_channels(rec: Recording, r: Rendered) -> tuple[list[np.ndarray], list[str], list[float]]:
    """Signals, labels and rates of the EDF, in TUSZ order."""
    sfx = "LE" if rec.montage == "02_tcp_le" else "REF"
    x, fs = r.eeg, rec.fs
    sigs, labels = [], []
    for e in FILE_ORDER:
        if e == rec.missing or (e in ("A1", "A2") and rec.montage == "03_tcp_ar_a"):
            continue
        sigs.append(x[INDEX[e]])
        labels.append(f"EEG {e}-{sfx}")
    rng = np.random.default_rng([rec.seed, rec.index, 1])
    for lab in rec.extras:
        if "ROC" in lab or "LOC" in lab:
            sigs.append((0.8 if "ROC" in lab else -0.8) * r.eog + 0.3 * x[INDEX["FP2" if "ROC" in lab else "FP1"]])
        elif "EKG" in lab:
            sigs.append(r.ecg)
        elif lab.startswith("EMG"):
            sigs.append(5.0 * rng.standard_normal(x.shape[1], dtype=np.float32))
        elif any(s in lab for s in ("T1", "SP1")):
            sigs.append(0.5 * (x[INDEX["F7"]] + x[INDEX["T3"]]))
        elif any(s in lab for s in ("T2", "SP2")):
            sigs.append(0.5 * (x[INDEX["F8"]] + x[INDEX["T4"]]))
        elif lab.startswith("PHOTIC"):
            sigs.append(np.zeros(x.shape[1], dtype=np.float32))
        else:  # numbered leads: an unused input picking up a neighbour
            sigs.append(0.4 * x[int(rng.integers(0, len(ELECTRODES)))])
        labels.append(lab)
    rates = [float(fs)] * len(sigs)
    if rec.status_channels:
        for lab in ("IBI", "BURSTS", "SUPPR"):
            sigs.append(np.zeros(rec.duration, dtype=np.float32))
            labels.append(lab)
            rates.append(1.0)
    return sigs, labels, rates


def write_channel_csv(path: Path, rec: Recording) -> None:
    """Per-channel ``.csv``: each TCP channel tiled with ``bckg`` and its seizure rows."""
    rows = []
    per_channel: dict[str, list[tuple[float, float, str]]] = {f"{a}-{b}": [] for a, b in tcp_channels(rec.montage)}
    for sz in rec.seizures:
        for ch, start in sz.channel_onsets(rec.montage).items():
            per_channel[ch].append((start, sz.stop, sz.label))
    for ch, events in per_channel.items():
        t = 0.0
        for s, e, lab in sorted(events):
            if s > t:
                rows.append(f"{ch},{t:.4f},{s:.4f},bckg,1.0000")
            rows.append(f"{ch},{s:.4f},{e:.4f},{lab},1.0000")
            t = e
        if rec.duration > t:
            rows.append(f"{ch},{t:.4f},{rec.duration:.4f},bckg,1.0000")
    lines = [
        "# version = csv_v1.0.0",
        f"# bname = {rec.stem}",
        f"# duration = {rec.duration:.4f} secs",
        f"# montage_file = $NEDC_NFC/lib/{rec.montage}_montage.txt",
        "#",
        "channel,start_time,stop_time,label,confidence",
        *rows,
    ]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def write_recording(root: Path, rec: Recording) -> None:
    """The EDF of one recording at ``root / rec.rel_path``, with its ``.csv_bi`` and ``.csv``."""
    path = root / rec.rel_path
    sigs, labels, rates = edf_channels(rec, render(rec))
    write_edf(path, sigs, labels, rates, start=rec.start, patient_code=rec.patient)
    write_csv_bi(
        path.with_suffix(".csv_bi"),
        [(s.onset, s.stop) for s in rec.seizures],
        rec.duration,
        with_bckg=rec.with_bckg,
        montage_file=f"$NEDC_NFC/lib/{rec.montage}_montage.txt",
    )
    write_channel_csv(path.with_suffix(".csv"), rec)


def clear(root: Path) -> None:
    """Remove a TUSZ-layout corpus written earlier (the ``edf`` tree)."""
    shutil.rmtree(root / "edf", ignore_errors=True)
