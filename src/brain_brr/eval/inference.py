"""Whole-recording inference: overlapping windows, probabilities averaged where they overlap.

Windows of ``window_s`` start every ``hop_s`` (default ``window_s / 2``); the last
window is aligned to the end of the recording so every step is seen by at least
one window, and a recording shorter than one window is zero-padded (the padded
steps are cut from the output). Sigmoid first, then the average: the trace is
a mean of probabilities, one value per label step.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from brain_brr.data.channels import N_CHANNELS
from brain_brr.data.store import read_recording
from brain_brr.data.windows import n_label_steps
from brain_brr.errors import InputError


def sliding_starts(n_steps: int, win_steps: int, hop_steps: int) -> list[int]:
    """Window starts in label steps: every ``hop_steps``, plus one aligned to the end."""
    if n_steps <= win_steps:
        return [0]
    starts = list(range(0, n_steps - win_steps + 1, hop_steps))
    if starts[-1] != n_steps - win_steps:
        starts.append(n_steps - win_steps)
    return starts


@torch.no_grad()
def infer_recording(
    model: torch.nn.Module,
    signal: np.ndarray,
    *,
    fs: int,
    label_rate: int,
    window_s: float,
    hop_s: float | None = None,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Probability per label step, shape ``(ceil(n * label_rate / fs),)``, for ``signal`` ``(19, n)``."""
    if signal.ndim != 2 or signal.shape[0] != N_CHANNELS:
        raise ValueError(f"signal must be ({N_CHANNELS}, n_samples), got {signal.shape}")
    factor = fs // label_rate
    n_steps = n_label_steps(signal.shape[1], fs, label_rate)
    win_steps = int(round(window_s * label_rate))
    hop_steps = max(1, int(round((hop_s if hop_s is not None else window_s / 2) * label_rate)))
    padded_steps = max(n_steps, win_steps)
    x = np.zeros((N_CHANNELS, padded_steps * factor), dtype=np.float32)
    x[:, : signal.shape[1]] = signal
    starts = sliding_starts(n_steps, win_steps, hop_steps)
    device = torch.device(device)
    model = model.to(device)
    total = np.zeros(padded_steps, dtype=np.float64)
    count = np.zeros(padded_steps, dtype=np.float64)
    for i in range(0, len(starts), batch_size):
        chunk = starts[i : i + batch_size]
        batch = np.stack([x[:, s * factor : (s + win_steps) * factor] for s in chunk])  # (B, 19, win_steps*factor)
        xb = torch.from_numpy(batch).to(device)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(xb)  # (B, win_steps)
        probs = torch.sigmoid(logits.float()).cpu().numpy()
        for s, p in zip(chunk, probs):
            total[s : s + win_steps] += p
            count[s : s + win_steps] += 1
    return (total / np.maximum(count, 1))[:n_steps].astype(np.float32)


@dataclass
class RecordingPrediction:
    rec_id: str
    probs: np.ndarray  # (n_steps,) float32 at label_rate
    labels: np.ndarray  # (n_steps,) uint8 reference labels at label_rate
    duration_s: float
    ref_events: list[tuple[float, float]]
    segment_path: Path
    patient: str = ""  # the subject, for per-subject scores


def split_recordings(processed: Path, split: str) -> pd.DataFrame:
    """Rows of ``recordings.parquet`` for one split (sorted by ``rec_id``)."""
    table = processed / "recordings.parquet"
    if not table.is_file():
        raise InputError(f"{table}: missing; run the ingest stage first (`dvc repro ingest`)")
    df = pd.read_parquet(table)
    return df[df["split"] == split].sort_values("rec_id").reset_index(drop=True)


def predict_split(
    processed: Path, split: str, *, fs: int, label_rate: int, score: Callable[[np.ndarray], np.ndarray]
) -> list[RecordingPrediction]:
    """Apply ``score`` (signal ``(19, n)`` -> trace at ``label_rate``) to every recording of ``split``."""
    out = []
    for row in split_recordings(processed, split).itertuples(index=False):
        path = processed / row.segment_file
        signal, labels, meta = read_recording(path)
        if int(meta["fs"]) != fs or int(meta["label_rate"]) != label_rate:
            raise InputError(
                f"{path}: stored at fs={meta['fs']} Hz, "
                f"label_rate={meta['label_rate']}, but the model expects fs={fs}, "
                f"label_rate={label_rate}; re-run ingest with the model's data settings or retrain"
            )
        probs = score(signal)
        n = min(len(probs), len(labels))
        events = [(float(s), float(e)) for s, e in json.loads(row.events)]
        out.append(
            RecordingPrediction(
                row.rec_id, probs[:n], labels[:n].copy(), float(row.duration_s), events, path, str(row.patient)
            )
        )
    return out


def infer_split(
    model: torch.nn.Module,
    processed: Path,
    split: str,
    *,
    fs: int,
    label_rate: int,
    window_s: float,
    hop_s: float | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 32,
) -> list[RecordingPrediction]:
    """Run :func:`infer_recording` over every recording of ``split`` in ``data/processed``."""

    def score(signal: np.ndarray) -> np.ndarray:
        return infer_recording(
            model,
            signal,
            fs=fs,
            label_rate=label_rate,
            window_s=window_s,
            hop_s=hop_s,
            device=device,
            batch_size=batch_size,
        )

    return predict_split(processed, split, fs=fs, label_rate=label_rate, score=score)
