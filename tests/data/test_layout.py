"""Corpus layouts: TUSZ or BIDS told apart, BIDS names parsed, subjects split, and the same statistics either way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brain_brr.config import SynthConfig, parse_params
from brain_brr.data.channels import canonical_channel
from brain_brr.data.layout import assign_subjects, bids_entities, detect_format, discover, read_split_file
from brain_brr.errors import InputError, RedFlagStop
from brain_brr.synth import run_synth
from tests.conftest import run_stage


def _params(tmp_path: Path, root: Path, max_skipped: float = 0.1, **data) -> object:
    cfg = {"root": str(root), "processed": str(tmp_path / "processed"), "workers": 1, **data}
    return parse_params({"data": cfg, "guards": {"max_skipped_fraction": max_skipped}})


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> tuple[Path, Path]:
    """The same small synthetic corpus written in both layouts."""
    base = tmp_path_factory.mktemp("corpora")
    cfg = {"patients": 5, "minutes": 4, "seed": 3}
    run_synth(base / "tusz", SynthConfig(**cfg))
    run_synth(base / "bids", SynthConfig(**cfg, format="bids"))
    return base / "tusz", base / "bids"


def test_detect_format(tmp_path, corpora):
    tusz, bids = corpora
    assert detect_format(tusz) == "tusz" and detect_format(bids) == "bids"
    assert detect_format(bids, "tusz") == "tusz"  # data.format overrides
    with pytest.raises(InputError, match="neither a TUSZ tree .* nor a BIDS dataset"):
        detect_format(tmp_path)
    (tmp_path / "edf").mkdir()
    (tmp_path / "sub-01").mkdir()
    with pytest.raises(InputError, match="set data.format to tusz or bids"):
        detect_format(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        detect_format(tmp_path / "nope")


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("sub-01/ses-01/eeg/sub-01_ses-01_task-szMonitoring_run-01_eeg.edf", ("sub-01", "ses-01")),
        ("sub-01/eeg/sub-01_task-szMonitoring_eeg.edf", ("sub-01", "")),
        ("sub-chb01/ses-01/eeg/sub-chb01_ses-01_task-szMonitoring_acq-x_run-10_eeg.edf", ("sub-chb01", "ses-01")),
        ("sub-01/ses-01/eeg/sub-02_ses-01_task-szMonitoring_run-01_eeg.edf", None),  # another subject's name
        ("sub-01/ses-02/eeg/sub-01_ses-01_task-szMonitoring_run-01_eeg.edf", None),  # another session's name
        ("sub-01/ses-01/anat/sub-01_ses-01_task-szMonitoring_run-01_eeg.edf", None),
        ("sub-01/ses-01/eeg/sub-01_ses-01_task-szMonitoring_run-01.edf", None),  # no _eeg suffix
    ],
)
def test_bids_entities(rel, expected):
    assert bids_entities(Path(rel)) == expected


def test_bids_channel_names_map_to_the_10_20_set():
    assert [canonical_channel(c) for c in ("Fp1-Avg", "T3-Avg", "fz-avg", "T7", "p7-Avg", "EEG T8-Avg")] == [
        "FP1",
        "T3",
        "FZ",
        "T3",
        "T5",
        "T4",
    ]


def test_subject_split_is_deterministic_stratified_and_stable():
    subjects = {f"sub-{i:02d}": i % 3 != 0 for i in range(20)}  # 13 with seizures, 7 without
    a = assign_subjects(subjects, 0.2, 0.2, seed=0)
    assert a == assign_subjects(dict(reversed(subjects.items())), 0.2, 0.2, seed=0)
    assert a != assign_subjects(subjects, 0.2, 0.2, seed=1)
    counts = {s: list(a.values()).count(s) for s in ("train", "dev", "eval")}
    assert counts == {"train": 12, "dev": 4, "eval": 4}
    for split in ("train", "dev", "eval"):  # seizures in every split
        assert any(subjects[s] for s, sp in a.items() if sp == split)
    grown = assign_subjects({**subjects, "sub-99": True}, 0.2, 0.2, seed=0)
    assert sum(grown[s] != a[s] for s in a) <= 2  # adding one subject moves few others
    small = assign_subjects({"sub-a": True, "sub-b": False, "sub-c": False}, 0.2, 0.2, seed=0)
    assert sorted(small.values()) == ["dev", "eval", "train"] and small["sub-a"] == "train"
    with pytest.raises(InputError, match="needs at least 3"):
        assign_subjects({"sub-a": True, "sub-b": True}, 0.2, 0.2, seed=0)


def test_split_file(tmp_path):
    path = tmp_path / "participants.tsv"
    path.write_text("participant_id\tage\tsplit\nsub-01\t30\ttrain\n02\t41\teval\nsub-03\t22\tdev\n")
    assert read_split_file(path, ["sub-01", "sub-02", "sub-03"]) == {
        "sub-01": "train",
        "sub-02": "eval",
        "sub-03": "dev",
    }
    path.write_text("participant_id\tsplit\nsub-01\ttest\nsub-01\ttrain\nsub-01\tdev\n")
    with pytest.raises(InputError) as err:
        read_split_file(path, ["sub-01", "sub-02"])
    lines = err.value.lines
    assert any("split 'test'" in ln for ln in lines) and any("listed in train and dev" in ln for ln in lines)
    assert any("no split for 1 subject(s) of the dataset: sub-02" in ln for ln in lines)
    path.write_text("participant_id\tage\nsub-01\t30\n")
    with pytest.raises(InputError, match="participant_id and split"):
        read_split_file(path, ["sub-01"])


def test_bids_discovery_skips_derivatives_and_reports_strays(corpora, tmp_path):
    _, bids = corpora
    found, stray, fmt = discover(bids, _params(tmp_path, bids).data)
    assert fmt == "bids" and len(found) == len(list(bids.glob("sub-*/ses-*/eeg/*_eeg.edf")))
    assert all(f.patient.startswith("sub-") and f.session.startswith("ses-") and f.montage == "" for f in found)
    assert stray == []
    assert len({(f.patient, f.split) for f in found}) == len({f.patient for f in found})  # one split per subject


def test_bids_and_tusz_give_the_same_stats(corpora, tmp_path, mlflow_store):
    """metrics/stats.json is the same whichever layout holds the corpus (BIDS split from participants.tsv)."""
    tusz, bids = corpora
    run_stage("ingest", _params(tmp_path / "t", tusz))
    run_stage("stats", _params(tmp_path / "t", tusz))
    from_tusz = json.loads((tmp_path / "metrics" / "stats.json").read_text())
    params = _params(tmp_path / "b", bids, split={"file": "participants.tsv"})
    run_stage("ingest", params)
    report = json.loads((tmp_path / "reports" / "ingest_report.json").read_text())
    assert report["skipped"] == [] and report["ingested"] == sum(
        from_tusz[s]["n_recordings"] for s in from_tusz if s != "red_flags"
    )
    run_stage("stats", params)
    from_bids = json.loads((tmp_path / "metrics" / "stats.json").read_text())
    assert from_bids == from_tusz
    assert from_bids["red_flags"] == []


def test_bids_strays_and_the_seeded_split(tmp_path, mlflow_store):
    root = tmp_path / "bids"
    run_synth(root, SynthConfig(patients=4, minutes=2, seed=5, format="bids"))
    first = next(root.glob("sub-*/ses-*/eeg/*_eeg.edf"))
    (root / "derivatives" / "sub-00").mkdir(parents=True)
    (root / "derivatives" / "sub-00" / "x_eeg.edf").write_bytes(first.read_bytes())
    (first.parent / "notes_eeg.edf").write_bytes(first.read_bytes())
    params = _params(tmp_path, root, max_skipped=0.5)
    run_stage("ingest", params)
    report = json.loads((tmp_path / "reports" / "ingest_report.json").read_text())
    (entry,) = report["skipped"]  # the stray, not the derivative
    assert entry["path"].endswith("notes_eeg.edf") and "not in the BIDS layout sub-<id>/" in entry["reason"]
    import pandas as pd

    table = pd.read_parquet(tmp_path / "processed" / "recordings.parquet")
    assert set(table["split"]) == {"train", "dev", "eval"}
    assert table.groupby("patient")["split"].nunique().max() == 1
    assert table.groupby("split")["seizure_s"].sum().min() > 0


def test_unreadable_split_file_stops_ingest_with_a_clear_error(corpora, tmp_path, mlflow_store):
    _, bids = corpora
    with pytest.raises(InputError, match="data.split.file .*nope.tsv: not found"):
        run_stage("ingest", _params(tmp_path, bids, split={"file": "nope.tsv"}))


def test_leakage_still_checked(tmp_path, mlflow_store):
    """A TUSZ tree with one patient in two split folders still raises the red flag (BIDS cannot, by construction)."""
    from tests.data.conftest import write_rec

    root = tmp_path / "corpus"
    write_rec(root, "train", "aaaaaaaa", "t000", seizures=[(30.0, 50.0)])
    write_rec(root, "eval", "aaaaaaaa", "t001", seizures=[(30.0, 50.0)])
    with pytest.raises(RedFlagStop):
        run_stage("ingest", _params(tmp_path, root, format="tusz"))
