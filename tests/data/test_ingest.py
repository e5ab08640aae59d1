from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from brain_brr.data import store
from brain_brr.data.edf import read_eeg
from brain_brr.data.ingest import RECORDINGS_SCHEMA, WINDOWS_SCHEMA
from brain_brr.errors import InputError, RedFlagStop
from tests.conftest import REPO, run_stage, stage_main

from .conftest import make_params, write_rec

ARCH_RECORDINGS = {
    "rec_id": "string", "split": "string", "patient": "string", "session": "string", "montage": "string",
    "path": "string", "segment_file": "string", "duration_s": "double", "n_samples": "int64", "n_segments": "int32",
    "seizure_s": "double",
    "n_seizures": "int32", "events": "string", "orig_fs": "double",
}  # fmt: skip
ARCH_WINDOWS = {
    "rec_id": "string",
    "split": "string",
    "patient": "string",
    "seg0": "int32",
    "start_s": "double",
    "seizure_frac": "float",
    "is_pos": "bool",
}


def _runs():
    client = MlflowClient()
    exp = client.get_experiment_by_name("brain-brr")
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"]) if exp else []


def _tables(processed: Path) -> tuple[pa.Table, pa.Table]:
    return pq.read_table(processed / "recordings.parquet"), pq.read_table(processed / "windows.parquet")


def _reused(capsys) -> tuple[int, int]:
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[INGEST]")][-1]
    ingested, reused = line.split(" ingested (")[0].split()[-1], line.split(" ingested (")[1].split(" reused")[0]
    return int(ingested), int(reused)


def test_tables_match_the_architecture(corpus, tmp_path, mlflow_store):
    run_stage("ingest", make_params(tmp_path))
    recordings, windows = _tables(tmp_path / "processed")
    assert {f.name: str(f.type) for f in recordings.schema} == ARCH_RECORDINGS
    assert {f.name: str(f.type) for f in windows.schema} == ARCH_WINDOWS
    assert recordings.schema.equals(RECORDINGS_SCHEMA) and windows.schema.equals(WINDOWS_SCHEMA)
    rows = {r["rec_id"]: r for r in recordings.to_pylist()}
    assert list(rows) == ["aaaaaaaa_s001_t000", "aaaaaaaa_s001_t001", "bbbbbbbb_s001_t000", "cccccccc_s001_t000"]
    r = rows["cccccccc_s001_t000"]
    assert (r["split"], r["patient"], r["session"], r["montage"]) == ("eval", "cccccccc", "s001_2020", "01_tcp_ar")
    assert r["path"] == "edf/eval/cccccccc/s001_2020/01_tcp_ar/cccccccc_s001_t000.edf"
    assert r["segment_file"] == "segments/eval/cccccccc_s001_t000.parquet"
    assert (r["duration_s"], r["n_samples"], r["n_segments"], r["orig_fs"]) == (150.0, 150 * 256, 15, 256.0)
    assert (r["seizure_s"], r["n_seizures"], json.loads(r["events"])) == (40.0, 2, [[10.0, 20.0], [100.0, 130.0]])
    (run,) = _runs()
    assert run.info.status == "FINISHED" and run.data.tags["dvc.stage"] == "ingest" and run.data.tags["red_flags"] == ""
    assert run.data.metrics["ingested"] == 4 and run.data.metrics["skipped_fraction"] == 0.0
    assert run.data.metrics["hours.eval"] == pytest.approx(150 / 3600)
    assert run.data.metrics["check.patient_disjoint"] == 1.0 and run.data.metrics["check.train_has_seizures"] == 1.0
    artifacts = [a.path for a in MlflowClient().list_artifacts(run.info.run_id)]
    assert "ingest_report.json" in artifacts


def test_segment_holds_the_preprocessed_signal_and_labels(tmp_path, mlflow_store):
    root = tmp_path / "corpus"
    edf = write_rec(root, seizures=[(63.0, 77.0)], seconds=130)
    write_rec(root, "dev", "dddddddd", seizures=[(5, 15)])
    params = make_params(tmp_path)
    run_stage("ingest", params)
    signal, labels, meta = store.read_recording(tmp_path / "processed" / "segments" / "train" / f"{edf.stem}.parquet")
    np.testing.assert_allclose(signal.astype(np.float32), read_eeg(edf, params.data).signal, atol=1e-2)
    assert meta["channels"].split(",")[:3] == ["FP1", "FP2", "F7"]
    # A seizure at a known time: label steps 63..76, windows overlapping [63, 77).
    assert np.flatnonzero(labels).tolist() == list(range(63, 77))
    w = pq.read_table(tmp_path / "processed" / "windows.parquet").to_pylist()
    pos = [x["seg0"] for x in w if x["rec_id"] == edf.stem and x["is_pos"]]
    assert pos == [1, 2, 3, 4, 5, 6, 7]  # [10k, 10k + 60) overlaps [63, 77) for k = 1..7; window 7 ends at 130


def test_rerun_reuses_and_redoes_only_what_changed(corpus, tmp_path, mlflow_store, capsys):
    params = make_params(tmp_path)
    run_stage("ingest", params)
    assert _reused(capsys) == (4, 0)
    first = _tables(tmp_path / "processed")
    seg = tmp_path / "processed" / "segments" / "dev" / "bbbbbbbb_s001_t000.parquet"
    mtime = seg.stat().st_mtime_ns
    run_stage("ingest", params)
    assert _reused(capsys) == (4, 4)
    assert all(a.equals(b) for a, b in zip(first, _tables(tmp_path / "processed")))
    assert seg.stat().st_mtime_ns == mtime

    # One annotation changes: only that recording is redone, and its new labels land in the tables.
    ann = corpus / "edf/dev/bbbbbbbb/s001_2020/01_tcp_ar/bbbbbbbb_s001_t000.csv_bi"
    ann.write_text(
        ann.read_text()
        .replace("70.0000,80.0000,seiz", "70.0000,90.0000,seiz")
        .replace("80.0000,120.0000,bckg", "90.0000,120.0000,bckg")
    )
    run_stage("ingest", params)
    assert _reused(capsys) == (4, 3)
    rows = {r["rec_id"]: r for r in _tables(tmp_path / "processed")[0].to_pylist()}
    assert rows["bbbbbbbb_s001_t000"]["seizure_s"] == 20.0

    # A preprocessing param changes: everything is redone.
    run_stage("ingest", make_params(tmp_path, clip=8.0))
    assert _reused(capsys) == (4, 0)


def test_removed_recording_loses_its_segment_and_tmp_leftovers_go(corpus, tmp_path, mlflow_store):
    params = make_params(tmp_path)
    run_stage("ingest", params)
    gone = corpus / "edf/train/aaaaaaaa/s001_2020/01_tcp_ar/aaaaaaaa_s001_t001.edf"
    gone.unlink()
    leftover = tmp_path / "processed" / "segments" / "train" / ".x.parquet.tmp-99999"
    leftover.write_bytes(b"half a file")
    run_stage("ingest", params)
    assert not (tmp_path / "processed/segments/train/aaaaaaaa_s001_t001.parquet").exists()
    assert not leftover.exists()
    assert (
        "aaaaaaaa_s001_t001"
        not in pq.read_table(tmp_path / "processed/recordings.parquet").column("rec_id").to_pylist()
    )
    report = json.loads((tmp_path / "reports/ingest_report.json").read_text())
    # The recording without annotation is in the report as skipped; the deleted one is simply gone.
    assert report["ingested"] == 3 and report["skipped"] == []


def test_same_corpus_twice_gives_identical_tables(corpus, tmp_path, mlflow_store):
    run_stage("ingest", make_params(tmp_path, processed=str(tmp_path / "p1")))
    run_stage("ingest", make_params(tmp_path, processed=str(tmp_path / "p2"), workers=2))
    for name in ("recordings.parquet", "windows.parquet"):
        a, b = pq.read_table(tmp_path / "p1" / name), pq.read_table(tmp_path / "p2" / name)
        assert a.equals(b)
    for seg in (tmp_path / "p1" / "segments").rglob("*.parquet"):
        other = tmp_path / "p2" / seg.relative_to(tmp_path / "p1")
        assert pq.read_table(seg).equals(pq.read_table(other))


def test_missing_root_and_wrong_layout_are_clear_errors(tmp_path, mlflow_store, capsys):
    with pytest.raises(InputError, match=r"does not exist; point data.root") as err:
        run_stage("ingest", make_params(tmp_path))
    assert str(tmp_path / "corpus") in str(err.value)
    flat = tmp_path / "corpus" / "edf" / "train"
    write_rec(tmp_path / "elsewhere")
    flat.mkdir(parents=True)
    (flat / "x.edf").write_bytes(
        (tmp_path / "elsewhere/edf/train/aaaaaaaa/s001_2020/01_tcp_ar/aaaaaaaa_s001_t000.edf").read_bytes()
    )
    params_file = tmp_path / "params.yaml"
    params_file.write_text(f"data:\n  root: {tmp_path / 'corpus'}\n  processed: {tmp_path / 'processed'}\n")
    assert stage_main("ingest", "--params", str(params_file)) == 2
    err_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "holds no EDF in the expected layout ROOT/edf/{train,dev,eval}/<patient>/<session>/<montage>/" in err_line


def test_patient_leakage_and_no_train_seizures_flagged(tmp_path, mlflow_store):
    root = tmp_path / "corpus"
    write_rec(root, "train", "pppppppp", "t000", seizures=[])
    write_rec(root, "eval", "pppppppp", "t001", seizures=[(10, 20)])
    write_rec(root, "dev", "qqqqqqqq", "t000", seizures=[(10, 20)])
    run_stage("ingest", make_params(tmp_path, strict=False))  # not strict: finishes, run FAILED
    (run,) = _runs()
    assert run.info.status == "FAILED"
    assert run.data.tags["red_flags"] == "patient_leakage,no_train_seizures"
    assert "pppppppp in train+eval" in run.data.tags["red_flag.patient_leakage"]
    assert (tmp_path / "processed/recordings.parquet").is_file()
    with pytest.raises(RedFlagStop):
        run_stage("ingest", make_params(tmp_path, strict=True))
    assert _runs()[-1].info.status == "FAILED"


def test_sigkill_leaves_nothing_valid_and_rerun_finishes_the_rest(tmp_path, mlflow_store, capsys):
    root = tmp_path / "corpus"
    for i in range(12):
        write_rec(
            root,
            ("train", "dev", "eval")[i % 3],
            f"pat{i % 3:05d}",
            f"t{i:03d}",
            seconds=600,
            seizures=[(100, 160)],
            seed=i,
        )
    params_file = tmp_path / "params.yaml"
    params_file.write_text(f"data:\n  root: {root}\n  processed: {tmp_path / 'processed'}\n  workers: 1\n")
    segs = tmp_path / "processed" / "segments"
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "stages" / "ingest.py"), "--params", str(params_file)],
        cwd=tmp_path,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while not list(segs.glob("*/*.parquet")) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done = sorted(segs.glob("*/*.parquet"))
    assert 1 <= len(done) < 12, "the kill must land mid-way"
    # Nothing the next stage would read: no tables, every segment file complete.
    assert (
        not (tmp_path / "processed/recordings.parquet").exists()
        and not (tmp_path / "processed/windows.parquet").exists()
    )
    for seg in done:
        signal_, labels, meta = store.read_recording(seg)
        assert signal_.shape == (19, 600 * 256) and "fingerprint" in meta
    mtimes = {p: p.stat().st_mtime_ns for p in done}
    run_stage("ingest", make_params(tmp_path))
    assert _reused(capsys) == (12, len(done))
    assert all(p.stat().st_mtime_ns == m for p, m in mtimes.items())
    assert not list((tmp_path / "processed").rglob(".*.tmp-*"))
    statuses = sorted(r.info.status for r in _runs())
    assert statuses == ["FINISHED", "KILLED"]  # the killed run is closed when the next stage starts


def test_unexpected_failure_of_one_recording_does_not_abort_the_corpus(corpus, tmp_path, mlflow_store):
    # The train segment folder is a file: writing those segments fails with an OSError.
    (tmp_path / "processed" / "segments").mkdir(parents=True)
    (tmp_path / "processed" / "segments" / "train").write_text("not a folder")
    run_stage("ingest", make_params(tmp_path, strict=False))
    report = json.loads((tmp_path / "reports/ingest_report.json").read_text())
    assert report["ingested"] == 2
    assert sorted(e["path"].split("/")[-1] for e in report["skipped"]) == [
        "aaaaaaaa_s001_t000.edf",
        "aaaaaaaa_s001_t001.edf",
    ]
    assert all(e["reason"].startswith("cannot ingest: ") and "Error" in e["reason"] for e in report["skipped"])
    assert _runs()[-1].data.tags["red_flags"] == "no_train_seizures,too_many_skipped"


def test_edfs_outside_the_layout_are_reported_not_ignored(corpus, tmp_path, mlflow_store):
    src = corpus / "edf/train/aaaaaaaa/s001_2020/01_tcp_ar/aaaaaaaa_s001_t001.edf"
    misplaced = [
        corpus / "edf/train/aaaaaaaa/zz_stray.edf",
        corpus / "edf/holdout/bbbbbbbb/s001_2020/01_tcp_ar/bbbbbbbb_s001_t000.edf",
    ]
    for p in misplaced:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(src.read_bytes())
    run_stage("ingest", make_params(tmp_path, max_skipped=1.0))
    report = json.loads((tmp_path / "reports/ingest_report.json").read_text())
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    for p in misplaced:
        assert "not in the TUSZ layout" in skipped[p.relative_to(corpus).as_posix()]
