"""TUSZ annotation files: term-based ``.csv_bi`` and per-channel ``.csv``.

Both are CSV with ``#`` header lines and a column header row. Columns are
found by name (``start_time``, ``stop_time``, ``label``), never by position: a parser
that reads the wrong columns produces all-zero label masks without any error.

A label is a seizure when it is ``seiz`` or ends in ``sz`` (fnsz, gnsz, ...).
Seizure intervals are the union over rows (and over channels for ``.csv``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from brain_brr.atomic import atomic_path
from brain_brr.errors import InputError

# Non-seizure labels that appear in TUSZ; anything else that is not a seizure is reported as unknown.
KNOWN_BACKGROUND = frozenset(
    {
        "bckg",
        "null",
        "artf",
        "eyem",
        "musc",
        "chew",
        "shiv",
        "elpp",
        "elec",
        "elst",
        "calb",
        "intr",
        "slow",
        "spsw",
        "gped",
        "pled",
        "eybl",
        "tcsw",
        "lpd",
        "gpd",
        "lrda",
        "grda",
        "eyem_musc",
        "eyem_chew",
        "musc_elec",
        "eyem_elec",
        "chew_musc",
        "chew_elec",
        "eyem_shiv",
        "shiv_elec",
    }
)
_DURATION_RE = re.compile(r"#\s*duration\s*=\s*([0-9.eE+-]+)")


class AnnotationError(InputError):
    """An annotation file that cannot be read; names the file, the line and the fix."""


@dataclass(frozen=True)
class Event:
    start: float
    stop: float
    label: str
    channel: str = "TERM"
    confidence: float = 1.0

    @property
    def is_seizure(self) -> bool:
        return is_seizure_label(self.label)


@dataclass
class Annotation:
    path: Path
    events: list[Event]
    duration: float | None = None
    warnings: list[str] = field(default_factory=list)

    def seizure_intervals(self, duration: float | None = None) -> list[tuple[float, float]]:
        """Merged seizure intervals clipped to ``[0, duration]``; clipping is recorded in ``warnings``."""
        end = duration if duration is not None else self.duration
        ivs = []
        for ev in self.events:
            if not ev.is_seizure:
                continue
            start, stop = ev.start, ev.stop
            if start < 0:
                self.warnings.append(
                    f"{self.path.name}: event {ev.label} {ev.start:g}-{ev.stop:g} s starts before 0; clipped to 0"
                )
                start = 0.0
            if end is not None and stop > end + 1e-6:
                if start >= end:
                    self.warnings.append(
                        f"{self.path.name}: event {ev.label} {ev.start:g}-{ev.stop:g} s lies past the end of the "
                        f"recording ({end:g} s); dropped"
                    )
                    continue
                self.warnings.append(
                    f"{self.path.name}: event {ev.label} {ev.start:g}-{ev.stop:g} s runs past the end of the "
                    f"recording ({end:g} s); clipped"
                )
                stop = end
            if stop > start:
                ivs.append((start, stop))
        return merge_intervals(ivs)


def is_seizure_label(label: str) -> bool:
    """TUSZ: ``seiz`` or a type ending in ``sz`` (fnsz, gnsz, ...); SzCORE/HED-SCORE: ``sz`` or ``sz_...``."""
    lab = label.strip().lower()
    return lab == "seiz" or lab.endswith("sz") or lab.startswith("sz")


def merge_intervals(ivs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for s, e in sorted(ivs):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]], float | None]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot read annotation file ({exc.strerror}); check its permissions") from None
    duration = None
    body: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            m = _DURATION_RE.match(stripped)
            if m:
                with contextlib.suppress(ValueError):
                    duration = float(m.group(1))
            continue
        body.append((lineno, line))
    if not body:
        raise AnnotationError(
            f"{path}: annotation file has no header row and no events; expected "
            "'channel,start_time,stop_time,label,confidence'"
        )
    header_lineno, header_line = body[0]
    header = [h.strip().lower() for h in next(csv.reader(io.StringIO(header_line)))]
    rows = [(ln, [c.strip() for c in next(csv.reader(io.StringIO(txt)))]) for ln, txt in body[1:]]
    return header, rows, duration


def _parse(path: Path, per_channel: bool) -> Annotation:
    header, rows, duration = _read_rows(path)
    required = ("start_time", "stop_time", "label")
    missing = [c for c in required if c not in header]
    if missing:
        raise AnnotationError(
            f"{path}: header row {','.join(header)!r} lacks column(s) {', '.join(missing)}; expected "
            "'channel,start_time,stop_time,label,confidence'"
        )
    i_start, i_stop, i_label = (header.index(c) for c in required)
    i_chan = header.index("channel") if "channel" in header else None
    i_conf = header.index("confidence") if "confidence" in header else None
    ann = Annotation(path=path, events=[], duration=duration)
    for lineno, row in rows:
        if len(row) < len(header):
            raise AnnotationError(
                f"{path}:{lineno}: {len(row)} fields where the header has {len(header)}; fix or remove the line"
            )
        try:
            start, stop = float(row[i_start]), float(row[i_stop])
        except ValueError:
            raise AnnotationError(
                f"{path}:{lineno}: start/stop '{row[i_start]}', '{row[i_stop]}' are not numbers"
            ) from None
        if not (math.isfinite(start) and math.isfinite(stop)):
            raise AnnotationError(
                f"{path}:{lineno}: start/stop '{row[i_start]}', '{row[i_stop]}' are not finite numbers"
            )
        label = row[i_label].lower()
        if stop <= start:
            ann.warnings.append(f"{path.name}:{lineno}: event {label} has stop {stop:g} <= start {start:g}; dropped")
            continue
        if not is_seizure_label(label) and label not in KNOWN_BACKGROUND:
            ann.warnings.append(f"{path.name}:{lineno}: unknown label '{label}'; counted as background")
        conf = 1.0
        if i_conf is not None:
            try:
                conf = float(row[i_conf])
            except ValueError:
                conf = 1.0
        channel = row[i_chan] if i_chan is not None else ("TERM" if not per_channel else "?")
        ann.events.append(Event(start, stop, label, channel, conf))
    seiz = sorted((e.start, e.stop) for e in ann.events if e.is_seizure)
    if not per_channel and any(b[0] < a[1] for a, b in zip(seiz, seiz[1:])):
        ann.warnings.append(f"{path.name}: overlapping seizure events; merged into their union")
    return ann


def read_csv_bi(path: str | Path) -> Annotation:
    """Read a term-based ``.csv_bi`` file (with or without ``bckg`` rows)."""
    return _parse(Path(path), per_channel=False)


def read_csv(path: str | Path) -> Annotation:
    """Read a per-channel ``.csv`` file; seizure intervals are the union over channels."""
    return _parse(Path(path), per_channel=True)


def annotation_candidates(edf_path: str | Path) -> list[Path]:
    """Where an EDF's annotation may lie, in order.

    ``.csv_bi``, ``.csv`` (TUSZ), then ``<stem minus _eeg>_events.tsv`` (BIDS).
    """
    edf_path = Path(edf_path)
    out = [edf_path.with_suffix(".csv_bi"), edf_path.with_suffix(".csv")]
    if edf_path.stem.endswith("_eeg"):
        out.append(edf_path.with_name(edf_path.stem[: -len("_eeg")] + "_events.tsv"))
    return out


def annotation_path(edf_path: str | Path) -> Path | None:
    """The annotation file beside an EDF (the first of :func:`annotation_candidates` that exists)."""
    return next((p for p in annotation_candidates(edf_path) if p.is_file()), None)


def annotation_for(edf_path: str | Path) -> Annotation:
    """The annotation beside an EDF: ``.csv_bi`` when present, else ``.csv``, else a BIDS ``_events.tsv``."""
    path = annotation_path(edf_path)
    if path is None:
        names = " or ".join(p.name for p in annotation_candidates(edf_path))
        raise AnnotationError(f"{edf_path}: no annotation file beside it (expected {names})")
    if path.suffix == ".csv_bi":
        return read_csv_bi(path)
    if path.suffix == ".csv":
        return read_csv(path)
    from brain_brr.data.events_tsv import read_events_tsv

    return read_events_tsv(path)


def write_csv_bi(
    path: str | Path,
    intervals: list[tuple[float, float]],
    duration: float,
    *,
    with_bckg: bool = True,
    label: str = "seiz",
    montage_file: str = "nedc_eas_default_montage.txt",
) -> None:
    """Write NEDC's term-based format (``csv_v1.0.0``), atomically."""
    path = Path(path)
    lines = [
        "# version = csv_v1.0.0",
        f"# bname = {path.stem}",
        f"# duration = {duration:.4f} secs",
        f"# montage_file = {montage_file}",
        "#",
        "channel,start_time,stop_time,label,confidence",
    ]
    t = 0.0
    for s, e in sorted(intervals):
        if with_bckg and s > t:
            lines.append(f"TERM,{t:.4f},{s:.4f},bckg,1.0000")
        lines.append(f"TERM,{s:.4f},{e:.4f},{label},1.0000")
        t = e
    if with_bckg and duration > t:
        lines.append(f"TERM,{t:.4f},{duration:.4f},bckg,1.0000")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
