"""Small real corpora for the data tests: EDF files written with edfwrite, real annotation files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from brain_brr.config import Params, parse_params
from brain_brr.data.annotations import write_csv_bi
from brain_brr.data.channels import CHANNELS
from brain_brr.data.edf import NEIGHBOURS
from brain_brr.synth.edfwrite import write_edf

EEG_LABELS = [f"EEG {c}-REF" for c in CHANNELS]


def eeg(seconds: float, fs: float, seed: int = 0, n: int = 19) -> list[np.ndarray]:
    """Independent noise channels with a 10 Hz rhythm, in microvolts."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * fs))) / fs
    return [20 * rng.standard_normal(t.size) + 10 * np.sin(2 * np.pi * 10 * t + k) for k in range(n)]


def write_rec(
    root: Path,
    split: str = "train",
    patient: str = "aaaaaaaa",
    token: str = "t000",
    *,
    seconds: float = 120.0,
    fs: float = 256.0,
    seizures: list[tuple[float, float]] | None = None,
    annotation: str | None = "csv_bi",
    labels: list[str] | None = None,
    signals: list[np.ndarray] | None = None,
    extras: bool = True,
    seed: int = 0,
) -> Path:
    """Write ``ROOT/edf/<split>/<patient>/s001_2020/01_tcp_ar/<patient>_s001_<token>.edf`` and its annotation."""
    edf = root / "edf" / split / patient / "s001_2020" / "01_tcp_ar" / f"{patient}_s001_{token}.edf"
    labels = list(labels or EEG_LABELS)
    sigs = list(signals) if signals is not None else eeg(seconds, fs, seed, len(labels))
    rates = [fs] * len(sigs)
    if extras:  # what real TUSZ files carry beside the EEG
        rng = np.random.default_rng(seed + 1)
        labels += ["EEG EKG1-REF", "EMG-REF", "IBI", "BURSTS"]
        sigs += [
            100 * rng.standard_normal(int(seconds * fs)),
            5 * rng.standard_normal(int(seconds * fs)),
            np.zeros(int(seconds)),
            np.zeros(int(seconds)),
        ]
        rates += [fs, fs, 1.0, 1.0]
    write_edf(edf, sigs, labels, rates)
    if annotation == "csv_bi":
        write_csv_bi(edf.with_suffix(".csv_bi"), seizures or [], seconds)
    elif annotation == "csv":
        lines = [
            "# version = csv_v1.0.0",
            f"# duration = {seconds:.4f} secs",
            "channel,start_time,stop_time,label,confidence",
        ]
        for ch in ("FP1-F7", "F7-T3"):
            lines += [f"{ch},{s:.4f},{e:.4f},fnsz,1.0000" for s, e in seizures or []]
        edf.with_suffix(".csv").write_text("\n".join(lines) + "\n")
    return edf


def make_params(tmp_path: Path, strict: bool = True, max_skipped: float = 0.1, **data: Any) -> Params:
    data_cfg = {"root": str(tmp_path / "corpus"), "processed": str(tmp_path / "processed"), "workers": 1, **data}
    return parse_params({"data": data_cfg, "guards": {"strict": strict, "max_skipped_fraction": max_skipped}})


def small_corpus(root: Path) -> list[Path]:
    """Three patients, one per split, each with a seizure; plus a seizure-free train recording."""
    return [
        write_rec(root, "train", "aaaaaaaa", "t000", seizures=[(30.0, 55.0)], seed=1),
        write_rec(root, "train", "aaaaaaaa", "t001", seconds=95.0, seed=2),
        write_rec(root, "dev", "bbbbbbbb", "t000", seizures=[(70.0, 80.0)], seed=3),
        write_rec(
            root,
            "eval",
            "cccccccc",
            "t000",
            seizures=[(10.0, 20.0), (100.0, 130.0)],
            seconds=150.0,
            annotation="csv",
            seed=4,
        ),
    ]


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    small_corpus(root)
    return root


# One recording under every reference (tests/data/test_derivation.py, tests/eval/test_predict_derivation.py).
FS = 256
# TUSZ's TCP montage (A1/A2 link the temporal chains to the central one) plus the midline pairs.
TCP_MIDLINE = [
    ("FP1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"), ("FP2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("A1", "T3"), ("T3", "C3"), ("C3", "CZ"), ("CZ", "C4"), ("C4", "T4"), ("T4", "A2"),
    ("FP1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"), ("FP2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
    ("FZ", "CZ"), ("CZ", "PZ"),
]  # fmt: skip
# CHB-MIT's native 23 channels, as its EDFs name them: the midline pairs link to nothing else.
CHBMIT = [
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
    "FP2-F8", "F8-T8", "T8-P8-0", "P8-O2", "FZ-CZ", "CZ-PZ", "P7-T7", "T7-FT9", "FT9-FT10", "FT10-T8", "T8-P8-1",
]  # fmt: skip
_MODERN = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}


def potentials(seconds: float = 60.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Electrode potentials in microvolts: the 19 10-20 electrodes, the ears and the recording reference.

    Neighbouring electrodes share a slow field, so the signals look like EEG rather than independent noise.
    """
    names = [*CHANNELS, "A1", "A2", "FT9", "FT10", "REF"]
    v = dict(zip(names, eeg(seconds, FS, seed=seed, n=len(names))))
    rng = np.random.default_rng(seed + 100)
    field = {ch: np.cumsum(rng.standard_normal(v["FP1"].size)) * 0.5 for ch in CHANNELS}
    for ch in CHANNELS:
        v[ch] = v[ch] + field[ch] + sum(field[n] for n in NEIGHBOURS[ch]) / 2
    return v


def write_form(path, v: dict[str, np.ndarray], form: str) -> None:
    """Write the potentials ``v`` as one stored form of the recording."""
    if form == "ref":
        labels, sigs = [f"EEG {c}-REF" for c in CHANNELS], [v[c] - v["REF"] for c in CHANNELS]
    elif form == "le":
        ears = (v["A1"] + v["A2"]) / 2
        labels, sigs = [f"EEG {c}-LE" for c in CHANNELS], [v[c] - ears for c in CHANNELS]
    elif form == "avg":  # as SzCORE's BIDS datasets: 10-10 names, mixed case, the average of the 19 subtracted
        mean = np.mean([v[c] for c in CHANNELS], axis=0)
        labels = [f"{_MODERN.get(c, c).capitalize()}-Avg" for c in CHANNELS]
        sigs = [v[c] - mean for c in CHANNELS]
    elif form == "tcp":
        labels, sigs = [f"EEG {a}-{b}" for a, b in TCP_MIDLINE], [v[a] - v[b] for a, b in TCP_MIDLINE]
    else:  # chbmit
        back = {m: t for t, m in _MODERN.items()}
        pairs = [tuple(back.get(e, e) for e in lab.split("-")[:2]) for lab in CHBMIT]
        labels, sigs = CHBMIT, [v[a] - v[b] for a, b in pairs]
    write_edf(path, sigs, labels, [FS] * len(sigs))
