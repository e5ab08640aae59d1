"""``brain-brr score``: hypothesis ``.csv_bi`` files against reference ``.csv_bi`` files, matched by stem."""

from __future__ import annotations

from pathlib import Path

from brain_brr.atomic import write_json_atomic
from brain_brr.data.annotations import Annotation, read_csv_bi
from brain_brr.errors import InputError
from brain_brr.eval.scoring import RecordingScore, score_recording, summarise_scores


def seizure_events(ann: Annotation) -> list[tuple[float, float]]:
    """Seizure rows as written, one event each (NEDC scores rows, it does not merge them)."""
    return sorted((e.start, e.stop) for e in ann.events if e.is_seizure)


def _files(folder: Path, role: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise InputError(f"--{role} {folder}: not a directory; pass the folder holding the {role} .csv_bi files")
    files = {p.stem: p for p in sorted(folder.glob("*.csv_bi"))}
    if not files:
        raise InputError(f"--{role} {folder}: no .csv_bi files in it")
    return files


def score_dirs(ref_dir: Path, hyp_dir: Path) -> tuple[dict, list[tuple[str, RecordingScore]]]:
    refs, hyps = _files(ref_dir, "ref"), _files(hyp_dir, "hyp")
    problems = []
    if only_ref := sorted(set(refs) - set(hyps)):
        problems.append(f"{hyp_dir}: no hypothesis file for {len(only_ref)} reference stem(s): {', '.join(only_ref)}")
    if only_hyp := sorted(set(hyps) - set(refs)):
        problems.append(f"{ref_dir}: no reference file for {len(only_hyp)} hypothesis stem(s): {', '.join(only_hyp)}")
    if problems:
        raise InputError(problems)
    rows = []
    for stem in sorted(refs):
        ref, hyp = read_csv_bi(refs[stem]), read_csv_bi(hyps[stem])
        duration = ref.duration if ref.duration is not None else hyp.duration
        if duration is None:
            raise InputError(
                f"{refs[stem]}: no '# duration = ... secs' header (nor in "
                f"{hyps[stem]}); FA/24h needs each recording's duration"
            )
        rows.append((stem, score_recording(seizure_events(ref), seizure_events(hyp), duration)))
    return summarise_scores([s for _, s in rows]), rows


def score_json(summary: dict) -> dict:
    """The ``szcore``/``ovlp`` blocks of ``metrics/eval.json`` plus the event counts."""
    counts = summary["counts"]
    return {
        "szcore": summary["szcore"],
        "ovlp": summary["ovlp"],
        **{k: counts[k] for k in ("recordings", "targets", "hits", "misses", "false_alarms", "duration_s")},
    }


def format_table(summary: dict, rows: list[tuple[str, RecordingScore]]) -> str:
    lines = [f"{'recording':<28} {'dur_s':>9} {'targets':>7} {'hits':>5} {'miss':>5} {'FA':>4}"]
    for stem, s in rows:
        lines.append(
            f"{stem:<28} {s.duration_s:>9.1f} {s.targets:>7d} {s.hits:>5d} {s.misses:>5d} {s.false_alarms:>4d}"
        )
    c, o, z = summary["counts"], summary["ovlp"], summary["szcore"]
    lines += [
        "",
        f"OVLP (NEDC v6.0.0): targets {c['targets']}  hits {c['hits']} "
        f" misses {c['misses']}  false alarms {c['false_alarms']}",
        f"  sensitivity {100 * o['sensitivity']:.4f}%   false alarm rate "
        f"{o['fa_per_24h']:.4f} per 24 h   (total duration {c['duration_s']:.1f} s)",
        f"SzCORE (timescoring): sensitivity {100 * z['sensitivity']:.4f}%  precision {100 * z['precision']:.4f}%  "
        f"F1 {z['f1']:.4f}  FP/24h {z['fp_per_24h']:.4f}",
    ]
    return "\n".join(lines)


def run_score(ref_dir: Path, hyp_dir: Path, json_path: Path | None) -> int:
    summary, rows = score_dirs(Path(ref_dir), Path(hyp_dir))
    print(format_table(summary, rows))
    if json_path is not None:
        try:
            write_json_atomic(json_path, score_json(summary))
        except OSError as exc:
            raise InputError(
                f"{json_path}: cannot write the scores ({exc.strerror}); choose a writable --json path"
            ) from None
        print(f"Scores written to {json_path}")
    return 0
