"""`brain-brr synth --format bids`: the planned recordings as SzCORE distributes corpora."""

from __future__ import annotations

import json

import mne
import numpy as np
import pytest

from brain_brr.cli import main
from brain_brr.config import SynthConfig
from brain_brr.data.events_tsv import read_events_tsv
from brain_brr.synth import plan_corpus, run_synth
from brain_brr.synth.bids import BidsNames

SZCORE_CHANNELS = [
    "Fp1",
    "F3",
    "C3",
    "P3",
    "O1",
    "F7",
    "T3",
    "T5",
    "Fz",
    "Cz",
    "Pz",
    "Fp2",
    "F4",
    "C4",
    "P4",
    "O2",
    "F8",
    "T4",
    "T6",
]
CFG = {"patients": 4, "minutes": 3, "seed": 2}


@pytest.fixture(scope="module")
def bids(tmp_path_factory):
    root = tmp_path_factory.mktemp("bids")
    run_synth(root, SynthConfig(**CFG, format="bids"))
    return root


def test_layout_and_dataset_files(bids):
    recs = plan_corpus(CFG["patients"], CFG["minutes"], CFG["seed"], 0.08)
    names = BidsNames(recs)
    edfs = sorted(bids.glob("sub-*/ses-*/eeg/*_eeg.edf"))
    assert sorted(bids / names.rel_path(r) for r in recs) == edfs
    for edf in edfs:
        assert edf.with_suffix(".json").is_file()
        assert edf.with_name(edf.name.replace("_eeg.edf", "_events.tsv")).is_file()
    description = json.loads((bids / "dataset_description.json").read_text())
    assert description["BIDSVersion"] and description["DatasetType"] == "raw"
    rows = [ln.split("\t") for ln in (bids / "participants.tsv").read_text().splitlines()]
    assert rows[0] == ["participant_id", "synth_id", "split"]
    planned = {r.patient: r.split for r in recs}
    assert {sid: split for _, sid, split in rows[1:]} == planned
    assert not (bids / "edf").exists()


def test_signals_are_19_avg_channels_at_256_hz(bids):
    rec = next(r for r in plan_corpus(CFG["patients"], CFG["minutes"], CFG["seed"], 0.08) if r.fs != 256)
    edf = bids / BidsNames(plan_corpus(CFG["patients"], CFG["minutes"], CFG["seed"], 0.08)).rel_path(rec)
    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
    assert raw.ch_names == [f"{c}-Avg" for c in SZCORE_CHANNELS]
    assert raw.info["sfreq"] == 256 and raw.n_times == rec.duration * 256
    x = raw.get_data()
    assert np.abs(x.sum(axis=0)).max() < 1e-3 * np.abs(x).max() * 19  # common average: channels sum to ~0


def test_events_follow_the_plan_and_pass_the_strict_parser(bids):
    recs = plan_corpus(CFG["patients"], CFG["minutes"], CFG["seed"], 0.08)
    names = BidsNames(recs)
    n_seizures = 0
    for rec in recs:
        edf = bids / names.rel_path(rec)
        ann = read_events_tsv(edf.with_name(edf.name.replace("_eeg.edf", "_events.tsv")), strict=True)
        assert ann.duration == rec.duration
        seizures = [(e.start, e.stop, e.label) for e in ann.events if e.is_seizure]
        got = [t for s, e, _ in seizures for t in (s, e)]
        assert got == pytest.approx([t for s in rec.seizures for t in (s.onset, s.stop)], abs=1e-6)
        assert all(label.startswith("sz") for _, _, label in seizures)
        n_seizures += len(seizures)
    assert n_seizures > 0


def test_switching_format_replaces_the_corpus(tmp_path, capsys):
    out = tmp_path / "corpus"
    args = ["synth", str(out), "--patients", "3", "--minutes", "1"]
    assert main([*args, "--format", "bids"]) == 0
    assert "(bids)" in capsys.readouterr().out
    assert any(out.glob("sub-*")) and not (out / "edf").exists()
    assert main(args) == 0
    assert (out / "edf").is_dir() and not any(out.glob("sub-*")) and not (out / "participants.tsv").exists()
    assert json.loads((out / "SYNTH_INFO.json").read_text())["settings"]["format"] == "tusz"
