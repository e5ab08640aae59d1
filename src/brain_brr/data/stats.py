"""Class statistics per split, and the one reader of ``metrics/stats.json``.

Per split: ``hours``, ``n_recordings``, ``n_windows``, ``n_pos_windows``,
``seizure_ratio`` (seizure time / total time, from the recordings table, so each
second counts once however many windows hold it) and ``pos_weight`` (background
time / seizure time; ``None`` when the split has no seizure).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from brain_brr.data.splits import SPLITS
from brain_brr.errors import InputError


def split_stats(recordings: list[dict[str, Any]], windows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-split statistics from rows of the recordings and windows tables."""
    out = {}
    for split in SPLITS:
        recs = [r for r in recordings if r["split"] == split]
        wins = [w for w in windows if w["split"] == split]
        total = sum(r["duration_s"] for r in recs)
        seizure = sum(r["seizure_s"] for r in recs)
        out[split] = {
            "hours": total / 3600,
            "n_recordings": len(recs),
            "n_windows": len(wins),
            "n_pos_windows": sum(bool(w["is_pos"]) for w in wins),
            "seizure_ratio": seizure / total if total > 0 else 0.0,
            "pos_weight": (total - seizure) / seizure if seizure > 0 else None,
        }
    return out


def read_rows(path: Path, columns: list[str]) -> list[dict[str, Any]]:
    """Rows of one of ingest's tables; a missing or unreadable table names the command that rebuilds it."""
    if not path.is_file():
        raise InputError(f"{path} not found; run the ingest stage first (`dvc repro ingest`)")
    try:
        return pq.read_table(path, columns=columns).to_pylist()
    except Exception as exc:
        raise InputError(
            f"{path}: cannot read the table ({type(exc).__name__}: {exc}); rerun `dvc repro ingest`"
        ) from None


def table_stats(processed: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(per-split statistics, recording rows) of ``data.processed``."""
    recordings = read_rows(processed / "recordings.parquet", ["rec_id", "split", "patient", "duration_s", "seizure_s"])
    windows = read_rows(processed / "windows.parquet", ["split", "is_pos"])
    return split_stats(recordings, windows), recordings


def load_stats(path: Path) -> dict[str, Any]:
    """``metrics/stats.json`` as the stats stage wrote it."""
    if not path.is_file():
        raise InputError(f"{path}: missing; run the stats stage first (`dvc repro stats`)")
    try:
        stats = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc}); rerun `dvc repro stats`") from None
    if not isinstance(stats, dict) or not isinstance(stats.get("train"), dict):
        raise InputError(f"{path}: lacks the 'train' section; rerun `dvc repro stats`")
    return stats


def train_pos_weight(stats: dict[str, Any], path: Path) -> float:
    """The train split's background/seizure time ratio (``pos_weight: auto``)."""
    value = stats["train"].get("pos_weight")
    if value is None or not float(value) > 0:
        raise InputError(
            f"{path}: train.pos_weight is {value!r}; rerun `dvc repro stats`, or set pos_weight to a number or none"
        )
    return float(value)
