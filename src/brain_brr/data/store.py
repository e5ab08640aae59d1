"""On-disk format of ingested recordings: each sample stored once.

One Parquet file per recording (``segments/<split>/<rec_id>.parquet``), one row per
segment of ``stride_s`` seconds:

==========  ==================  ====================================================
column      type                content
==========  ==================  ====================================================
``seg``     int32               segment index (segment ``k`` starts at ``k*stride_s``)
``signal``  binary              float16, C order, shape ``(19, stride_s*fs)``
``labels``  binary              uint8 0/1, shape ``(stride_s*label_rate,)``
==========  ==================  ====================================================

A window of ``window_s`` seconds starting at segment ``k`` is segments
``k .. k + window_s/stride_s - 1`` concatenated: windows overlap on disk without
being stored twice. The last segment is zero-padded; the recordings table holds
the valid length. zstd compression; row groups of one window's worth of segments.
File-level metadata holds ``fs``, ``label_rate``, ``stride_s``, ``channels`` and the
ingest ``fingerprint`` used to skip recordings that are already up to date.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from brain_brr.atomic import atomic_path
from brain_brr.data.channels import N_CHANNELS
from brain_brr.data.windows import n_label_steps

SCHEMA = pa.schema([("seg", pa.int32()), ("signal", pa.binary()), ("labels", pa.binary())])


def write_recording(
    path: str | Path,
    signal: np.ndarray,
    labels: np.ndarray,
    *,
    fs: int,
    label_rate: int,
    stride_s: int,
    row_group_segments: int = 6,
    metadata: dict[str, str] | None = None,
) -> int:
    """Write one recording atomically; returns the number of segments.

    ``signal`` is ``(19, n_samples)`` (any float dtype, stored as float16); ``labels`` is
    ``(n_steps,)`` 0/1 at ``label_rate``. Both are zero-padded to whole segments.
    """
    path = Path(path)
    if signal.ndim != 2 or signal.shape[0] != N_CHANNELS:
        raise ValueError(f"signal must be ({N_CHANNELS}, n_samples), got {signal.shape}")
    seg_samples, seg_steps = stride_s * fs, stride_s * label_rate
    n_seg = -(-signal.shape[1] // seg_samples)
    sig = np.zeros((N_CHANNELS, n_seg * seg_samples), dtype=np.float16)
    sig[:, : signal.shape[1]] = signal
    lab = np.zeros(n_seg * seg_steps, dtype=np.uint8)
    n_lab = min(len(labels), len(lab))
    lab[:n_lab] = labels[:n_lab]
    # (19, n_seg, seg_samples) -> (n_seg, 19, seg_samples): each row one contiguous block.
    blocks = np.ascontiguousarray(sig.reshape(N_CHANNELS, n_seg, seg_samples).transpose(1, 0, 2))
    table = pa.table(
        {
            "seg": pa.array(np.arange(n_seg, dtype=np.int32)),
            "signal": pa.array([b.tobytes() for b in blocks], type=pa.binary()),
            "labels": pa.array(
                [lab[i * seg_steps : (i + 1) * seg_steps].tobytes() for i in range(n_seg)], type=pa.binary()
            ),
        },
        schema=SCHEMA,
    )
    meta = {"fs": str(fs), "label_rate": str(label_rate), "stride_s": str(stride_s), "n_samples": str(signal.shape[1])}
    meta.update(metadata or {})
    table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in meta.items()})
    with atomic_path(path) as tmp:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            compression_level=3,
            row_group_size=row_group_segments,
            use_dictionary=False,
            write_statistics=False,
        )
    return n_seg


def read_metadata(path: str | Path) -> dict[str, str]:
    md = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in md.items() if not k.startswith(b"ARROW")}


def _decode(table: pa.Table, fs: int, stride_s: int) -> tuple[np.ndarray, np.ndarray]:
    seg_samples = stride_s * fs
    raw = b"".join(table.column("signal").to_pylist())
    blocks = np.frombuffer(raw, dtype=np.float16).reshape(table.num_rows, N_CHANNELS, seg_samples)
    signal = blocks.transpose(1, 0, 2).reshape(N_CHANNELS, table.num_rows * seg_samples)
    labels = np.frombuffer(b"".join(table.column("labels").to_pylist()), dtype=np.uint8)
    return signal, labels


def read_recording(path: str | Path) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Whole recording without the last segment's zero padding.

    Returns ``(signal float16 (19, n), labels uint8 (n_steps,), metadata)``.
    """
    meta = read_metadata(path)
    fs, stride_s, label_rate = int(meta["fs"]), int(meta["stride_s"]), int(meta["label_rate"])
    table = pq.read_table(path, columns=["signal", "labels"])
    signal, labels = _decode(table, fs, stride_s)
    n = int(meta["n_samples"])
    return signal[:, :n], labels[: n_label_steps(n, fs, label_rate)], meta


def write_table_atomic(table: pa.Table, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def dumps(obj: object) -> str:
    return json.dumps(obj, sort_keys=True)


def tables_digest(processed: str | Path) -> str:
    """16 hex digits over ``recordings.parquet`` and ``windows.parquet``: the version of the processed data.

    Every recording's row (duration, events, segment file) and every window is in those two tables,
    and ingest rewrites a segment only together with its row, so they stand for the whole store.
    """
    import hashlib

    h = hashlib.sha256()
    for name in ("recordings.parquet", "windows.parquet"):
        h.update(Path(processed, name).read_bytes())
    return h.hexdigest()[:16]
