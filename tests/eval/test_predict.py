"""`brain-brr predict` on a real EDF (400 Hz, -LE channel names) and `brain-brr score` on its output."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from brain_brr.data.annotations import read_csv_bi, write_csv_bi
from brain_brr.data.channels import CHANNELS
from brain_brr.data.events_tsv import read_events_tsv
from brain_brr.eval.postprocess import events_for
from brain_brr.eval.score_files import seizure_events
from brain_brr.eval.scoring import score_recording, summarise_scores
from brain_brr.synth.edfwrite import write_edf
from brain_brr.train.model import save_detector
from tests.eval.helpers import model_config, seizure_rhythm

THRESHOLDS = {"tau_on": 0.5, "tau_off": 0.3, "min_duration_s": 5.0, "merge_gap_s": 5.0, "max_duration_s": 600.0}
SEIZURE = (50.0, 90.0)


def _edf_400hz_le(path, duration=150.0, fs=400):
    rng = np.random.default_rng(3)
    t = np.arange(int(duration * fs)) / fs
    m = (t >= SEIZURE[0]) & (t < SEIZURE[1])
    signals = []
    for k, _ in enumerate(CHANNELS):
        x = rng.normal(0, 20.0, t.size)
        x[m] = 2.5 * x[m] + seizure_rhythm(t[m], k, 60.0)
        signals.append(x)
    labels = [f"EEG {ch}-LE" for ch in CHANNELS]
    write_edf(path, signals, labels, [fs] * len(CHANNELS))


def _cli(*args):
    """``brain-brr ARGS`` as a command (a second interpreter)."""
    return subprocess.run([sys.executable, "-m", "brain_brr", *args], capture_output=True, text=True)


@pytest.fixture
def cli_here(capfd):
    """``brain-brr ARGS`` run in this process (``brain_brr.cli.main``): the command's code without another
    interpreter's start-up; ``test_predict_then_score`` runs the real command."""
    from brain_brr.cli import main

    def run(*args):
        capfd.readouterr()
        code = main([str(a) for a in args])
        out = capfd.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return run


def test_predict_then_score(eval_assets, tmp_path):
    _, params, model = eval_assets
    model_dir = tmp_path / "model"
    save_detector(model_dir, model, model_config(params, THRESHOLDS))
    edf_dir = tmp_path / "edf" / "p1"
    edf_dir.mkdir(parents=True)
    edf = edf_dir / "aaaa_s001_t000.edf"
    _edf_400hz_le(edf)
    (edf_dir / "broken_s001_t000.edf").write_bytes(b"not an EDF at all")
    out = tmp_path / "out"

    proc = _cli("predict", "--model", str(model_dir), str(tmp_path / "edf"), "--out", str(out))
    assert proc.returncode == 2  # one bad file
    assert "broken_s001_t000.edf" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "aaaa_s001_t000.edf: " in proc.stdout

    hyp = read_csv_bi(out / "aaaa_s001_t000.csv_bi")
    assert hyp.duration == pytest.approx(150.0)
    probs = pd.read_parquet(out / "aaaa_s001_t000.probs.parquet")
    assert list(probs.columns) == ["time_s", "prob"] and len(probs) == 150
    assert probs["time_s"].iloc[1] == 1.0 and probs["prob"].between(0, 1).all()
    events = events_for(probs["prob"].to_numpy(), 1, THRESHOLDS)
    np.testing.assert_allclose(np.array(seizure_events(hyp)).ravel(), np.array(events).ravel(), atol=1e-4)
    assert not (out / "broken_s001_t000.csv_bi").exists()
    tsv = read_events_tsv(out / "aaaa_s001_t000.tsv", strict=True)  # the SzCORE annotation beside it
    assert tsv.duration == 150.0
    tsv_events = [(e.start, e.stop) for e in tsv.events if e.is_seizure]
    np.testing.assert_allclose(np.array(tsv_events).ravel(), np.array(events).ravel(), atol=1e-6)
    assert (out / "aaaa_s001_t000.tsv").read_text().splitlines()[1].split("\t")[5] == "2020-01-01 00:00:00"

    ref_dir = tmp_path / "ref"
    write_csv_bi(ref_dir / "aaaa_s001_t000.csv_bi", [SEIZURE], 150.0, with_bckg=False)
    proc = _cli("score", "--ref", str(ref_dir), "--hyp", str(out), "--json", str(tmp_path / "s.json"))
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    expected = summarise_scores([score_recording([SEIZURE], events, 150.0)])  # what the evaluate stage computes
    assert s["ovlp"] == pytest.approx(expected["ovlp"]) and s["szcore"] == pytest.approx(expected["szcore"])
    assert (s["targets"], s["hits"], s["false_alarms"]) == (
        1,
        expected["counts"]["hits"],
        expected["counts"]["false_alarms"],
    )
    assert s["hits"] == 1  # the 400 Hz, -LE recording went through the same preprocessing as training data


def test_predict_reports_missing_inputs(eval_assets, tmp_path, cli_here):
    _, params, model = eval_assets
    save_detector(tmp_path / "model", model, model_config(params, THRESHOLDS))
    proc = cli_here(
        "predict", "--model", str(tmp_path / "model"), str(tmp_path / "nowhere.edf"), "--out", str(tmp_path / "o")
    )
    assert proc.returncode == 2 and "nowhere.edf: no such file or folder" in proc.stderr
    proc = cli_here("predict", "--model", str(tmp_path / "no_model"), str(tmp_path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "config.json" in proc.stderr


def test_predict_writes_background_for_a_recording_too_short_to_filter(eval_assets, tmp_path, cli_here):
    _, params, model = eval_assets
    model_dir = tmp_path / "model"
    save_detector(model_dir, model, model_config(params, THRESHOLDS))
    edf = tmp_path / "short_s001_t000.edf"
    _edf_400hz_le(edf, duration=3.0)
    proc = cli_here("predict", "--model", str(model_dir), str(edf), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "3 s long" in proc.stdout
    assert seizure_events(read_csv_bi(tmp_path / "out" / "short_s001_t000.csv_bi")) == []
    ann = read_events_tsv(tmp_path / "out" / "short_s001_t000.tsv", strict=True)
    assert ann.duration == 3.0 and [e.label for e in ann.events] == ["bckg"]
    assert len(pd.read_parquet(tmp_path / "out" / "short_s001_t000.probs.parquet")) == 0


BIDS_REC = "sub-01/ses-01/eeg/sub-01_ses-01_task-szMonitoring_run-00"


def _bids_dataset(root):
    """One recording in a BIDS dataset, its reference ``_events.tsv`` beside the EDF; and a stray EDF."""
    import datetime as dt

    from brain_brr.data.events_tsv import write_events_tsv

    (root / BIDS_REC).parent.mkdir(parents=True)
    _edf_400hz_le(root / f"{BIDS_REC}_eeg.edf")
    write_events_tsv(root / f"{BIDS_REC}_events.tsv", [SEIZURE], 150.0, dt.datetime(2020, 1, 1))
    (root / "sub-01" / "notes").mkdir()
    _edf_400hz_le(root / "sub-01" / "notes" / "loose.edf", duration=10.0)


def test_predict_mirrors_a_bids_dataset(eval_assets, tmp_path, cli_here):
    _, params, model = eval_assets
    model_dir = tmp_path / "model"
    save_detector(model_dir, model, model_config(params, THRESHOLDS))
    dataset, out = tmp_path / "ds", tmp_path / "hyp"
    _bids_dataset(dataset)

    proc = cli_here("predict", "--model", str(model_dir), str(dataset), "--out", str(out))  # auto: a BIDS dataset
    assert proc.returncode == 2 and "loose.edf: not in the BIDS layout" in proc.stderr  # the stray EDF, one line
    hyp_tsv = out / f"{BIDS_REC}_events.tsv"  # where szcore_evaluation looks for the reference's hypothesis
    probs = pd.read_parquet(out / f"{BIDS_REC}_eeg.probs.parquet")
    events = events_for(probs["prob"].to_numpy(), 1, THRESHOLDS)
    tsv = read_events_tsv(hyp_tsv, strict=True)
    assert tsv.duration == 150.0 and events
    np.testing.assert_allclose([(e.start, e.stop) for e in tsv.events if e.is_seizure], events, atol=1e-6)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        f"{BIDS_REC}_eeg.csv_bi",
        f"{BIDS_REC}_eeg.probs.parquet",
        f"{BIDS_REC}_events.tsv",
    ]
    proc = cli_here("score", "--ref", str(dataset), "--hyp", str(out), "--json", str(tmp_path / "s.json"))
    assert proc.returncode == 0, proc.stderr
    expected = summarise_scores([score_recording([SEIZURE], events, 150.0)])
    assert json.loads((tmp_path / "s.json").read_text())["szcore"] == pytest.approx(expected["szcore"])

    flat = tmp_path / "flat"
    proc = cli_here("predict", "--model", str(model_dir), str(dataset), "--out", str(flat), "--layout", "flat")
    assert proc.returncode == 0, proc.stderr
    assert (flat / "sub-01_ses-01_task-szMonitoring_run-00_eeg.tsv").is_file() and (flat / "loose.tsv").is_file()
