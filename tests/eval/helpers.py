"""A small processed store and a briefly trained detector for the evaluation tests.

Recordings are noise with seizures made of an 8 Hz rhythm plus larger amplitude,
written with ``store.write_recording`` and the documented ``recordings.parquet``.
The detector is trained for a few dozen full-batch steps on the train split: enough
to separate those seizures, seconds on one CPU core.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brain_brr.config import Params
from brain_brr.data.derivation import DERIVATION
from brain_brr.data.store import read_recording, write_recording

FS, LABEL_RATE, WINDOW_S, STRIDE_S = 64, 1, 20, 10

# split -> [(rec_id, duration_s, seizures)]
RECORDINGS = {
    "train": [
        ("tra_s001_t000", 240.0, [(60.0, 100.0), (170.0, 200.0)]),
        ("trb_s001_t000", 200.0, [(30.0, 70.0)]),
        ("trc_s001_t000", 160.0, []),
    ],
    "dev": [("dva_s001_t000", 240.0, [(80.0, 120.0)]), ("dvb_s001_t000", 180.0, [])],
    "eval": [
        ("eva_s001_t000", 240.0, [(50.0, 90.0), (160.0, 190.0)]),
        ("evb_s001_t000", 200.0, [(100.0, 145.0)]),
        ("evc_s001_t000", 185.5, []),
    ],
}


def tiny_raw(processed: Path, **overrides) -> dict:
    raw = {
        "data": {
            "processed": str(processed),
            "sampling_rate": FS,
            "window_s": WINDOW_S,
            "stride_s": STRIDE_S,
            "label_rate": LABEL_RATE,
            "bandpass_high": 30.0,
        },
        "model": {"width": 8, "depth": 2, "dropout": 0.0},
        "eval": {"min_duration_s": 5.0, "merge_gap_s": 5.0, "plot_recordings": 2, "tau_on": 0.5, "tau_off": 0.3},
        "guards": {"strict": True},
    }
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        if name:
            raw.setdefault(section, {})[name] = value
        else:
            raw[section] = value
    return raw


# The seizures' 8 Hz rhythm travels across the scalp: channel k lags by 2 pi k / 19, so the rhythm's mean over
# the 19 channels is zero and the common average the detector is fed (data/derivation.py) leaves it whole.
PHASES = 2 * np.pi * np.arange(19) / 19


def seizure_rhythm(t: np.ndarray, k: int, amplitude: float) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * 8.0 * t + PHASES[k])


def synth_signal(duration_s: float, seizures: list[tuple[float, float]], rng: np.random.Generator) -> np.ndarray:
    n = int(round(duration_s * FS))
    t = np.arange(n) / FS
    x = rng.normal(0.0, 1.0, (19, n)).astype(np.float32)
    for s, e in seizures:
        m = (t >= s) & (t < e)
        x[:, m] = 2.5 * x[:, m] + 3.0 * np.sin(2 * np.pi * 8.0 * t[m] + PHASES[:, None])
    return x


def labels_for(duration_s: float, seizures: list[tuple[float, float]]) -> np.ndarray:
    n_steps = int(np.ceil(duration_s * LABEL_RATE))
    lab = np.zeros(n_steps, dtype=np.uint8)
    for s, e in seizures:
        lab[int(round(s * LABEL_RATE)) : int(round(e * LABEL_RATE))] = 1
    return lab


def write_store(processed: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for split, recs in RECORDINGS.items():
        for rec_id, duration, seizures in recs:
            seg_file = f"segments/{split}/{rec_id}.parquet"
            sig = synth_signal(duration, seizures, rng)
            n_seg = write_recording(
                processed / seg_file,
                sig,
                labels_for(duration, seizures),
                fs=FS,
                label_rate=LABEL_RATE,
                stride_s=STRIDE_S,
            )
            patient, session, _ = rec_id.split("_")
            rows.append(
                {
                    "rec_id": rec_id, "split": split, "patient": patient, "session": session, "montage": "01_tcp_ar",
                    "path": f"edf/{split}/{patient}/{session}/01_tcp_ar/{rec_id}.edf", "segment_file": seg_file,
                    "duration_s": sig.shape[1] / FS, "n_samples": sig.shape[1], "n_segments": n_seg,
                    "seizure_s": float(sum(e - s for s, e in seizures)), "n_seizures": len(seizures),
                    "events": json.dumps([[s, e] for s, e in seizures]), "orig_fs": 256.0,
                }
            )  # fmt: skip
    pd.DataFrame(rows).to_parquet(processed / "recordings.parquet")


def train_briefly(params: Params, processed: Path, steps: int = 60) -> torch.nn.Module:
    from brain_brr.train.model import build_detector

    torch.manual_seed(0)
    xs, ys = [], []
    for rec_id, _, _ in RECORDINGS["train"]:
        sig, lab, _ = read_recording(processed / f"segments/train/{rec_id}.parquet")
        for k in range(0, len(lab) - WINDOW_S + 1, STRIDE_S):
            xs.append(sig[:, k * FS : (k + WINDOW_S) * FS].astype(np.float32))
            ys.append(lab[k : k + WINDOW_S].astype(np.float32))
    x, y = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))
    model = build_detector(params.model, FS, LABEL_RATE, WINDOW_S)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        opt.step()
    return model.eval()


def model_config(params: Params, thresholds: dict) -> dict:
    return {
        "model": params.model.model_dump(),
        "data": params.data.model_dump(),
        "label_rate": params.data.label_rate,
        "derivation": DERIVATION,
        "thresholds": thresholds,
        "train_params": params.model_dump(),
    }
