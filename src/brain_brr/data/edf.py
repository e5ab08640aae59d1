"""One EDF -> ``(19, n)`` float32 at ``data.sampling_rate``: filtered, robustly normalised.

The chain, one pass each: header check (repairing a malformed start date or a
truncated record count in a patched temporary copy), MNE reads only the 10-20
EEG channels (TUSZ files also hold 1 Hz ``IBI``/``BURSTS`` channels; reading
everything would upsample them to the EEG rate), polyphase resampling, one
zero-phase SOS (band-pass + notch), per-channel median/IQR normalisation with
clipping. Before them, up to ``data.max_missing_channels`` missing, flat or
non-finite channels are interpolated from their spatial neighbours, and the 19
electrodes are re-referenced to their common average (:mod:`brain_brr.data.derivation`),
so ``-REF``, ``-LE``, ``-AR``, ``-Avg`` and bipolar recordings give the same input.

Every deviation from a clean file is recorded in :attr:`EegRecording.issues` as
``(reason, action)``; a file that cannot be used raises :class:`EdfError`.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from brain_brr.config import DataConfig
from brain_brr.data.channels import CHANNELS, N_CHANNELS, map_bipolar, map_channels
from brain_brr.data.derivation import common_average, electrodes_from_pairs
from brain_brr.errors import InputError

# Spatial neighbours on the 10-20 scalp layout, used to interpolate a missing channel.
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "FP1": ("FP2", "F7", "F3", "FZ"),
    "FP2": ("FP1", "F8", "F4", "FZ"),
    "F7": ("FP1", "F3", "T3"),
    "F3": ("FP1", "F7", "FZ", "C3"),
    "FZ": ("F3", "F4", "CZ", "FP1", "FP2"),
    "F4": ("FP2", "FZ", "F8", "C4"),
    "F8": ("FP2", "F4", "T4"),
    "T3": ("F7", "C3", "T5"),
    "C3": ("F3", "T3", "CZ", "P3"),
    "CZ": ("FZ", "C3", "C4", "PZ"),
    "C4": ("F4", "CZ", "T4", "P4"),
    "T4": ("F8", "C4", "T6"),
    "T5": ("T3", "P3", "O1"),
    "P3": ("C3", "T5", "PZ", "O1"),
    "PZ": ("CZ", "P3", "P4", "O1", "O2"),
    "P4": ("C4", "PZ", "T6", "O2"),
    "T6": ("T4", "P4", "O2"),
    "O1": ("T5", "P3", "PZ", "O2"),
    "O2": ("T6", "P4", "PZ", "O1"),
}
_DATE_RE = re.compile(rb"^\d\d\.\d\d\.\d\d$")
_NOTCH_Q = 30.0
_MIN_SECONDS = 4.0  # shorter signals cannot be filtered forward-backward meaningfully


class EdfError(InputError):
    """An EDF that cannot be used; the single line names the file and the reason."""


@dataclass
class EegRecording:
    signal: np.ndarray  # (19, n) float32, rows in channels.CHANNELS order
    fs: int
    orig_fs: float
    duration_s: float
    missing_channels: list[str] = field(default_factory=list)
    issues: list[tuple[str, str]] = field(default_factory=list)  # (reason, action)

    @property
    def warnings(self) -> list[str]:
        return [f"{reason} ({action})" for reason, action in self.issues]


@dataclass(frozen=True)
class _Header:
    header_bytes: int
    n_records: int
    record_s: float
    labels: list[str]
    samples_per_record: list[int]
    date: bytes
    time: bytes


def _field(raw: bytes, start: int, width: int) -> bytes:
    return raw[start : start + width]


def _read_header(path: Path) -> _Header:
    try:
        with open(path, "rb") as f:
            fixed = f.read(256)
            if len(fixed) < 256:
                raise EdfError(f"{path}: not an EDF file (only {len(fixed)} bytes, the fixed header alone is 256)")
            try:
                header_bytes = int(_field(fixed, 184, 8))
                n_records = int(_field(fixed, 236, 8))
                record_s = float(_field(fixed, 244, 8))
                ns = int(_field(fixed, 252, 4))
            except ValueError:
                raise EdfError(
                    f"{path}: not an EDF file (header fields for size, records or signal count are not numbers)"
                ) from None
            if ns <= 0 or header_bytes != 256 * (ns + 1):
                raise EdfError(
                    f"{path}: EDF header is inconsistent ({ns} signals but header size {header_bytes}, expected "
                    f"{256 * (ns + 1)})"
                )
            rest = f.read(256 * ns)
    except OSError as exc:
        raise EdfError(f"{path}: cannot read EDF ({exc.strerror})") from None
    if len(rest) < 256 * ns:
        raise EdfError(f"{path}: truncated EDF header ({256 + len(rest)} of {header_bytes} bytes)")
    labels = [rest[16 * i : 16 * (i + 1)].decode("latin-1").strip() for i in range(ns)]
    off = 216 * ns
    try:
        spr = [int(rest[off + 8 * i : off + 8 * (i + 1)]) for i in range(ns)]
    except ValueError:
        raise EdfError(f"{path}: EDF header has non-numeric samples-per-record fields") from None
    if record_s <= 0 or min(spr) <= 0:
        raise EdfError(f"{path}: EDF header has record duration {record_s} s or a signal with no samples per record")
    return _Header(header_bytes, n_records, record_s, labels, spr, _field(fixed, 168, 8), _field(fixed, 176, 8))


def _check_header(path: Path, hdr: _Header) -> tuple[int, list[tuple[str, str]], dict[int, bytes]]:
    """Complete records present, issues, and header byte patches needed for MNE to read the file."""
    issues: list[tuple[str, str]] = []
    patches: dict[int, bytes] = {}
    record_bytes = 2 * sum(hdr.samples_per_record)
    n_complete = (path.stat().st_size - hdr.header_bytes) // record_bytes
    if n_complete <= 0:
        raise EdfError(
            f"{path}: EDF holds no complete data record (header says {hdr.n_records}); the file is truncated or empty"
        )
    if hdr.n_records != n_complete:
        if hdr.n_records < 0 or hdr.n_records > n_complete:
            issues.append(
                (
                    f"truncated EDF: header says {hdr.n_records} data records, file holds {n_complete} complete "
                    f"({n_complete * hdr.record_s:g} s)",
                    f"truncated to {n_complete * hdr.record_s:g} s",
                )
            )
        else:
            issues.append((f"EDF has bytes past its {hdr.n_records} data records", "ignored the extra bytes"))
            n_complete = hdr.n_records
        patches[236] = f"{n_complete:<8d}".encode()
    if not _DATE_RE.match(hdr.date) or not _DATE_RE.match(hdr.time):
        shown = (hdr.date + b" " + hdr.time).decode("latin-1")
        issues.append(
            (
                f"malformed start date/time '{shown}' in the EDF header",
                "repaired header (start set to 01.01.85 00.00.00)",
            )
        )
        patches[168] = b"01.01.85"
        patches[176] = b"00.00.00"
    return n_complete, issues, patches


def _patched_copy(path: Path, patches: dict[int, bytes], n_bytes: int, tmpdir: str) -> Path:
    out = Path(tmpdir) / "patched.edf"
    with open(path, "rb") as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
        dst.truncate(n_bytes)
        for offset, value in patches.items():
            dst.seek(offset)
            dst.write(value)
    return out


def _read_selected(path: Path, labels: list[str]) -> np.ndarray:
    import mne

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = mne.io.read_raw_edf(path, include=sorted(set(labels)), preload=False, verbose="error")
        return raw.get_data().astype(np.float32)


@lru_cache(maxsize=8)
def _sos(fs: int, low: float, high: float, notch: float | None) -> np.ndarray:
    from scipy import signal as sps  # scipy.signal takes ~1 s to import: only processes that filter pay it

    # Order 2 each way: forward-backward squares the magnitude, an order-4 response for half the work.
    parts = (
        [sps.butter(2, [low, high], btype="band", fs=fs, output="sos")]
        if low > 0
        else [sps.butter(2, high, btype="low", fs=fs, output="sos")]
    )
    if notch is not None and notch < fs / 2:
        b, a = sps.iirnotch(notch, _NOTCH_Q, fs=fs)
        parts.append(sps.tf2sos(b, a))
    return np.vstack(parts).astype(np.float32)


def _resample(x: np.ndarray, orig_fs: float, fs: int) -> np.ndarray:
    ratio = Fraction(fs) / Fraction(orig_fs).limit_denominator(1000)
    if ratio == 1:
        return x
    from scipy import signal as sps

    return sps.resample_poly(x, ratio.numerator, ratio.denominator, axis=1).astype(np.float32, copy=False)


def _robust_normalise(x: np.ndarray, clip: float) -> np.ndarray:
    # Quantiles of ~4096 evenly spaced samples per channel: within a few percent of the full
    # estimate (seconds-long structure spans many of them) at a fraction of the cost.
    sub = np.ascontiguousarray(x[:, :: max(1, x.shape[1] // 4096)])
    q25, med, q75 = np.percentile(sub, [25, 50, 75], axis=1)
    scale = (q75 - q25) / 1.349
    if np.any(scale <= 1e-12):  # mostly constant channel: fall back to the standard deviation
        std = sub.std(axis=1)
        scale = np.where(scale > 1e-12, scale, np.where(std > 1e-12, std, 1.0))
    x -= med[:, None].astype(np.float32)
    x *= (1.0 / scale)[:, None].astype(np.float32)
    np.clip(x, -clip, clip, out=x)
    return x


def preprocess(x: np.ndarray, orig_fs: float, cfg: DataConfig) -> np.ndarray:
    """Resample, filter and normalise ``(c, n)`` float32 channels (all finite)."""
    from scipy import signal as sps

    x = _resample(np.ascontiguousarray(x, dtype=np.float32), orig_fs, cfg.sampling_rate)
    # Even padding: odd padding reflects about the last sample, whose mains/noise value becomes a
    # DC step in the pad and a seconds-long high-pass transient at the end of the recording.
    padlen = min(x.shape[1] - 1, 2 * cfg.sampling_rate)
    sos = _sos(cfg.sampling_rate, cfg.bandpass_low, cfg.bandpass_high, cfg.notch_hz)
    x = sps.sosfiltfilt(sos, x, axis=1, padtype="even", padlen=padlen).astype(np.float32, copy=False)
    return _robust_normalise(x, cfg.clip)


def read_eeg(path: str | Path, cfg: DataConfig) -> EegRecording:
    """Read one EDF as the 19 standard channels in the common average, preprocessed at ``cfg.sampling_rate``."""
    path = Path(path)
    hdr = _read_header(path)
    found, duplicates = map_channels(hdr.labels)
    pairs, pair_duplicates = map_bipolar(hdr.labels)
    # A mixed file takes its referential channels; a bipolar one is turned back into electrodes.
    if len(pairs) > len(found):
        found, duplicates = {}, pair_duplicates
    else:
        pairs = {}
    issues: list[tuple[str, str]] = []
    if duplicates:
        issues.append((f"duplicated channel labels {', '.join(duplicates)}", "kept the first occurrence"))
    if not found and not pairs:
        shown = ", ".join(hdr.labels[:8]) + (", ..." if len(hdr.labels) > 8 else "")
        raise EdfError(f"{path}: no 10-20 EEG channel nor bipolar pair of 10-20 electrodes among its labels ({shown})")
    rates = {hdr.samples_per_record[i] / hdr.record_s for i in [*found.values(), *pairs.values()]}
    orig_fs = max(rates)
    if len(rates) > 1:
        issues.append((f"EEG channels sampled at different rates {sorted(rates)} Hz", f"read all at {orig_fs:g} Hz"))
    n_complete, header_issues, patches = _check_header(path, hdr)
    issues += header_issues
    if n_complete * hdr.record_s < _MIN_SECONDS:
        raise EdfError(
            f"{path}: recording is {n_complete * hdr.record_s:g} s long; at least {_MIN_SECONDS:g} s are needed"
        )
    if found:
        x, present = _read_channels(path, hdr, found, n_complete, patches)
        unusable = _unusable_channels(x, present, {ch: f"channel {ch} not in the EDF" for ch in CHANNELS}, issues)
    else:
        x, present, unusable = _read_bipolar(path, hdr, pairs, n_complete, patches, issues)
    missing = [ch for ch in CHANNELS if ch in unusable]
    if len(missing) > cfg.max_missing_channels:
        raise EdfError(
            f"{path}: {len(missing)} of the 19 10-20 channels missing or unusable ({', '.join(missing)}); "
            f"data.max_missing_channels={cfg.max_missing_channels}"
        )
    for ch in missing:  # in volts, before the common average, which then includes every electrode
        donors = [CHANNELS.index(n) for n in NEIGHBOURS[ch] if present[CHANNELS.index(n)]]
        if not donors:
            neighbours = ", ".join(NEIGHBOURS[ch])
            raise EdfError(
                f"{path}: channel {ch} missing and none of its neighbours ({neighbours}) present to interpolate it"
            )
        x[CHANNELS.index(ch)] = x[donors].mean(axis=0)
        issues.append((unusable[ch], f"interpolated from {', '.join(CHANNELS[d] for d in donors)}"))
    out = preprocess(common_average(x), orig_fs, cfg)
    del x
    n = out.shape[1]
    return EegRecording(out, cfg.sampling_rate, float(orig_fs), n / cfg.sampling_rate, missing, issues)


def _read_rows(
    path: Path, hdr: _Header, indices: list[int], n_complete: int, patches: dict[int, bytes]
) -> tuple[np.ndarray, dict[int, int]]:
    """The signals at file positions ``indices``, float32, and the row of each position (no copy made)."""
    # MNE returns included channels in file order, duplicated labels included (renamed).
    wanted = {hdr.labels[i] for i in indices}
    order = [i for i, lab in enumerate(hdr.labels) if lab in wanted]
    try:
        if patches:
            n_bytes = hdr.header_bytes + n_complete * 2 * sum(hdr.samples_per_record)
            with tempfile.TemporaryDirectory(prefix="brain-brr-edf-") as tmp:
                data = _read_selected(_patched_copy(path, patches, n_bytes, tmp), sorted(wanted))
        else:
            data = _read_selected(path, sorted(wanted))
    except Exception as exc:  # MNE's errors vary by version; reduce them to one line naming the file
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise EdfError(f"{path}: MNE cannot read this EDF ({type(exc).__name__}: {first})") from None
    if data.shape[0] != len(order):
        raise EdfError(
            f"{path}: MNE returned {data.shape[0]} channels where the header lists {len(order)} EEG channels"
        )
    return data, {file_idx: row for row, file_idx in enumerate(order)}


def _read_channels(
    path: Path, hdr: _Header, found: dict[str, int], n_complete: int, patches: dict[int, bytes]
) -> tuple[np.ndarray, np.ndarray]:
    """The raw 10-20 channels ``(19, n)`` float32 (rows of absent channels zero) and which rows are present."""
    data, row_of = _read_rows(path, hdr, list(found.values()), n_complete, patches)
    x = np.zeros((N_CHANNELS, data.shape[1]), dtype=np.float32)
    present = np.zeros(N_CHANNELS, dtype=bool)
    for ch, file_idx in found.items():
        k = CHANNELS.index(ch)
        x[k], present[k] = data[row_of[file_idx]], True
    return x, present


def _read_bipolar(
    path: Path,
    hdr: _Header,
    pairs: dict[tuple[str, str], int],
    n_complete: int,
    patches: dict[int, bytes],
    issues: list,
) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Electrode potentials recovered from bipolar pairs; which 10-20 electrodes they reach; why the others not."""
    data, row_of = _read_rows(path, hdr, list(pairs.values()), n_complete, patches)
    d = data[[row_of[i] for i in pairs.values()]]
    del data
    usable = []
    for row, (a, b) in enumerate(pairs):
        if not np.isfinite(d[row]).all() or np.ptp(d[row]) == 0.0:
            issues.append((f"bipolar channel {a}-{b} is non-finite or flat", "left out of the electrode recovery"))
        else:
            usable.append(row)
    kept = [p for row, p in enumerate(pairs) if row in usable]
    if not kept:
        raise EdfError(f"{path}: every bipolar channel is non-finite or flat")
    x, present, notes = electrodes_from_pairs(d[usable], kept, NEIGHBOURS)
    issues += notes
    unusable = {ch: f"channel {ch} not reached by the bipolar pairs" for k, ch in enumerate(CHANNELS) if not present[k]}
    return x, present, unusable


def _unusable_channels(x: np.ndarray, present: np.ndarray, absent: dict[str, str], issues: list) -> dict[str, str]:
    """Channels absent (``absent[ch]`` says why), non-finite or flat -> why (``present`` is cleared for them)."""
    unusable = {ch: absent[ch] for k, ch in enumerate(CHANNELS) if not present[k]}
    for k, ch in enumerate(CHANNELS):
        if not present[k]:
            continue
        finite = np.isfinite(x[k])
        if not finite.all():  # a broken scaling field (e.g. physical max 'nan') spoils the whole channel
            present[k] = False
            unusable[ch] = f"channel {ch} is {1.0 - finite.mean():.0%} NaN/inf"
        elif np.ptp(x[k]) == 0.0:
            present[k] = False
            unusable[ch] = f"channel {ch} is a flat line"
        elif np.mean(np.diff(x[k][:: max(1, x.shape[1] // 100_000)]) == 0) > 0.5:
            issues.append((f"channel {ch} is flat for more than half of the recording", "kept"))
    return unusable


@dataclass(frozen=True)
class EdfInfo:
    """What the header says about a recording, read without its signals."""

    start: dt.datetime  # recording start (1985-01-01 00:00:00 when the header's date is malformed)
    duration_s: float  # complete data records x record duration
    issues: list[tuple[str, str]]


MIN_SECONDS = _MIN_SECONDS  # read_eeg refuses shorter recordings
_EDFPLUS_YEAR = re.compile(rb"Startdate \d\d-[A-Z]{3}-(\d{4})")


def edf_info(path: str | Path) -> EdfInfo:
    """Start and duration of an EDF from its header (what an annotation of the whole recording states)."""
    path = Path(path)
    hdr = _read_header(path)
    n_complete, issues, patches = _check_header(path, hdr)
    start = dt.datetime(1985, 1, 1)
    if 168 not in patches:
        day, month, yy = (int(v) for v in hdr.date.split(b"."))
        hour, minute, second = (int(v) for v in hdr.time.split(b"."))
        with open(path, "rb") as f:
            m = _EDFPLUS_YEAR.search(f.read(168)[88:])  # EDF+ keeps the four-digit year in the recording field
        year = int(m.group(1)) if m else (1900 + yy if yy >= 85 else 2000 + yy)
        try:
            start = dt.datetime(year, month, day, hour, minute, second)
        except ValueError:
            issues.append(
                (f"start date/time {hdr.date.decode()} {hdr.time.decode()} is not a valid date", "used 1985-01-01")
            )
    return EdfInfo(start, round(n_complete * hdr.record_s, 9), issues)
