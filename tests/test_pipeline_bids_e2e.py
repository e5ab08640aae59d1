"""End to end on a BIDS dataset: `dvc repro` with `synth.format: bids` in a temporary git + DVC repository.

The synth stage writes the corpus as SzCORE distributes corpora (sub-*/ses-*/eeg/*_eeg.edf with
_events.tsv), ingest detects the layout and splits the subjects, and the trained detector then
annotates a recording through the SzCORE entry point, scored against the dataset's own TSVs.

The corpus and the training are tiny so that the whole pipeline runs in seconds; a detector trained
for a few steps on 6 minutes of EEG may well collapse, so the model-quality red flags run without
stopping (``guards.strict: false``) and only the data-side ones are required to stay silent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from brain_brr.data.edf import edf_info
from brain_brr.data.events_tsv import read_events_tsv
from tests.pipeline_project import _run, build_project

pytestmark = pytest.mark.slow

TINY_BIDS = {
    "synth": {"patients": 3, "minutes": 2, "seed": 1, "format": "bids"},
    "train": {"epochs": 1, "steps_per_epoch": 4, "batch_size": 8, "warmup_steps": 2, "max_val_windows": 30},
    "model": {"width": 8, "depth": 1},
    "data": {"workers": 1},
    "eval": {"plot_recordings": 1},
    "guards": {"strict": False},
}


@pytest.fixture(scope="module")
def bids_project(tmp_path_factory, mlflow_template) -> Path:
    root = tmp_path_factory.mktemp("bids-project")
    build_project(root, mlflow_template, TINY_BIDS)
    return root


def test_repro_on_a_bids_dataset(bids_project):
    root = bids_project
    log = (root / "repro.log").read_text()
    assert "(bids)" in log
    assert any((root / "data" / "synth").glob("sub-*/ses-*/eeg/*_eeg.edf")) and not (root / "data/synth/edf").exists()
    stats = json.loads((root / "metrics" / "stats.json").read_text())
    report = json.loads((root / "reports" / "ingest_report.json").read_text())
    n_edf = len(list((root / "data" / "synth").glob("sub-*/ses-*/eeg/*_eeg.edf")))
    assert stats["red_flags"] == [] and report["skipped"] == [] and report["ingested"] == n_edf
    assert all(stats[s]["n_recordings"] > 0 and stats[s]["seizure_ratio"] > 0 for s in ("train", "dev", "eval"))
    recordings = pd.read_parquet(root / "data" / "processed" / "recordings.parquet")
    assert (
        recordings["patient"].str.startswith("sub-").all()
        and recordings.groupby("patient")["split"].nunique().max() == 1
    )
    ev = json.loads((root / "metrics" / "eval.json").read_text())
    assert set(ev) >= {"auroc", "sens_at_fa", "szcore", "ovlp", "taes", "scores", "operating_points", "red_flags"}
    assert list(ev["operating_points"]) == ["10", "2.5", "1"]
    subjects = pd.read_csv(root / "reports" / "eval" / "subjects.csv")
    assert subjects["subject"].str.startswith("sub-").all()
    thresholds = json.loads((root / "models" / "detector" / "thresholds.json").read_text())
    assert thresholds["tau_on"] == thresholds["operating_points"]["10"]["tau_on"]


def test_entry_point_annotates_a_dataset_recording_and_score_reads_the_dataset(bids_project, tmp_path):
    root = bids_project
    edf = sorted((root / "data" / "synth").glob("sub-*/ses-*/eeg/*_eeg.edf"))[0]
    out = tmp_path / "hyp" / f"{edf.stem}.tsv"
    env = {**os.environ, "BRAIN_BRR_MODEL": str(root / "models" / "detector")}
    proc = subprocess.run(
        [sys.executable, "-m", "brain_brr.szcore", str(edf), str(out)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    ann = read_events_tsv(out, strict=True)
    assert ann.duration == edf_info(edf).duration_s
    ref = tmp_path / "ref"
    events_tsv = edf.with_name(edf.name.replace("_eeg.edf", "_events.tsv"))
    (ref / edf.parent.relative_to(root / "data" / "synth")).mkdir(parents=True)
    shutil.copy(events_tsv, ref / edf.parent.relative_to(root / "data" / "synth") / events_tsv.name)
    proc = _run([sys.executable, "-m", "brain_brr", "score", "--ref", str(ref), "--hyp", str(tmp_path / "hyp")], root)
    assert "SzCORE event" in proc.stdout and "(1 recordings, 1 subjects)" in proc.stdout
