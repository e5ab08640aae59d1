"""Stats stage: class statistics per split -> ``metrics/stats.json``.

Per split: ``hours``, ``n_recordings``, ``n_windows``, ``n_pos_windows``,
``seizure_ratio`` (seizure time / total time, from the recordings table, so each
second counts once however many windows hold it) and ``pos_weight``
(background time / seizure time; ``null`` when the split has no seizure).

Red flags raised here, on the tables as they are on disk (the ingest stage
raises them too, on the corpus it read):

- ``no_train_seizures``: the train split holds no seizure time.
- ``patient_leakage``: a patient appears in more than one split.
"""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq

from brain_brr.config import Params
from brain_brr.data.splits import SPLITS, leakage_reason, leaking_patients
from brain_brr.errors import InputError, RedFlagStop
from brain_brr.tracking.run import StageRun, repo_root, write_json_atomic

STATS = "metrics/stats.json"


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


def _read(path, columns: list[str]) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InputError(f"{path} not found; run `brain-brr ingest` (or `dvc repro ingest`) first")
    try:
        return pq.read_table(path, columns=columns).to_pylist()
    except Exception as exc:
        raise InputError(f"{path}: cannot read the table ({type(exc).__name__}: {exc}); rerun `brain-brr ingest`") from None


def run_stats(params: Params) -> int:
    root = repo_root()
    processed = params.resolve(params.data.processed, root)
    recordings = _read(processed / "recordings.parquet", ["rec_id", "split", "patient", "duration_s", "seizure_s"])
    windows = _read(processed / "windows.parquet", ["split", "is_pos"])
    with StageRun("stats", params) as run:
        stats: dict[str, Any] = split_stats(recordings, windows)
        leaks = leaking_patients([(r["patient"], r["split"]) for r in recordings])
        flags = []
        if stats["train"]["seizure_ratio"] <= 0:
            flags.append(("no_train_seizures", f"the train split ({stats['train']['n_recordings']} recordings, {stats['train']['hours']:.2f} h) holds no seizure time"))
        if leaks:
            flags.append(("patient_leakage", leakage_reason(leaks)))
        stats["red_flags"] = [name for name, _ in flags]
        write_json_atomic(root / STATS, stats)
        run.metrics({s: stats[s] for s in SPLITS})
        run.check("train_has_seizures", stats["train"]["seizure_ratio"] > 0)
        run.check("patient_disjoint", not leaks)
        run.artifact(root / STATS)
        for split in SPLITS:
            s = stats[split]
            pw = "n/a" if s["pos_weight"] is None else f"{s['pos_weight']:.2f}"
            print(f"[STATS] {split}: {s['hours']:.2f} h, {s['n_recordings']} recordings, {s['n_pos_windows']}/{s['n_windows']} positive windows, seizure ratio {s['seizure_ratio']:.2%}, pos_weight {pw}", flush=True)
        for name, reason in flags:
            run.flag(name, reason, stop=False)
        if run.red_flags and run.strict:
            raise RedFlagStop([f"stats stopped by red flag(s): {', '.join(run.red_flags)}"])
    return 0
