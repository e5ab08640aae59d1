"""Store writer for tests and benchmarks: a processed dataset in the documented format.

Kept free of pytest and pydantic so that ``benchmarks/gpu_check.py`` can use it on a
machine that has only torch, numpy and pyarrow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from brain_brr.data.channels import N_CHANNELS
from brain_brr.data.store import write_recording, write_table_atomic

FS, WINDOW_S, STRIDE_S, LABEL_RATE = 64, 20, 5, 1


def make_processed(
    root: Path,
    *,
    recordings: dict[str, int] | None = None,
    minutes: float = 4.0,
    seizures_per_rec: int = 1,
    seizure_s: float = 30.0,
    seed: int = 0,
    fs: int = FS,
    window_s: int = WINDOW_S,
    stride_s: int = STRIDE_S,
    label_rate: int = LABEL_RATE,
) -> Path:
    """Write ``root/data/processed`` and ``root/metrics/stats.json``; returns the processed dir.

    Background is white noise; during seizures a 4 Hz rhythm of amplitude 1.5 is added on all
    channels, so a detector can learn it. ``seizures_per_rec=0`` gives no seizure at all.
    """
    recordings = recordings or {"train": 6, "dev": 2, "eval": 2}
    rng = np.random.default_rng(seed)
    processed = root / "data" / "processed"
    rec_rows, win_rows = [], []
    stats = {}
    for split, n_rec in recordings.items():
        split_dur = split_sz = 0.0
        n_win = n_pos = 0
        for k in range(n_rec):
            patient = f"{split}{k:03d}"
            rec_id = f"{patient}_s001_t000"
            n = int(minutes * 60 * fs)
            duration = n / fs
            sig = rng.normal(0.0, 1.0, (N_CHANNELS, n)).astype(np.float32)
            labels = np.zeros(int(duration * label_rate), dtype=np.uint8)
            events = []
            for j in range(seizures_per_rec):
                # Seizures spread over the recording, at a random offset within their slot.
                slot = duration / seizures_per_rec
                start = float(np.floor(j * slot + rng.uniform(0, slot - seizure_s)))
                events.append([start, start + seizure_s])
                a, b = int(start * fs), int((start + seizure_s) * fs)
                t = np.arange(b - a) / fs
                sig[:, a:b] += 1.5 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 2 * np.pi, (N_CHANNELS, 1)))
                labels[int(start * label_rate) : int((start + seizure_s) * label_rate)] = 1
            seg_file = f"segments/{split}/{rec_id}.parquet"
            n_seg = write_recording(processed / seg_file, sig, labels, fs=fs, label_rate=label_rate, stride_s=stride_s)
            sz = float(labels.sum() / label_rate)
            rec_rows.append(
                {
                    "rec_id": rec_id,
                    "split": split,
                    "patient": patient,
                    "session": "s001",
                    "montage": "01_tcp_ar",
                    "path": f"edf/{split}/{patient}/{rec_id}.edf",
                    "segment_file": seg_file,
                    "duration_s": duration,
                    "n_samples": n,
                    "n_segments": n_seg,
                    "seizure_s": sz,
                    "n_seizures": len(events),
                    "events": json.dumps(events),
                    "orig_fs": float(fs),
                }
            )
            steps = window_s * label_rate
            for seg0 in range(int((duration - window_s) // stride_s) + 1):
                s0 = seg0 * stride_s * label_rate
                frac = float(labels[s0 : s0 + steps].mean())
                win_rows.append(
                    {
                        "rec_id": rec_id,
                        "split": split,
                        "patient": patient,
                        "seg0": seg0,
                        "start_s": float(seg0 * stride_s),
                        "seizure_frac": frac,
                        "is_pos": frac > 0,
                    }
                )
                n_win += 1
                n_pos += frac > 0
            split_dur += duration
            split_sz += sz
        ratio = split_sz / split_dur
        stats[split] = {
            "hours": split_dur / 3600,
            "n_recordings": n_rec,
            "n_windows": n_win,
            "n_pos_windows": n_pos,
            "seizure_ratio": ratio,
            "pos_weight": (1 - ratio) / ratio if ratio > 0 else None,
        }
    rec_schema = pa.schema(
        [
            ("rec_id", pa.string()),
            ("split", pa.string()),
            ("patient", pa.string()),
            ("session", pa.string()),
            ("montage", pa.string()),
            ("path", pa.string()),
            ("segment_file", pa.string()),
            ("duration_s", pa.float64()),
            ("n_samples", pa.int64()),
            ("n_segments", pa.int32()),
            ("seizure_s", pa.float64()),
            ("n_seizures", pa.int32()),
            ("events", pa.string()),
            ("orig_fs", pa.float64()),
        ]
    )
    win_schema = pa.schema(
        [
            ("rec_id", pa.string()),
            ("split", pa.string()),
            ("patient", pa.string()),
            ("seg0", pa.int32()),
            ("start_s", pa.float64()),
            ("seizure_frac", pa.float32()),
            ("is_pos", pa.bool_()),
        ]
    )
    write_table_atomic(pa.Table.from_pylist(rec_rows, schema=rec_schema), processed / "recordings.parquet")
    write_table_atomic(pa.Table.from_pylist(win_rows, schema=win_schema), processed / "windows.parquet")
    stats["red_flags"] = []
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "metrics" / "stats.json").write_text(json.dumps(stats, indent=2))
    return processed
