"""Where a corpus keeps its recordings, and the split of each: TUSZ trees and BIDS datasets.

``data.root`` is one of two layouts, told apart by :func:`detect_format` (``data.format:
auto``) or named by ``data.format: tusz | bids``:

* **TUSZ v2**: ``ROOT/edf/{train,dev,eval}/<patient>/<session>/<montage>/<patient>_<session>_<token>.edf``
  with ``.csv_bi``/``.csv`` beside each EDF; the split is the folder.
* **BIDS**, as SzCORE distributes CHB-MIT, Siena, SeizeIT and TUSZ (epilepsy2bids):
  ``ROOT/sub-<id>/[ses-<id>/]eeg/sub-<id>[_ses-<id>]_task-<task>[_run-<id>]_eeg.edf`` with
  ``..._events.tsv`` beside each EDF. There are no split folders: subjects are split
  (:func:`assign_subjects`), or taken from ``data.split.file``.

A subject is a patient: every recording of one subject lands in one split, so the splits
are patient-disjoint by construction (the ``patient_leakage`` red flag still checks).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import NamedTuple

from brain_brr.config import DataConfig, SplitConfig
from brain_brr.data.splits import SPLITS
from brain_brr.errors import InputError

TUSZ_LAYOUT = "edf/{train,dev,eval}/<patient>/<session>/<montage>/<patient>_<session>_<token>.edf"
BIDS_LAYOUT = "sub-<id>/[ses-<id>/]eeg/sub-<id>[_ses-<id>]_task-<task>[_run-<id>]_eeg.edf"
LAYOUTS = {"tusz": TUSZ_LAYOUT, "bids": BIDS_LAYOUT}
# Top-level BIDS folders that hold no raw recordings of the dataset.
BIDS_SKIP = frozenset({"derivatives", "sourcedata", "code", "stimuli"})
_LABEL = r"[A-Za-z0-9]+"
_BIDS_NAME = re.compile(rf"^(sub-{_LABEL})(?:_(ses-{_LABEL}))?(?:_[a-z]+-{_LABEL})*_eeg\.edf$")


class Found(NamedTuple):
    """One recording of the corpus: the fields of an ingest task."""

    edf: Path
    rel: str  # EDF path relative to data.root
    split: str
    patient: str
    session: str
    montage: str  # TUSZ montage folder; empty for BIDS


def stray_reason(fmt: str) -> str:
    return f"not in the {fmt.upper()} layout {LAYOUTS[fmt]} (or not a lower-case .edf)"


def _is_bids(root: Path) -> bool:
    if (root / "dataset_description.json").is_file():
        return True
    return any(p.is_dir() and p.name.startswith("sub-") for p in root.iterdir())


def detect_format(root: Path, fmt: str = "auto") -> str:
    """``tusz`` or ``bids``: ``fmt`` when given, else what ``root`` holds; a clear error when it is unclear."""
    if not root.is_dir():
        raise InputError(
            f"data.root {root} does not exist; point data.root in params.yaml at a TUSZ tree "
            f"(ROOT/{TUSZ_LAYOUT}) or a BIDS dataset (ROOT/{BIDS_LAYOUT})"
        )
    if fmt != "auto":
        return fmt
    tusz, bids = (root / "edf").is_dir(), _is_bids(root)
    if tusz and bids:
        raise InputError(
            f"data.root {root} holds both a TUSZ edf/ folder and BIDS sub-*/ folders; "
            "set data.format to tusz or bids in params.yaml"
        )
    if not (tusz or bids):
        raise InputError(
            f"data.root {root} is neither a TUSZ tree (ROOT/{TUSZ_LAYOUT}) nor a BIDS dataset "
            f"(ROOT/{BIDS_LAYOUT}); point data.root at one, or set data.format"
        )
    return "tusz" if tusz else "bids"


def _edfs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".edf" and p.is_file())


def discover_tusz(root: Path) -> tuple[list[Found], list[str]]:
    """Every EDF of a TUSZ tree, sorted by path, and the EDFs found outside the layout."""
    found, stray = [], []
    for edf in _edfs(root / "edf"):
        parts = edf.relative_to(root / "edf").parts
        if len(parts) == 5 and parts[0] in SPLITS and edf.suffix == ".edf":
            split, patient, session, montage, _ = parts
            found.append(Found(edf, edf.relative_to(root).as_posix(), split, patient, session, montage))
        else:
            stray.append(edf.relative_to(root).as_posix())
    if not found:
        raise InputError(f"data.root {root} holds no EDF in the expected layout ROOT/{TUSZ_LAYOUT}")
    return found, stray


def bids_entities(rel: Path) -> tuple[str, str] | None:
    """``(subject, session)`` of an EDF path relative to the dataset root, or ``None`` outside the layout."""
    parts = rel.parts
    m = _BIDS_NAME.match(parts[-1])
    if m is None or not parts[0].startswith("sub-") or m.group(1) != parts[0]:
        return None
    subject, session = m.group(1), m.group(2) or ""
    folders = parts[1:-1]
    if folders == ("eeg",) and not session:
        return subject, ""
    if len(folders) == 2 and folders[1] == "eeg" and folders[0] == session:
        return subject, session
    return None


def _bids_recordings(root: Path) -> tuple[list[tuple[Path, str, str]], list[str]]:
    recs, stray = [], []
    for edf in _edfs(root):
        rel = edf.relative_to(root)
        if rel.parts[0] in BIDS_SKIP or rel.parts[0].startswith("."):
            continue
        ent = bids_entities(rel) if edf.suffix == ".edf" else None
        if ent is None:
            stray.append(rel.as_posix())
        else:
            recs.append((edf, *ent))
    return recs, stray


def _has_seizure(edf: Path) -> bool:
    from brain_brr.data.annotations import AnnotationError, annotation_for

    try:
        return any(e.is_seizure for e in annotation_for(edf).events)
    except AnnotationError:  # ingest reports the broken annotation; for the split it counts as seizure-free
        return False


def discover_bids(root: Path, split: SplitConfig) -> tuple[list[Found], list[str]]:
    """Every EDF of a BIDS dataset with its subject's split, sorted by path, and the EDFs outside the layout."""
    recs, stray = _bids_recordings(root)
    if not recs:
        raise InputError(f"data.root {root} holds no EDF in the BIDS layout ROOT/{BIDS_LAYOUT}")
    subjects = sorted({s for _, s, _ in recs})
    if split.file:
        splits = read_split_file(resolve_split_file(root, split.file), subjects)
    else:
        seizures = dict.fromkeys(subjects, False)
        for edf, subject, _ in recs:
            seizures[subject] = seizures[subject] or _has_seizure(edf)
        splits = assign_subjects(seizures, split.dev_fraction, split.eval_fraction, split.seed)
    found = [Found(edf, edf.relative_to(root).as_posix(), splits[s], s, ses, "") for edf, s, ses in recs]
    return found, stray


def discover(root: Path, cfg: DataConfig) -> tuple[list[Found], list[str], str]:
    """The recordings of ``root`` in its layout, the EDFs outside it, and the layout (``tusz`` or ``bids``)."""
    fmt = detect_format(root, cfg.format)
    found, stray = discover_tusz(root) if fmt == "tusz" else discover_bids(root, cfg.split)
    return found, stray, fmt


# --------------------------------------------------------------------------- subject splits


def _rank(seed: int, subject: str) -> str:
    """A subject's place in the shuffled order: stable when subjects are added or removed."""
    return hashlib.sha256(f"{seed}:{subject}".encode()).hexdigest()


def _quota(k: int, dev_fraction: float, eval_fraction: float, keep_each: bool) -> tuple[int, int]:
    """(n_dev, n_eval) of ``k`` subjects; with ``keep_each`` every split keeps one when ``k >= 3``."""
    n_dev, n_eval = int(k * dev_fraction + 0.5), int(k * eval_fraction + 0.5)
    if keep_each and k >= 3:
        n_dev, n_eval = max(1, n_dev), max(1, n_eval)
    while n_dev + n_eval > (k - 1 if keep_each and k >= 1 else k):
        if n_dev >= n_eval:
            n_dev -= 1
        else:
            n_eval -= 1
    return n_dev, n_eval


def assign_subjects(
    has_seizure: dict[str, bool], dev_fraction: float, eval_fraction: float, seed: int
) -> dict[str, str]:
    """Subject -> split, deterministic in ``seed``.

    Subjects with a seizure and subjects without are split separately in the proportions
    asked (rounded), so each split holds seizures when at least three subjects have one;
    within each group the order is a hash of seed and subject, so adding a subject moves
    at most a few others. A split left empty takes the last seizure-free train subject.
    """
    if len(has_seizure) < 3:
        raise InputError(
            f"the BIDS dataset has {len(has_seizure)} subject(s); splitting by subject needs at least 3 "
            "(one per split: train, dev, eval)"
        )
    out: dict[str, str] = {}
    for group in (True, False):
        members = sorted((s for s, h in has_seizure.items() if h is group), key=lambda s: _rank(seed, s))
        n_dev, n_eval = _quota(len(members), dev_fraction, eval_fraction, keep_each=group)
        for i, s in enumerate(members):
            out[s] = "eval" if i < n_eval else "dev" if i < n_eval + n_dev else "train"
    for split in ("eval", "dev"):
        if split not in out.values():
            train = [s for s in sorted(out, key=lambda s: (has_seizure[s], _rank(seed, s))) if out[s] == "train"]
            out[train[0]] = split
    return dict(sorted(out.items()))


def resolve_split_file(root: Path, file: str) -> Path:
    """``data.split.file``: absolute, or relative to ``data.root`` (inside the dataset, DVC sees it change)."""
    p = Path(file)
    return p if p.is_absolute() else root / p


def read_split_file(path: Path, subjects: list[str]) -> dict[str, str]:
    """Subject -> split from a TSV with ``participant_id`` and ``split`` columns (BIDS participants.tsv style)."""
    if not path.is_file():
        raise InputError(
            f"data.split.file {path}: not found; give a TSV with participant_id and split columns, or null"
        )
    lines = [ln.rstrip("\r") for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    header = lines[0].split("\t") if lines else []
    if "participant_id" not in header or "split" not in header:
        raise InputError(f"{path}:1: header must name the columns participant_id and split (tab-separated)")
    i_sub, i_split = header.index("participant_id"), header.index("split")
    out: dict[str, str] = {}
    problems = []
    for lineno, line in enumerate(lines[1:], 2):
        fields = line.split("\t")
        if len(fields) <= max(i_sub, i_split):
            problems.append(f"{path}:{lineno}: {len(fields)} field(s), the header has {len(header)}")
            continue
        subject = fields[i_sub].strip()
        subject = subject if subject.startswith("sub-") else f"sub-{subject}"
        split = fields[i_split].strip()
        if split not in SPLITS:
            problems.append(f"{path}:{lineno}: split '{split}' for {subject}; allowed: {', '.join(SPLITS)}")
        elif out.setdefault(subject, split) != split:
            problems.append(f"{path}:{lineno}: {subject} listed in {out[subject]} and {split}")
    missing = [s for s in subjects if s not in out]
    if missing:
        shown = ", ".join(missing[:10]) + (", ..." if len(missing) > 10 else "")
        problems.append(f"{path}: no split for {len(missing)} subject(s) of the dataset: {shown}")
    if problems:
        raise InputError(problems)
    return {s: out[s] for s in subjects}
