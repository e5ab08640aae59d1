import json

import pytest
from mlflow.tracking import MlflowClient

from brain_brr.data.stats import split_stats
from brain_brr.errors import InputError, RedFlagStop
from tests.conftest import run_stage, stage_main

from .conftest import make_params, write_rec


def _runs(stage):
    client = MlflowClient()
    exp = client.get_experiment_by_name("brain-brr")
    return client.search_runs([exp.experiment_id], filter_string=f"tags.`dvc.stage` = '{stage}'")


def test_stats_match_hand_computed_values(corpus, tmp_path, mlflow_store):
    # small_corpus: train 120 s with [30, 55) + 95 s without; dev 120 s with [70, 80);
    # eval 150 s with [10, 20) and [100, 130). Windows of 60 s every 10 s.
    params = make_params(tmp_path)
    run_stage("ingest", params)
    run_stage("stats", params)
    stats = json.loads((tmp_path / "metrics" / "stats.json").read_text())
    expected = {
        # windows: 7 + 4; positive: starts 0..50 overlap [30, 55)
        "train": {
            "hours": 215 / 3600,
            "n_recordings": 2,
            "n_windows": 11,
            "n_pos_windows": 6,
            "seizure_ratio": 25 / 215,
            "pos_weight": 190 / 25,
        },
        # starts 20..60 overlap [70, 80)
        "dev": {
            "hours": 120 / 3600,
            "n_recordings": 1,
            "n_windows": 7,
            "n_pos_windows": 5,
            "seizure_ratio": 10 / 120,
            "pos_weight": 110 / 10,
        },
        # starts 0, 10 overlap [10, 20); 50..90 overlap [100, 130)
        "eval": {
            "hours": 150 / 3600,
            "n_recordings": 1,
            "n_windows": 10,
            "n_pos_windows": 7,
            "seizure_ratio": 40 / 150,
            "pos_weight": 110 / 40,
        },
    }
    for split, values in expected.items():
        assert stats[split] == pytest.approx(values), split
    assert stats["red_flags"] == []
    (run,) = _runs("stats")
    assert run.info.status == "FINISHED"
    assert (
        run.data.metrics["train.pos_weight"] == pytest.approx(7.6)
        and run.data.metrics["check.train_has_seizures"] == 1.0
    )


def test_each_seizure_second_counted_once():
    # One 10 s seizure held by six overlapping windows still counts 10 s.
    recs = [{"split": "train", "duration_s": 100.0, "seizure_s": 10.0}]
    wins = [{"split": "train", "is_pos": True}] * 6
    s = split_stats(recs, wins)
    assert s["train"]["seizure_ratio"] == 0.1 and s["train"]["pos_weight"] == 9.0 and s["train"]["n_pos_windows"] == 6
    assert s["dev"] == {
        "hours": 0.0,
        "n_recordings": 0,
        "n_windows": 0,
        "n_pos_windows": 0,
        "seizure_ratio": 0.0,
        "pos_weight": None,
    }


def test_no_train_seizures_fails_the_stats_run(tmp_path, mlflow_store, capsys):
    root = tmp_path / "corpus"
    write_rec(root, "train", "aaaaaaaa", seizures=[])
    write_rec(root, "dev", "bbbbbbbb", seizures=[(10, 30)])
    write_rec(root, "eval", "cccccccc", seizures=[(10, 30)])
    run_stage("ingest", make_params(tmp_path, strict=False))
    params_file = tmp_path / "params.yaml"
    params_file.write_text(f"data:\n  root: {root}\n  processed: {tmp_path / 'processed'}\n")
    assert stage_main("stats", "--params", str(params_file)) == 3
    assert (
        "[RED FLAG] no_train_seizures: the train split (1 recordings, 0.03 h) holds no seizure time"
        in capsys.readouterr().out
    )
    (run,) = _runs("stats")
    assert run.info.status == "FAILED" and run.data.tags["red_flags"] == "no_train_seizures"
    stats = json.loads((tmp_path / "metrics/stats.json").read_text())
    assert stats["red_flags"] == ["no_train_seizures"] and stats["train"]["pos_weight"] is None


def test_patient_leakage_fails_the_stats_run(tmp_path, mlflow_store):
    root = tmp_path / "corpus"
    write_rec(root, "train", "aaaaaaaa", "t000", seizures=[(10, 30)])
    write_rec(root, "dev", "aaaaaaaa", "t001", seizures=[(10, 30)])
    write_rec(root, "eval", "cccccccc", seizures=[(10, 30)])
    run_stage("ingest", make_params(tmp_path, strict=False))
    with pytest.raises(RedFlagStop):
        run_stage("stats", make_params(tmp_path))
    (run,) = _runs("stats")
    assert run.info.status == "FAILED" and run.data.tags["red_flags"] == "patient_leakage"
    assert "aaaaaaaa in train+dev" in run.data.tags["red_flag.patient_leakage"]


def test_stats_without_ingest_is_a_clear_error(tmp_path, mlflow_store):
    with pytest.raises(
        InputError, match=r"recordings.parquet not found; run the ingest stage first \(`dvc repro ingest`\)"
    ):
        run_stage("stats", make_params(tmp_path))
