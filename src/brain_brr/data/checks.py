"""Cheap checks of ``data.processed`` before a stage reads it: a damaged file is named, with its repair.

Each file is opened only as far as its Parquet footer: present, readable footer (a truncated
or overwritten file has none), the expected columns, and for segment files the row count
the recordings table promises. Nothing is decoded, so the check costs milliseconds for a
whole corpus; a file damaged inside its data pages still fails later, when it is read.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from brain_brr.data.store import SCHEMA
from brain_brr.errors import InputError

REBUILD = "rewrite it with `dvc repro ingest` (add -f if DVC says nothing changed)"
RECORDINGS_COLUMNS = ("rec_id", "split", "patient", "segment_file", "n_segments", "duration_s", "seizure_s", "events")
WINDOWS_COLUMNS = ("rec_id", "split", "seg0", "seizure_frac", "is_pos")
MAX_LINES = 10  # damaged segment files named one per line, then a count


def _footer(path: Path, what: str) -> pq.FileMetaData:
    """The file's Parquet footer, or one line saying what is wrong with the file."""
    if not path.is_file() and what != "segment file":  # no table at all: ingest never ran here
        raise InputError(f"{path} not found; run the ingest stage first (`dvc repro ingest`)")
    if not path.is_file():
        raise InputError(f"{path}: {what} missing; {REBUILD}")
    try:
        return pq.read_metadata(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for a file without a valid footer
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: {what} truncated or not a Parquet file ({first}); {REBUILD}") from None


def check_table(path: Path, columns: tuple[str, ...], what: str) -> pq.FileMetaData:
    """One of ingest's tables: present, footer readable, ``columns`` present."""
    meta = _footer(path, what)
    missing = [c for c in columns if c not in meta.schema.names]
    if missing:
        raise InputError(f"{path}: {what} lacks the columns {missing} (written by another version?); {REBUILD}")
    return meta


def check_segment(path: Path, n_segments: int | None = None) -> None:
    """One segment file: present, footer readable, the store's columns, ``n_segments`` rows when given."""
    meta = _footer(path, "segment file")
    missing = [c for c in SCHEMA.names if c not in meta.schema.names]
    if missing:
        raise InputError(f"{path}: segment file lacks the columns {missing}; {REBUILD}")
    if n_segments is not None and meta.num_rows != n_segments:
        raise InputError(
            f"{path}: segment file holds {meta.num_rows} segments, recordings.parquet says {n_segments}; {REBUILD}"
        )


def check_processed(processed: Path, *, windows: bool = True, segments: bool = True) -> None:
    """``recordings.parquet``, ``windows.parquet`` and every segment file the recordings table lists.

    A stage checks what it reads: ``windows`` and ``segments`` off skip those files.

    Raises :class:`InputError` with one line per damaged file (at most ``MAX_LINES``, then a count).
    """
    recordings = processed / "recordings.parquet"
    check_table(recordings, RECORDINGS_COLUMNS, "recordings table")
    if windows:
        check_table(processed / "windows.parquet", WINDOWS_COLUMNS, "windows table")
    if not segments:
        return
    try:
        rows = pq.read_table(recordings, columns=["segment_file", "n_segments"]).to_pylist()
    except Exception as exc:  # footer fine, data pages damaged
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{recordings}: recordings table unreadable ({first}); {REBUILD}") from None
    problems = []
    for row in rows:
        try:
            check_segment(processed / row["segment_file"], row["n_segments"])
        except InputError as exc:
            problems += exc.lines
    if len(problems) > MAX_LINES:
        problems = problems[:MAX_LINES] + [f"... and {len(problems) - MAX_LINES} more damaged segment files; {REBUILD}"]
    if problems:
        raise InputError(problems)
