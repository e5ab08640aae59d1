"""Bad inputs, each a real file written here: ingestion continues and the report names each file.

One corpus holds every case beside good recordings; ingest runs once on it (module fixture)
and each case is checked by its own test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from brain_brr.config import DataConfig
from brain_brr.data.edf import read_eeg
from brain_brr.errors import RedFlagStop
from tests.conftest import run_stage, stage_main

from .conftest import EEG_LABELS, eeg, make_params, write_rec


def _ns(path: Path) -> int:
    return int(path.read_bytes()[252:256])


def _patch(path: Path, offset: int, value: bytes) -> None:
    b = bytearray(path.read_bytes())
    b[offset : offset + len(value)] = value
    path.write_bytes(bytes(b))


def _ann(edf: Path, text: str, suffix: str = ".csv_bi") -> None:
    edf.with_suffix(".csv_bi").unlink(missing_ok=True)
    edf.with_suffix(suffix).write_text(text)


HEADER = "# version = csv_v1.0.0\n# duration = 120.0000 secs\nchannel,start_time,stop_time,label,confidence\n"


def truncated(root):
    edf = write_rec(root, token="t100", seconds=120, seizures=[(20, 40)])
    edf.write_bytes(edf.read_bytes()[:-20_000])  # mid-record: 100+ s of complete records remain
    return edf


def truncated_header_only(root):
    edf = write_rec(root, token="t101", seizures=[(20, 40)])
    edf.write_bytes(edf.read_bytes()[: 256 * (_ns(edf) + 1) + 100])
    return edf


def bad_date(root):
    edf = write_rec(root, token="t102", seizures=[(20, 40)])
    _patch(edf, 168, b"01:01:20")
    return edf


def one_missing(root):
    return write_rec(root, token="t103", seizures=[(20, 40)], labels=[lab for lab in EEG_LABELS if "CZ" not in lab])


def three_missing(root):
    return write_rec(
        root,
        token="t104",
        seizures=[(20, 40)],
        labels=[lab for lab in EEG_LABELS if not any(c in lab for c in ("CZ", "O1", "F8"))],
    )


def duplicated(root):
    return write_rec(root, token="t105", seizures=[(20, 40)], labels=EEG_LABELS + ["EEG FP1-LE"])


def rate_1000(root):
    return write_rec(root, token="t106", fs=1000, seconds=70, seizures=[(20, 40)])


def rate_200(root):
    return write_rec(root, token="t107", fs=200, seizures=[(20, 40)])


def nan_channel(root):
    edf = write_rec(root, token="t108", seizures=[(20, 40)])
    ns = _ns(edf)
    _patch(edf, 256 + ns * 112 + 8 * EEG_LABELS.index("EEG C4-REF"), b"nan     ")  # physical max of C4
    return edf


def flat_channel(root):
    sigs = eeg(120, 256, seed=9)
    sigs[EEG_LABELS.index("EEG PZ-REF")] = np.full(120 * 256, 12.0)
    return write_rec(root, token="t109", seizures=[(20, 40)], signals=sigs)


def half_flat_channel(root):
    sigs = eeg(120, 256, seed=10)
    sigs[EEG_LABELS.index("EEG O1-REF")][: 256 * 80] = 0.0  # electrode off for 80 of 120 s
    return write_rec(root, token="t117", seizures=[(20, 40)], signals=sigs)


def short(root):
    return write_rec(root, token="t110", seconds=45, seizures=[(20, 40)])


def no_annotation(root):
    return write_rec(root, token="t111", annotation=None)


def empty_annotation(root):
    edf = write_rec(root, token="t112")
    _ann(edf, "")
    return edf


def wrong_columns(root):
    edf = write_rec(root, token="t113")
    _ann(edf, "channel,begin,end,kind\nTERM,1,2,seiz\n")
    return edf


def text_in_numbers(root):
    edf = write_rec(root, token="t114")
    _ann(edf, HEADER + "TERM,twenty,40,seiz,1.0\n")
    return edf


def odd_events(root):
    edf = write_rec(root, token="t115")
    _ann(
        edf,
        HEADER
        + "TERM,50,45,seiz,1\nTERM,-5,10,seiz,1\nTERM,30,60,fnsz,1\n"
        + "TERM,40,70,seiz,1\nTERM,80,90,wxyz,1\nTERM,100,150,seiz,1\n",
    )
    return edf


def per_channel_csv(root):
    edf = write_rec(root, token="t116", annotation="csv", seizures=[(20, 40)])
    return edf


# name -> (builder, status, reason substring, action substring)
CASES = {
    "truncated": (truncated, "ingested", "truncated EDF", "truncated to"),
    "truncated_header_only": (truncated_header_only, "skipped", "no complete data record", "skipped"),
    "bad_date": (bad_date, "ingested", "malformed start date/time '01:01:20", "repaired header"),
    "one_missing": (one_missing, "ingested", "channel CZ not in the EDF", "interpolated from FZ, C3, C4, PZ"),
    "three_missing": (three_missing, "skipped", "3 of the 19 10-20 channels missing", "skipped"),
    "duplicated": (duplicated, "ingested", "duplicated channel labels EEG FP1-LE", "kept the first"),
    "rate_1000": (rate_1000, "ingested", None, None),
    "rate_200": (rate_200, "ingested", None, None),
    "nan_channel": (nan_channel, "ingested", "channel C4 is 100% NaN/inf", "interpolated from F4, CZ, T4, P4"),
    "flat_channel": (flat_channel, "ingested", "channel PZ is a flat line", "interpolated from CZ, P3, P4, O1, O2"),
    "half_flat_channel": (
        half_flat_channel,
        "ingested",
        "channel O1 is flat for more than half of the recording",
        "kept",
    ),
    "short": (short, "skipped", "shorter than one window", "skipped"),
    "no_annotation": (no_annotation, "skipped", "no annotation file", "skipped"),
    "empty_annotation": (empty_annotation, "skipped", "no header row", "skipped"),
    "wrong_columns": (wrong_columns, "skipped", "lacks column(s) start_time, stop_time", "skipped"),
    "text_in_numbers": (text_in_numbers, "skipped", "'twenty', '40' are not numbers", "skipped"),
    "per_channel_csv": (per_channel_csv, "ingested", None, None),
}
GOOD = 8


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad")
    root = tmp / "corpus"
    paths = {name: builder(root).relative_to(root).as_posix() for name, (builder, *_rest) in CASES.items()}
    paths["odd_events"] = odd_events(root).relative_to(root).as_posix()
    for i in range(GOOD):
        write_rec(
            root, "train" if i < 4 else ("dev" if i < 6 else "eval"), f"good{i:04d}", seizures=[(30, 50)], seed=100 + i
        )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DVC_ROOT", str(tmp))
        mp.chdir(tmp)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp / 'mlflow.db'}")
        run_stage("ingest", make_params(tmp, max_skipped=0.5, workers=2))
        runs = MlflowClient().search_runs([MlflowClient().get_experiment_by_name("brain-brr").experiment_id])
    report = json.loads((tmp / "reports" / "ingest_report.json").read_text())
    recordings = pq.read_table(tmp / "processed" / "recordings.parquet").to_pylist()
    return {
        "report": report,
        "paths": paths,
        "recordings": {r["path"]: r for r in recordings},
        "runs": runs,
        "tmp": tmp,
    }


def test_corpus_finishes_despite_bad_files(ingested):
    assert [r.info.status for r in ingested["runs"]] == ["FINISHED"]
    n_skipped = sum(s == "skipped" for _, s, *_ in CASES.values())
    assert len(ingested["report"]["skipped"]) == n_skipped
    assert ingested["report"]["ingested"] == len(CASES) + 1 + GOOD - n_skipped
    for entry in ingested["report"]["skipped"] + ingested["report"]["warnings"]:
        assert set(entry) == {"path", "reason", "action"} and "\n" not in entry["reason"]
        assert not entry["path"].startswith("/")


@pytest.mark.parametrize("name", list(CASES))
def test_case_is_reported(ingested, name):
    _, status, reason, action = CASES[name]
    path = ingested["paths"][name]
    report = ingested["report"]
    entries = [e for e in report["skipped"] + report["warnings"] if e["path"] == path]
    if status == "skipped":
        assert path not in ingested["recordings"]
        skipped = [e for e in report["skipped"] if e["path"] == path]
        assert len(skipped) == 1 and reason in skipped[0]["reason"] and skipped[0]["action"] == "skipped", skipped
    else:
        assert path in ingested["recordings"]
        if reason is None:
            assert entries == []
        else:
            assert any(reason in e["reason"] and action in e["action"] for e in entries), entries


def test_truncated_recording_keeps_the_complete_records(ingested):
    rec = ingested["recordings"][ingested["paths"]["truncated"]]
    assert 100 <= rec["duration_s"] < 120 and rec["duration_s"] == int(rec["duration_s"])


def test_unseen_rates_resampled(ingested):
    r1000 = ingested["recordings"][ingested["paths"]["rate_1000"]]
    r200 = ingested["recordings"][ingested["paths"]["rate_200"]]
    assert (r1000["orig_fs"], r1000["n_samples"]) == (1000.0, 70 * 256)
    assert (r200["orig_fs"], r200["n_samples"]) == (200.0, 120 * 256)


def test_annotation_oddities_are_warned_and_repaired(ingested):
    path = ingested["paths"]["odd_events"]
    reasons = " | ".join(f"{e['reason']} -> {e['action']}" for e in ingested["report"]["warnings"] if e["path"] == path)
    for expected in (
        "stop 45 <= start 50 -> dropped",
        "starts before 0 -> clipped to 0",
        "overlapping seizure events -> merged",
        "unknown label 'wxyz' -> counted as background",
        "runs past the end of the recording (120 s) -> clipped",
    ):
        assert expected in reasons
    rec = ingested["recordings"][path]
    assert json.loads(rec["events"]) == [[0.0, 10.0], [30.0, 70.0], [100.0, 120.0]]
    assert rec["seizure_s"] == pytest.approx(70.0)


def test_repaired_date_reads_the_same_data(tmp_path):
    cfg = DataConfig()
    clean = write_rec(tmp_path, token="t000")
    broken = tmp_path / "broken.edf"
    broken.write_bytes(clean.read_bytes())
    _patch(broken, 168, b"01:01:20")
    rec = read_eeg(broken, cfg)
    np.testing.assert_array_equal(rec.signal, read_eeg(clean, cfg).signal)
    assert rec.warnings == [
        "malformed start date/time '01:01:20 00.00.00' in the EDF header (repaired header (start set to 01.01.85 "
        "00.00.00))"
    ]
    assert list(tmp_path.rglob("*patched*")) == []


def test_all_seizures_past_the_end_raises_all_zero_labels(tmp_path, mlflow_store):
    root = tmp_path / "corpus"
    for i, split in enumerate(("train", "dev", "eval")):
        write_rec(root, split, f"p{i}", seizures=[(30, 50)], seed=i)
    bad = write_rec(root, "train", "p0", "t001")
    _ann(bad, HEADER + "TERM,500,560,seiz,1\n")
    with pytest.raises(RedFlagStop):
        run_stage("ingest", make_params(tmp_path, max_skipped=0.5))
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("brain-brr").experiment_id])
    assert run.info.status == "FAILED" and run.data.tags["red_flags"] == "all_zero_labels"
    report = json.loads((tmp_path / "reports" / "ingest_report.json").read_text())
    (skipped,) = report["skipped"]
    assert skipped["path"] == bad.relative_to(root).as_posix() and "label mask is all zero" in skipped["reason"]


def test_too_many_skipped_exits_3(tmp_path, mlflow_store, capsys):
    root = tmp_path / "corpus"
    for i, split in enumerate(("train", "dev", "eval")):
        write_rec(root, split, f"p{i}", seizures=[(30, 50)], seed=i)
    write_rec(root, "train", "p0", "t001", annotation=None)  # 1 of 4 skipped: 25% > 10%
    params_file = tmp_path / "params.yaml"
    params_file.write_text(f"data:\n  root: {root}\n  processed: {tmp_path / 'processed'}\n  workers: 1\n")
    assert stage_main("ingest", "--params", str(params_file)) == 3
    out = capsys.readouterr()
    assert "[RED FLAG] too_many_skipped: 1 of 4 recordings skipped (25.0% > guards.max_skipped_fraction=0.1)" in out.out
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("brain-brr").experiment_id])
    assert run.info.status == "FAILED" and run.data.tags["red_flags"] == "too_many_skipped"
    assert run.data.metrics["skipped_fraction"] == 0.25 and run.data.metrics["check.skipped_fraction_ok"] == 0.0
