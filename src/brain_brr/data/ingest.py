"""Ingest: EDF corpus (TUSZ tree or BIDS dataset) -> segment files, recordings and windows tables.

Discovers the recordings and their splits (:mod:`brain_brr.data.layout`),
reads each recording (:func:`brain_brr.data.edf.read_eeg`), rasterises its
labels, and stores it once (:func:`brain_brr.data.store.write_recording`).
Recordings run in a pool of ``data.workers`` processes forked from a fork server that
imported the worker modules once; each worker takes one recording at a time, largest
first, and returns a small row, so memory does not grow with the corpus.
:class:`IngestJob` starts that pool in the background, so that the caller's own set-up
(the stage's MLflow run) overlaps it.

Restartable: every file is written to a temporary name and renamed. A segment
file carries the recording's fingerprint (sha256 of the EDF and annotation bytes, the
path relative to ``data.root``, preprocessing params, :data:`FORMAT_VERSION`) with its
table row and issues, so an unchanged recording is reused without reprocessing. The
fingerprint holds no file time and no absolute path: the same recordings give the same
bytes in ``data.processed`` on every machine and clone (the DVC hash MLflow shows as
``dvc.data_version``). The tables are removed
when a run starts and written when it ends, so a killed run leaves nothing the
next stage reads as valid, and the rerun redoes only unfinished recordings.

One bad recording never aborts the corpus: it is skipped and reported in
``reports/ingest_report.json`` with its reason and action, as is every recording
that was truncated, repaired or otherwise not taken as-is.

The ingest stage (``stages/ingest.py``) writes the report and raises the red flags
(:mod:`brain_brr.guards`) from the :class:`IngestOutcome`.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from brain_brr.config import DataConfig
from brain_brr.data import store
from brain_brr.data.annotations import AnnotationError, annotation_for, annotation_path
from brain_brr.data.channels import CHANNELS
from brain_brr.data.derivation import DERIVATION
from brain_brr.data.edf import read_eeg
from brain_brr.data.layout import TUSZ_LAYOUT, Found, stray_reason
from brain_brr.data.layout import discover as discover_layout
from brain_brr.data.splits import leaking_patients
from brain_brr.data.windows import labels_from_intervals, n_label_steps, window_table
from brain_brr.errors import InputError

FORMAT_VERSION = "1"
LAYOUT = TUSZ_LAYOUT

RECORDINGS_SCHEMA = pa.schema(
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
WINDOWS_SCHEMA = pa.schema(
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
# Preprocessing params that change a segment file's content.
_FINGERPRINT_KEYS = (
    "sampling_rate",
    "window_s",
    "stride_s",
    "label_rate",
    "bandpass_low",
    "bandpass_high",
    "notch_hz",
    "clip",
    "max_missing_channels",
)


class Task(Found):
    """One recording to ingest: what discovery found, and the names it gets in the store."""

    __slots__ = ()

    @property
    def rec_id(self) -> str:
        return self.edf.stem

    @property
    def segment_file(self) -> str:
        return f"segments/{self.split}/{self.rec_id}.parquet"


@dataclass
class Result:
    task: Task
    status: str  # "ingested" | "reused" | "skipped"
    row: dict[str, Any] | None = None
    windows: dict[str, np.ndarray] | None = None
    issues: list[tuple[str, str]] = field(default_factory=list)
    reason: str = ""
    all_zero: bool = False


def _identity(task: Task) -> dict[str, str]:
    return {
        "rec_id": task.rec_id,
        "split": task.split,
        "patient": task.patient,
        "session": task.session,
        "montage": task.montage,
        "path": task.rel,
        "segment_file": task.segment_file,
    }


def _annotation_file(edf: Path) -> Path | None:
    return annotation_path(edf)


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def fingerprint(task: Task, cfg: DataConfig) -> str:
    """What the segment file is a function of: content, not file times (hashing costs ~1 s per GB, once)."""
    ann = _annotation_file(task.edf)
    ann_id = [ann.name, _sha256(ann)] if ann else None
    key = {
        "format": FORMAT_VERSION,
        "derivation": DERIVATION,
        "edf": [task.rel, _sha256(task.edf)],
        "annotation": ann_id,
        "params": {k: getattr(cfg, k) for k in _FINGERPRINT_KEYS},
    }
    return hashlib.sha256(store.dumps(key).encode()).hexdigest()


def _split_warning(text: str) -> tuple[str, str]:
    """Annotation warnings end in '; <action>'."""
    reason, sep, action = text.rpartition("; ")
    return (reason, action) if sep else (text, "noted")


def _one_line(exc: Exception, root: Path) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text.replace(f"{root}{os.sep}", "")


def _reuse(task: Task, seg_path: Path, fp: str, cfg: DataConfig) -> Result | None:
    try:
        meta = store.read_metadata(seg_path)
        if meta.get("fingerprint") != fp:
            return None
        row, issues = json.loads(meta["row"]), [tuple(i) for i in json.loads(meta["issues"])]
        labels = np.frombuffer(
            b"".join(pq.read_table(seg_path, columns=["labels"]).column("labels").to_pylist()), dtype=np.uint8
        )
    except Exception:  # unreadable or foreign file: reprocess it
        return None
    # Identity comes from where the file lies, never from what the file says.
    row.update(_identity(task))
    labels = labels[: n_label_steps(row["n_samples"], cfg.sampling_rate, cfg.label_rate)]
    windows = window_table(
        labels, row["duration_s"], window_s=cfg.window_s, stride_s=cfg.stride_s, label_rate=cfg.label_rate
    )
    return Result(task, "reused", row, windows, issues)


def process(task: Task, cfg: DataConfig, processed: Path, root: Path) -> Result:
    """Ingest one recording (or reuse its up-to-date segment file); never raises for a bad recording."""
    seg_path = processed / task.segment_file
    try:
        fp = fingerprint(task, cfg)
        if seg_path.is_file():
            reused = _reuse(task, seg_path, fp, cfg)
            if reused is not None:
                return reused
        result = _ingest(task, cfg, seg_path, fp, root)
        if result.status == "skipped":
            seg_path.unlink(missing_ok=True)  # a stale segment must not outlive its skipped recording
        return result
    except Exception as exc:  # one recording never aborts the corpus: report what broke and go on
        return Result(task, "skipped", reason=f"cannot ingest: {type(exc).__name__}: {_one_line(exc, root)}")


def _ingest(task: Task, cfg: DataConfig, seg_path: Path, fp: str, root: Path) -> Result:
    try:
        ann = annotation_for(task.edf)
    except AnnotationError as exc:
        return Result(task, "skipped", reason=_one_line(exc, root))
    try:
        rec = read_eeg(task.edf, cfg)
    except InputError as exc:
        return Result(task, "skipped", reason=_one_line(exc, root))
    issues = list(rec.issues)
    if rec.duration_s < cfg.window_s:
        return Result(
            task,
            "skipped",
            issues=issues,
            reason=f"recording is {rec.duration_s:g} s long, shorter than one window (data.window_s={cfg.window_s})",
        )
    intervals = ann.seizure_intervals(rec.duration_s)
    issues += [_split_warning(w) for w in ann.warnings]
    n = rec.signal.shape[1]
    labels = labels_from_intervals(intervals, n_label_steps(n, cfg.sampling_rate, cfg.label_rate), cfg.label_rate)
    if any(ev.is_seizure for ev in ann.events) and not labels.any():
        reason = (
            f"{ann.path.name} has seizure events but the label mask is all zero "
            f"({len(intervals)} interval(s) inside the {rec.duration_s:g} s recording)"
        )
        return Result(task, "skipped", issues=issues, reason=reason, all_zero=True)
    seg_samples = cfg.stride_s * cfg.sampling_rate
    row = {
        "rec_id": task.rec_id,
        "split": task.split,
        "patient": task.patient,
        "session": task.session,
        "montage": task.montage,
        "path": task.rel,
        "segment_file": task.segment_file,
        "duration_s": rec.duration_s,
        "n_samples": n,
        "n_segments": -(-n // seg_samples),
        "seizure_s": float(sum(b - a for a, b in intervals)),
        "n_seizures": len(intervals),
        "events": json.dumps([[round(a, 6), round(b, 6)] for a, b in intervals]),
        "orig_fs": rec.orig_fs,
    }
    store.write_recording(
        seg_path,
        rec.signal.astype(np.float16),  # converting once here is cheaper than the store's padded copy
        labels,
        fs=cfg.sampling_rate,
        label_rate=cfg.label_rate,
        stride_s=cfg.stride_s,
        row_group_segments=cfg.window_s // cfg.stride_s,
        metadata={
            "fingerprint": fp,
            "row": json.dumps(row),
            "issues": json.dumps(issues),
            "channels": ",".join(CHANNELS),
        },
    )
    windows = window_table(
        labels, rec.duration_s, window_s=cfg.window_s, stride_s=cfg.stride_s, label_rate=cfg.label_rate
    )
    return Result(task, "ingested", row, windows, issues)


def _process_star(args: tuple[Task, DataConfig, Path, Path]) -> Result:
    return process(*args)


# What a worker imports: loaded once by the fork server, before it forks the workers.
WORKER_MODULES = ("brain_brr.data.ingest", "scipy.signal", "mne.io", "pyarrow.parquet")


def pool_context() -> mp.context.BaseContext:
    """``forkserver`` where the platform has it, else ``spawn``.

    A fork server is a fresh interpreter that imports :data:`WORKER_MODULES` once and forks
    every worker from itself, ready to work: spawn would import them again in each worker
    (seconds apiece), and a plain fork would copy the parent's MLflow/sqlite connection and threads.
    """
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(WORKER_MODULES))
    return ctx


def _largest_first(tasks: list[Task]) -> list[Task]:
    """Hand out the biggest EDFs first, so that no worker starts a long recording while the others finish."""
    return sorted(tasks, key=lambda t: t.edf.stat().st_size, reverse=True)


class IngestJob:
    """One ingest run whose set-up overlaps the caller's own (the stage opens its MLflow run meanwhile).

    Entering starts a thread that discovers the corpus and brings up the worker pool (the
    fork server's imports run in their own process). :meth:`result` waits for that, hands
    out the recordings, largest first, writes the tables, and re-raises what set-up raised.
    Leaving stops the workers, whatever happened.
    """

    def __init__(self, cfg: DataConfig, data_root: Path, processed: Path):
        self.cfg, self.data_root, self.processed = cfg, data_root, processed
        self.tasks: list[Task] = []
        self.stray: list[str] = []
        self.layout = "tusz"
        self.duplicates: list[Result] = []
        self.pool: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._set_up, name="ingest-set-up", daemon=True)

    def __enter__(self) -> IngestJob:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None

    def _set_up(self) -> None:
        try:
            entries, self.stray, self.layout = discover_layout(self.data_root, self.cfg)
            self.tasks, self.duplicates = _mark_duplicates([Task(*f) for f in entries])
            self.processed.mkdir(parents=True, exist_ok=True)
            clean_tmp(self.processed)
            for stale in (self.processed / "recordings.parquet", self.processed / "windows.parquet"):
                stale.unlink(missing_ok=True)
            if self.cfg.workers > 1:  # even for one recording: its imports then overlap the caller's
                self.pool = pool_context().Pool(min(self.cfg.workers, len(self.tasks)))
        except BaseException as exc:  # re-raised by result(), in the caller's thread
            self._error = exc

    def result(self) -> IngestOutcome:
        self._thread.join()
        if self._error is not None:
            raise self._error
        from brain_brr.progress import progress

        jobs = [(t, self.cfg, self.processed, self.data_root) for t in _largest_first(self.tasks)]
        with progress(total=len(jobs), desc="ingest", unit="rec") as bar:
            results = self.duplicates[:]
            done = self.pool.imap_unordered(_process_star, jobs) if self.pool is not None else map(_process_star, jobs)
            for res in done:
                results.append(res)
                bar.update()
        if self.pool is not None:
            self.pool.close()
        return _finish(results, self.stray, self.tasks, self.processed, self.layout)


def clean_tmp(processed: Path) -> int:
    """Remove temporary files a killed run left behind (``.<name>.tmp-<pid>``)."""
    n = 0
    for p in processed.rglob(".*.tmp-*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            n += 1
    return n


def _mark_duplicates(tasks: list[Task]) -> tuple[list[Task], list[Result]]:
    seen: dict[str, Task] = {}
    keep, dup = [], []
    for t in tasks:
        if t.rec_id in seen:
            dup.append(
                Result(
                    t,
                    "skipped",
                    reason=f"recording id {t.rec_id} already used by {seen[t.rec_id].rel}; EDF stems must be unique",
                )
            )
        else:
            seen[t.rec_id] = t
            keep.append(t)
    return keep, dup


def _tables(ok: list[Result]) -> tuple[pa.Table, pa.Table]:
    rows = sorted((r.row for r in ok), key=lambda row: row["rec_id"])
    recordings = pa.Table.from_pylist(rows, schema=RECORDINGS_SCHEMA)
    parts = []
    for r in sorted(ok, key=lambda r: r.row["rec_id"]):
        w, k = r.windows, len(r.windows["seg0"])
        parts.append(
            pa.table(
                {
                    "rec_id": pa.array([r.row["rec_id"]] * k, pa.string()),
                    "split": pa.array([r.row["split"]] * k, pa.string()),
                    "patient": pa.array([r.row["patient"]] * k, pa.string()),
                    "seg0": pa.array(w["seg0"], pa.int32()),
                    "start_s": pa.array(w["start_s"], pa.float64()),
                    "seizure_frac": pa.array(w["seizure_frac"], pa.float32()),
                    "is_pos": pa.array(w["is_pos"], pa.bool_()),
                },
                schema=WINDOWS_SCHEMA,
            )
        )
    windows = pa.concat_tables(parts) if parts else WINDOWS_SCHEMA.empty_table()
    return recordings, windows


def _report(results: list[Result]) -> dict[str, Any]:
    skipped = [{"path": r.task.rel, "reason": r.reason, "action": "skipped"} for r in results if r.status == "skipped"]
    warned = [{"path": r.task.rel, "reason": reason, "action": action} for r in results for reason, action in r.issues]
    return {"ingested": sum(r.status != "skipped" for r in results), "skipped": skipped, "warnings": warned}


def _remove_stale_segments(processed: Path, keep: set[str]) -> int:
    n = 0
    for p in (processed / "segments").glob("*/*.parquet"):
        if p.relative_to(processed).as_posix() not in keep:
            p.unlink(missing_ok=True)
            n += 1
    return n


@dataclass
class IngestOutcome:
    """What one ingest run did, for the stage to report: every result, the strays, the window count."""

    results: list[Result]
    stray: list[str]  # EDFs outside the layout, relative to data.root
    leaks: dict[str, list[str]]  # patients found in more than one split folder
    n_windows: int
    layout: str = "tusz"  # tusz | bids

    @property
    def ok(self) -> list[Result]:
        return [r for r in self.results if r.status != "skipped"]

    def report(self) -> dict[str, Any]:
        """The ingest report: ``{"ingested", "skipped", "warnings"}``, every entry ``{path, reason, action}``."""
        report = _report(self.results)
        report["skipped"] += [
            {
                "path": rel,
                "reason": stray_reason(self.layout),
                "action": "skipped; move it into the layout to ingest it",
            }
            for rel in self.stray
        ]
        return report

    def hours(self, split: str) -> float:
        return sum(r.row["duration_s"] for r in self.ok if r.row["split"] == split) / 3600

    def seizure_s(self, split: str) -> float:
        return sum(r.row["seizure_s"] for r in self.ok if r.row["split"] == split)

    @property
    def all_zero(self) -> list[str]:
        return [r.task.rel for r in self.results if r.all_zero]


def _finish(results: list[Result], stray: list[str], tasks: list[Task], processed: Path, layout: str) -> IngestOutcome:
    """Drop stale segments, write the tables (the recordings table, which readers open first, last)."""
    results = sorted(results, key=lambda r: r.task.rel)
    ok = [r for r in results if r.status != "skipped"]
    _remove_stale_segments(processed, {r.task.segment_file for r in ok})
    recordings, windows = _tables(ok)
    store.write_table_atomic(windows, processed / "windows.parquet")
    store.write_table_atomic(recordings, processed / "recordings.parquet")
    leaks = leaking_patients([(t.patient, t.split) for t in tasks])
    return IngestOutcome(results, stray, leaks, windows.num_rows, layout)


def ingest_corpus(cfg: DataConfig, data_root: Path, processed: Path) -> IngestOutcome:
    """Ingest every recording under ``data_root`` into ``processed``; the tables are written last.

    No table outlives an unfinished run: they are removed first, so a killed run leaves the next
    stage nothing it could take for complete.
    """
    with IngestJob(cfg, data_root, processed) as job:
        return job.result()
