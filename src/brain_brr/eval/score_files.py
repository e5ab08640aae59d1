"""``brain-brr score``: hypothesis annotation files against references, every scorer, pooled and per subject.

Both folders are searched recursively for ``.csv_bi`` (NEDC term files) and SzCORE
``.tsv`` files (a TSV counts when its first line is the SzCORE header, so a BIDS
dataset's ``participants.tsv`` or ``_channels.tsv`` are passed over). A file's
*recording* is its name without the extension and without a BIDS ``_events``/``_eeg``
suffix, so ``sub-01_ses-01_task-szMonitoring_run-01_events.tsv`` (a BIDS reference) and
``sub-01_ses-01_task-szMonitoring_run-01_eeg.tsv`` (what ``predict`` wrote for its EDF)
are one recording. When a folder holds both forms of one recording (``predict`` writes
both), the ``.csv_bi`` is read. The *subject* is the BIDS ``sub-<id>`` of the name, else
the part before the first underscore (the TUSZ patient of ``<patient>_<session>_<token>``).

NEDC scores rows as its loader reads them (sorted by start, gaps filled with background,
touching rows of one label joined); SzCORE scores the 1 Hz masks of the seizure rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

from brain_brr.atomic import write_json_atomic
from brain_brr.data.annotations import Annotation, is_seizure_label, read_csv_bi
from brain_brr.data.events_tsv import is_events_tsv, read_events_tsv
from brain_brr.errors import InputError
from brain_brr.eval.breakdown import UNTYPED, latency_table, type_table, typed_seizures_of, types_of
from brain_brr.eval.scoring import RecordingScore, format_table, score_recording, summarise_scores

DURATION_TOL_S = 0.01
GENERIC_TYPES = frozenset({"seiz", "sz", UNTYPED})  # labels that say "seizure" and nothing of its type


def seizure_events(ann: Annotation) -> list[tuple[float, float]]:
    """Seizure rows as written, one event each, sorted by start."""
    return sorted((e.start, e.stop) for e in ann.events if e.is_seizure)


def nedc_seizures(ann: Annotation, duration: float) -> list[tuple[float, float]]:
    """Seizure events as NEDC v6's loader sees them: rows sorted by start, gaps filled with
    background (times rounded to 4 decimals), consecutive rows of one label joined."""
    rows = sorted(((e.start, e.stop, e.label) for e in ann.events), key=lambda r: r[0])
    filled: list[tuple[float, float, str]] = []
    t = 0.0
    for s, e, label in rows:
        if round(s, 4) != t:
            filled.append((t, round(s, 4), "bckg"))
        filled.append((s, e, label))
        t = round(e, 4)
    if t != round(duration, 4):
        filled.append((t, round(duration, 4), "bckg"))
    joined: list[tuple[float, float, str]] = []
    for s, e, label in filled:
        if joined and joined[-1][2] == label:
            joined[-1] = (joined[-1][0], e, label)
        else:
            joined.append((s, e, label))
    return [(s, e) for s, e, label in joined if is_seizure_label(label)]


def recording_key(path: Path) -> str:
    stem = path.name[: -len(path.suffix)]
    for suffix in ("_events", "_eeg"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def subject_of(recording: str) -> str:
    """``sub-01`` of a BIDS name, else the TUSZ patient (the part before the first underscore)."""
    return recording.split("_")[0]


def annotation_files(folder: Path, role: str) -> dict[str, Path]:
    """Recording -> annotation file under ``folder`` (recursive); ``.csv_bi`` wins over ``.tsv`` of one folder."""
    if not folder.is_dir():
        raise InputError(f"--{role} {folder}: not a directory; pass the folder holding the {role} annotation files")
    found: dict[str, Path] = {}
    problems = []
    paths = sorted(folder.rglob("*.csv_bi")) + sorted(p for p in folder.rglob("*.tsv") if is_events_tsv(p))
    for p in paths:
        key = recording_key(p)
        if key not in found:
            found[key] = p
        elif not (found[key].parent == p.parent and found[key].suffix == ".csv_bi"):
            problems.append(f"--{role} {folder}: recording {key} has two annotation files: {found[key]} and {p}")
    if problems:
        raise InputError(problems)
    if not found:
        raise InputError(f"--{role} {folder}: no .csv_bi or SzCORE .tsv annotation file in it or below it")
    return found


def read_annotation(path: Path) -> Annotation:
    return read_csv_bi(path) if path.suffix == ".csv_bi" else read_events_tsv(path)


def _duration(ref_path: Path, ref: Annotation, hyp_path: Path, hyp: Annotation) -> float:
    duration = ref.duration if ref.duration is not None else hyp.duration
    if duration is None:
        raise InputError(
            f"{ref_path}: no duration ('# duration = ... secs' or recordingDuration), nor in {hyp_path}; "
            "FA/24h needs each recording's duration"
        )
    if ref.duration is not None and hyp.duration is not None and abs(ref.duration - hyp.duration) > DURATION_TOL_S:
        print(
            f"WARNING: {hyp_path}: duration {hyp.duration:g} s differs from the reference's {ref.duration:g} s "
            f"({ref_path}); scored over the reference's (SzCORE would score this hypothesis as empty)",
            file=sys.stderr,
            flush=True,
        )
    return duration


def score_dirs(ref_dir: Path, hyp_dir: Path) -> tuple[dict, list[tuple[str, RecordingScore]]]:
    refs, hyps = annotation_files(ref_dir, "ref"), annotation_files(hyp_dir, "hyp")
    problems = []
    if only_ref := sorted(set(refs) - set(hyps)):
        problems.append(
            f"{hyp_dir}: no hypothesis file for {len(only_ref)} reference recording(s): {', '.join(only_ref)}"
        )
    if only_hyp := sorted(set(hyps) - set(refs)):
        problems.append(
            f"{ref_dir}: no reference file for {len(only_hyp)} hypothesis recording(s): {', '.join(only_hyp)}"
        )
    if problems:
        raise InputError(problems)
    rows, events = [], []
    for key in sorted(refs):
        ref, hyp = read_annotation(refs[key]), read_annotation(hyps[key])
        duration = _duration(refs[key], ref, hyps[key], hyp)
        nedc = (nedc_seizures(ref, duration), nedc_seizures(hyp, duration))
        r, h = seizure_events(ref), seizure_events(hyp)
        rows.append((key, score_recording(r, h, duration, nedc=nedc)))
        events.append((r, types_of(r, typed_seizures_of(refs[key], ref)), h, duration))
    subjects = [subject_of(k) for k, _ in rows]
    return {**summarise_scores([s for _, s in rows], subjects), **breakdown(events, subjects)}, rows


def breakdown(events: list[tuple[list, list[str], list, float]], subjects: list[str]) -> dict:
    """Onset latency, and sensitivity per seizure type when the references carry types (not only seiz/sz)."""
    refs, types, hyps, durations = (list(x) for x in zip(*events))
    latency = latency_table(refs, hyps, subjects)
    latency.pop("delays_s")
    out = {"latency": latency}
    if any(t not in GENERIC_TYPES for ts in types for t in ts):
        out["seizure_types"] = type_table(refs, types, hyps, durations)
    return out


def score_json(summary: dict) -> dict:
    """The ``szcore``/``ovlp``/``taes``/``scores`` blocks of ``metrics/eval.json`` plus the event counts."""
    counts = summary["counts"]
    keys = ("recordings", "subjects", "targets", "hits", "misses", "false_alarms", "duration_s")
    extra = {k: summary[k] for k in ("latency", "seizure_types") if k in summary}
    return {k: summary[k] for k in ("szcore", "ovlp", "taes", "scores")} | {k: counts[k] for k in keys} | extra


def format_report(summary: dict, rows: list[tuple[str, RecordingScore]]) -> str:
    lines = [f"{'recording':<40} {'dur_s':>9} {'targets':>7} {'hits':>5} {'miss':>5} {'FA':>4} {'TAES hit':>8}"]
    for key, s in rows:
        lines.append(
            f"{key:<40} {s.duration_s:>9.1f} {s.targets:>7d} {s.hits:>5d} {s.misses:>5d} {s.false_alarms:>4d} "
            f"{s.taes_hit:>8.2f}"
        )
    c, o, t = summary["counts"], summary["ovlp"], summary["taes"]
    lines += [
        "",
        f"OVLP (NEDC v6.0.0): targets {c['targets']}  hits {c['hits']} "
        f" misses {c['misses']}  false alarms {c['false_alarms']}",
        f"  sensitivity {100 * o['sensitivity']:.4f}%   false alarm rate "
        f"{o['fa_per_24h']:.4f} per 24 h   (total duration {c['duration_s']:.1f} s)",
        f"TAES (NEDC v6.0.0): hits {c['taes_hits']:.2f}  misses {c['taes_misses']:.2f}  "
        f"false alarms {c['taes_false_alarms']:.2f}",
        f"  sensitivity {100 * t['sensitivity']:.4f}%   false alarm rate {t['fa_per_24h']:.4f} per 24 h",
        "",
        f"Scores ({c['recordings']} recordings, {c['subjects']} subjects):",
        format_table(summary["scores"]),
        *breakdown_lines(summary),
    ]
    return "\n".join(lines)


def breakdown_lines(summary: dict) -> list[str]:
    lat = summary["latency"]["pooled"]
    head = f"Onset latency of {lat['n']} detected seizure(s): median {_s(lat['median_s'])}, p90 {_s(lat['p90_s'])}"
    lines = ["", head]
    for label, t in summary.get("seizure_types", {}).items():
        lines.append(
            f"  type {label:<12} seizures {t['n_ref']:>4}  OVLP sensitivity {_s(t['ovlp_sensitivity'], '')}"
            f"  SzCORE event sensitivity {_s(t['szcore_sensitivity'], '')}"
        )
    return lines


def _s(value: float | None, unit: str = " s") -> str:
    return "n/a" if value is None else f"{value:.3f}{unit}"


def run_score(ref_dir: Path, hyp_dir: Path, json_path: Path | None) -> int:
    summary, rows = score_dirs(Path(ref_dir), Path(hyp_dir))
    print(format_report(summary, rows))
    if json_path is not None:
        try:
            write_json_atomic(json_path, score_json(summary))
        except OSError as exc:
            raise InputError(
                f"{json_path}: cannot write the scores ({exc.strerror}); choose a writable --json path"
            ) from None
        print(f"Scores written to {json_path}")
    return 0
