"""SzCORE annotation TSV (HED-SCORE): a BIDS recording's ``_events.tsv``, and what ``predict`` writes.

Tab-separated, first line exactly :data:`HEADER`; one row per seizure event (``eventType``
``sz`` or a HED-SCORE seizure type ``sz_...``; onset and duration in seconds), or one
``bckg`` row covering the whole recording when it holds none; ``confidence`` a number in
[0, 1] or ``n/a``; ``channels`` ``n/a`` or comma-separated names; ``dateTime`` the recording
start as ``%Y-%m-%d %H:%M:%S``; ``recordingDuration`` the EDF's duration in seconds, the
same on every row. The SzCORE benchmark scores a file whose ``recordingDuration`` differs
from the reference's as an empty hypothesis, without a word: the writer takes the EDF's
own duration and :func:`read_events_tsv` with ``strict=True`` refuses anything else.

Reading a corpus (``strict=False``) is lenient where a file is merely untidy (columns in
another order, extra columns, unknown event types counted as background with a warning)
and strict where labels would go wrong (missing columns, non-numeric times).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from brain_brr.atomic import atomic_path
from brain_brr.data.annotations import Annotation, AnnotationError, Event, is_seizure_label

HEADER: tuple[str, ...] = ("onset", "duration", "eventType", "confidence", "channels", "dateTime", "recordingDuration")
HEADER_LINE = "\t".join(HEADER)
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
NA = "n/a"
_TOL = 1e-6


def format_seconds(x: float) -> str:
    """Seconds as the shortest decimal that keeps 9 places: ``2.0``, ``12.5``, ``3599.996``."""
    s = f"{x:.9f}".rstrip("0")
    return s + "0" if s.endswith(".") else s


def is_events_tsv(path: Path) -> bool:
    """Whether ``path`` starts with the SzCORE header (BIDS datasets hold other TSVs: participants, channels)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
    except OSError:
        return False
    return first.rstrip("\r\n").split("\t")[:3] == list(HEADER[:3])


def write_events_tsv(
    path: str | Path,
    events: list[tuple[float, float]],
    recording_duration: float,
    start: dt.datetime,
    *,
    confidences: list[float | None] | None = None,
    event_types: list[str] | None = None,
) -> None:
    """Write one recording's annotation atomically: a row per event (clipped to the recording), else a ``bckg`` row.

    ``event_types`` default to ``sz``; ``confidences`` to ``n/a``.
    """
    if not (math.isfinite(recording_duration) and recording_duration > 0):
        raise ValueError(f"recordingDuration must be a positive number of seconds, got {recording_duration!r}")
    types = list(event_types) if event_types is not None else ["sz"] * len(events)
    confs = list(confidences) if confidences is not None else [None] * len(events)
    if len(types) != len(events) or len(confs) != len(events):
        raise ValueError(f"{len(events)} events but {len(types)} event types and {len(confs)} confidences")
    bad = [t for t in types if not t.startswith("sz")]
    if bad:
        raise ValueError(f"event types {bad} are not HED-SCORE seizure types (sz, sz_foc, sz_gen, ...)")
    when = start.strftime(DATETIME_FORMAT)
    total = format_seconds(recording_duration)
    rows = []
    for (s, e), kind, conf in sorted(zip(events, types, confs), key=lambda row: row[0][0]):
        s, e = max(0.0, float(s)), min(float(e), recording_duration)
        if e - s <= _TOL:
            continue
        c = NA if conf is None else f"{min(1.0, max(0.0, float(conf))):.4f}"
        rows.append(f"{format_seconds(s)}\t{format_seconds(e - s)}\t{kind}\t{c}\t{NA}\t{when}\t{total}")
    if not rows:
        rows.append(f"0.0\t{total}\tbckg\t{NA}\t{NA}\t{when}\t{total}")
    with atomic_path(path) as tmp:
        tmp.write_text(HEADER_LINE + "\n" + "\n".join(rows) + "\n", encoding="utf-8")


def read_events_tsv(path: str | Path, *, strict: bool = False) -> Annotation:
    """Read an SzCORE/BIDS annotation TSV as an :class:`Annotation` (duration: ``recordingDuration``).

    ``strict=True`` checks every rule of the format (exact header, 7 fields, numbers, known
    event types, ``n/a`` or a confidence in [0, 1], the date format, one recording duration,
    events inside the recording, a lone ``bckg`` row covering it) and raises
    :class:`AnnotationError` naming the line and the rule at the first violation.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: cannot read the annotation TSV ({exc}); check the file") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise AnnotationError(f"{path}: empty file; expected the header '{_shown(HEADER_LINE)}' and at least one row")
    header = lines[0].rstrip("\r").split("\t")
    if strict and lines[0] != HEADER_LINE:
        raise AnnotationError(f"{path}:1: header is '{_shown(lines[0])}', expected exactly '{_shown(HEADER_LINE)}'")
    missing = [c for c in ("onset", "duration", "eventType") if c not in header]
    if missing:
        raise AnnotationError(
            f"{path}:1: header lacks column(s) {', '.join(missing)}; expected '{_shown(HEADER_LINE)}'"
        )
    col = {name: header.index(name) for name in HEADER if name in header}
    ann = Annotation(path=path, events=[])
    durations: set[float] = set()
    for lineno, line in enumerate(lines[1:], 2):
        fields = line.rstrip("\r").split("\t")
        if not line.strip():
            if strict:
                raise AnnotationError(f"{path}:{lineno}: blank line; remove it")
            continue
        if len(fields) != len(header):
            raise AnnotationError(f"{path}:{lineno}: {len(fields)} fields where the header has {len(header)}")
        row = {name: fields[i].strip() for name, i in col.items()}
        event, rec_duration = _row(path, lineno, row, ann, strict)
        if rec_duration is not None:
            durations.add(rec_duration)
        if event is not None:
            ann.events.append(event)
    if strict:
        _check_whole(path, ann, durations, len(lines) - 1)
    elif len(durations) > 1:
        ann.warnings.append(
            f"{path.name}: rows disagree on recordingDuration ({sorted(durations)}); the largest is used"
        )
    ann.duration = max(durations) if durations else None
    return ann


def _shown(line: str) -> str:
    return line.replace("\t", "<TAB>")


def _number(path: Path, lineno: int, name: str, value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise AnnotationError(f"{path}:{lineno}: {name} '{value}' is not a number") from None
    if not math.isfinite(x):
        raise AnnotationError(f"{path}:{lineno}: {name} '{value}' is not a finite number")
    return x


def _row(
    path: Path, lineno: int, row: dict[str, str], ann: Annotation, strict: bool
) -> tuple[Event | None, float | None]:
    """One row -> (event or None, its recordingDuration or None); warnings go to ``ann``."""
    kind = row["eventType"]
    if kind != "bckg" and not kind.lower().startswith("sz"):
        if strict:
            raise AnnotationError(
                f"{path}:{lineno}: eventType '{kind}' is neither bckg nor a seizure type (sz, sz_...)"
            )
        counted = "seizure" if is_seizure_label(kind) else "background"
        ann.warnings.append(f"{path.name}:{lineno}: eventType '{kind}' is not a HED-SCORE type; counted as {counted}")
    rec_duration = None
    if "recordingDuration" in row and (row["recordingDuration"] != NA or strict):
        rec_duration = _number(path, lineno, "recordingDuration", row["recordingDuration"])
        if strict and rec_duration <= 0:
            raise AnnotationError(f"{path}:{lineno}: recordingDuration {rec_duration:g} is not positive")
    if strict:
        _strict_fields(path, lineno, row)
    if kind == "bckg" and not strict and NA in (row["onset"], row["duration"]):
        return None, rec_duration
    onset = _number(path, lineno, "onset", row["onset"])
    duration = _number(path, lineno, "duration", row["duration"])
    if duration <= 0:
        if strict:
            raise AnnotationError(f"{path}:{lineno}: duration {duration:g} is not positive")
        ann.warnings.append(f"{path.name}:{lineno}: event {kind} has duration {duration:g} <= 0; dropped")
        return None, rec_duration
    if strict and onset < 0:
        raise AnnotationError(f"{path}:{lineno}: onset {onset:g} is negative")
    conf = row.get("confidence", NA)
    try:
        confidence = 1.0 if conf == NA else float(conf)
    except ValueError:
        confidence = 1.0
    event = Event(onset, onset + duration, kind.lower(), row.get("channels", NA), confidence)
    return event, rec_duration


def _strict_fields(path: Path, lineno: int, row: dict[str, str]) -> None:
    conf = row["confidence"]
    if conf != NA:
        c = _number(path, lineno, "confidence", conf)
        if not 0.0 <= c <= 1.0:
            raise AnnotationError(f"{path}:{lineno}: confidence {conf} lies outside [0, 1]; use a probability or n/a")
    if not row["channels"]:
        raise AnnotationError(f"{path}:{lineno}: channels is empty; write n/a when no channel is given")
    try:
        dt.datetime.strptime(row["dateTime"], DATETIME_FORMAT)
    except ValueError:
        raise AnnotationError(
            f"{path}:{lineno}: dateTime '{row['dateTime']}' is not in the format YYYY-MM-DD HH:MM:SS"
        ) from None


def _check_whole(path: Path, ann: Annotation, durations: set[float], n_rows: int) -> None:
    if n_rows == 0:
        raise AnnotationError(f"{path}: no row; a recording without seizure has one bckg row covering it")
    if len(durations) != 1:
        raise AnnotationError(f"{path}: rows disagree on recordingDuration ({sorted(durations)}); one value expected")
    total = next(iter(durations))
    bckg = [e for e in ann.events if e.label == "bckg"]
    if bckg and (n_rows != 1 or abs(bckg[0].start) > _TOL or abs(bckg[0].stop - total) > _TOL):
        raise AnnotationError(
            f"{path}: a bckg row must be the only row and cover the recording "
            f"(onset 0, duration {format_seconds(total)})"
        )
    previous = None
    for e in ann.events:
        if e.stop > total + _TOL:
            raise AnnotationError(
                f"{path}: event {e.start:g}+{e.stop - e.start:g} s ends after recordingDuration {total:g}"
            )
        if previous is not None and e.start < previous.stop - _TOL:
            raise AnnotationError(
                f"{path}: events at {previous.start:g} s and {e.start:g} s overlap or are out of order"
            )
        previous = e
