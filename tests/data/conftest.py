"""Small real corpora for the data tests: EDF files written with edfwrite, real annotation files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from brain_brr.config import Params, parse_params
from brain_brr.data.annotations import write_csv_bi
from brain_brr.data.channels import CHANNELS
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
