"""The synthetic corpus written as a BIDS dataset, the way SzCORE distributes its corpora.

epilepsy2bids standardises every recording to the 19 channels of the 10-20 system in
common-average reference at 256 Hz (``Fp1-Avg`` ... ``T6-Avg``) and writes, per recording,
``sub-<id>/ses-<id>/eeg/sub-<id>_ses-<id>_task-szMonitoring_run-<id>_eeg.edf`` with its
``_eeg.json`` sidecar and ``_events.tsv``; ``participants.tsv`` at the root (for TUSZ with
the original split in a ``split`` column). This module does the same to the recordings
:func:`brain_brr.synth.plan.plan_corpus` plans and :func:`brain_brr.synth.render.render`
renders: same seizures, same durations, same subjects per split.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from brain_brr.atomic import atomic_path, write_json_atomic
from brain_brr.data.channels import CHANNELS
from brain_brr.data.events_tsv import write_events_tsv
from brain_brr.synth.edfwrite import write_edf
from brain_brr.synth.plan import Recording
from brain_brr.synth.render import render

FS = 256
TASK = "szMonitoring"
# SzCORE's channel order and spelling (10-20 names, common average).
BIDS_CHANNELS = (
    "FP1",
    "F3",
    "C3",
    "P3",
    "O1",
    "F7",
    "T3",
    "T5",
    "FZ",
    "CZ",
    "PZ",
    "FP2",
    "F4",
    "C4",
    "P4",
    "O2",
    "F8",
    "T4",
    "T6",
)
_SPELLING = {"FP1": "Fp1", "FP2": "Fp2", "FZ": "Fz", "CZ": "Cz", "PZ": "Pz"}
# TUSZ seizure types -> HED-SCORE event types (as epilepsy2bids converts TUSZ).
EVENT_TYPES = {
    "seiz": "sz",
    "fnsz": "sz_foc",
    "gnsz": "sz_gen",
    "spsz": "sz_foc_a",
    "cpsz": "sz_foc_ia",
    "absz": "sz_gen_nm",
    "tnsz": "sz_gen_m_tonic",
    "cnsz": "sz_gen_m_clonic",
    "tcsz": "sz_gen_m_tonicClonic",
    "atsz": "sz_gen_m_atonic",
    "mysz": "sz_gen_nm_myoclonic",
}
TOP_FILES = ("dataset_description.json", "participants.tsv", "participants.json", "README")


def channel_label(name: str) -> str:
    """``FP1`` -> ``Fp1-Avg``."""
    return f"{_SPELLING.get(name, name)}-Avg"


class BidsNames:
    """Subject, session and run labels of every planned recording (numbered as epilepsy2bids numbers them)."""

    def __init__(self, recs: list[Recording]):
        patients = sorted({r.patient for r in recs})
        self.subject = {p: f"{i:03d}" for i, p in enumerate(patients)}
        self.split = {self.subject[r.patient]: r.split for r in recs}
        self.synth_id = {v: k for k, v in self.subject.items()}
        sessions: dict[str, list[str]] = {}
        for r in recs:
            sessions.setdefault(r.patient, [])
            if r.session not in sessions[r.patient]:
                sessions[r.patient].append(r.session)
        self.session = {(p, s): f"{i:02d}" for p, ss in sessions.items() for i, s in enumerate(ss)}
        self.run: dict[int, str] = {}
        runs: dict[tuple[str, str], int] = {}
        for r in recs:
            k = runs[(r.patient, r.session)] = runs.get((r.patient, r.session), 0) + 1
            self.run[r.index] = f"{k:02d}"

    def rel_path(self, rec: Recording) -> Path:
        sub, ses = self.subject[rec.patient], self.session[(rec.patient, rec.session)]
        name = f"sub-{sub}_ses-{ses}_task-{TASK}_run-{self.run[rec.index]}_eeg.edf"
        return Path(f"sub-{sub}", f"ses-{ses}", "eeg", name)


def standardised(rec: Recording) -> np.ndarray:
    """(19, duration * 256) microvolts: the 10-20 electrodes, common average, at 256 Hz."""
    from scipy.signal import resample_poly

    eeg = render(rec).eeg[: len(CHANNELS)]  # the first rows of ELECTRODES are the 19 of CHANNELS
    x = eeg[[CHANNELS.index(c) for c in BIDS_CHANNELS]].astype(np.float64)
    x -= x.mean(axis=0, keepdims=True)
    if rec.fs != FS:
        x = resample_poly(x, FS, rec.fs, axis=1)
    return x[:, : rec.duration * FS]


def write_recording(root: Path, rec: Recording, names: BidsNames) -> None:
    """The EDF of one recording at its BIDS path, with its ``_eeg.json`` sidecar and ``_events.tsv``."""
    path = root / names.rel_path(rec)
    x = standardised(rec)
    write_edf(path, list(x), [channel_label(c) for c in BIDS_CHANNELS], [FS] * len(BIDS_CHANNELS), start=rec.start)
    sidecar = {
        "TaskName": TASK,
        "SamplingFrequency": FS,
        "EEGChannelCount": len(BIDS_CHANNELS),
        "EEGReference": "Avg",
        "RecordingDuration": float(rec.duration),
        "PowerLineFrequency": 60,
    }
    write_json_atomic(path.with_suffix(".json"), sidecar)
    events_tsv = path.with_name(path.stem[: -len("_eeg")] + "_events.tsv")
    write_events_tsv(
        events_tsv,
        [(s.onset, s.stop) for s in rec.seizures],
        float(rec.duration),
        rec.start,
        confidences=[1.0] * len(rec.seizures),
        event_types=[EVENT_TYPES[s.label] for s in rec.seizures],
    )


def write_dataset_files(root: Path, names: BidsNames) -> None:
    """``dataset_description.json``, ``participants.tsv`` (with each subject's split) and a README."""
    write_json_atomic(
        root / "dataset_description.json",
        {"Name": "brain-brr synthetic scalp EEG", "BIDSVersion": "1.9.0", "DatasetType": "raw", "License": "CC0"},
    )
    rows = ["participant_id\tsynth_id\tsplit"]
    rows += [f"sub-{s}\t{names.synth_id[s]}\t{names.split[s]}" for s in sorted(names.split)]
    with atomic_path(root / "participants.tsv") as tmp:
        tmp.write_text("\n".join(rows) + "\n")
    columns = {
        "synth_id": {"Description": "patient id of the same recordings in the TUSZ layout"},
        "split": {"Description": "split of the TUSZ-layout corpus (train, dev, eval)"},
    }
    write_json_atomic(root / "participants.json", columns)
    with atomic_path(root / "README") as tmp:
        tmp.write_text(
            "Synthetic scalp EEG written by `brain-brr synth --format bids`: 19 channels, common average, 256 Hz,\n"
            "seizure annotations in _events.tsv (HED-SCORE). participants.tsv keeps the split of the TUSZ-layout\n"
            "corpus of the same seed (use it with data.split.file: participants.tsv).\n"
        )


def clear(root: Path) -> None:
    """Remove a BIDS corpus written earlier (subject folders and top-level files)."""
    for p in root.glob("sub-*"):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    for name in TOP_FILES:
        (root / name).unlink(missing_ok=True)
