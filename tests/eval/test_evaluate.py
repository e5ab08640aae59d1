"""The evaluate stage end to end: files, the documented metrics keys, red flags, MLflow runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch

from brain_brr.config import parse_params
from brain_brr.data.annotations import write_csv_bi
from brain_brr.errors import RedFlagStop
from brain_brr.tracking.run import StageRun, mark_training_run
from brain_brr.train.model import save_detector
from tests.conftest import run_stage
from tests.eval.helpers import model_config, tiny_raw

EVAL_KEYS = {"auroc", "pr_auc", "pred_pos_rate", "sens_at_fa", "szcore", "ovlp", "red_flags"}
THRESHOLDS = {
    "tau_on": 0.5,
    "tau_off": 0.3,
    "min_duration_s": 5.0,
    "merge_gap_s": 5.0,
    "max_duration_s": 600.0,
    "criterion": "test",
    "operating_points": {
        "10": {"tau_on": 0.5, "tau_off": 0.3, "rule": "empirical", "dev_fa_per_24h": 0.0},
        "1": {"tau_on": 0.95, "tau_off": 0.57, "rule": "extrapolated", "dev_fa_per_24h": 0.0},
    },
}


def _train_run(params) -> str:
    with StageRun("train", params) as run:
        run.metrics({"val_auroc_best": 0.9})
    return run.run_id


def _runs(stage: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = client.get_experiment_by_name("brain-brr")
    return client.search_runs([exp.experiment_id], filter_string=f"tags.`dvc.stage` = '{stage}'")


def test_evaluate_writes_contract_metrics_and_reports(eval_assets, mlflow_store, tmp_path):
    processed, params, model = eval_assets
    run_id = _train_run(params)
    save_detector(tmp_path / "models" / "detector", model, model_config(params, THRESHOLDS))
    mark_training_run(run_id, tmp_path / "models" / "detector")

    run_stage("evaluate", params)

    out = json.loads((tmp_path / "metrics" / "eval.json").read_text())
    assert set(out) >= EVAL_KEYS and {"baseline", "thresholds", "counts"} <= set(out)
    assert set(out["sens_at_fa"]) == {"10", "5", "2.5", "1"}
    assert set(out["szcore"]) == {"sensitivity", "precision", "f1", "fp_per_24h"}
    assert set(out["ovlp"]) == {"sensitivity", "fa_per_24h"}
    assert EVAL_KEYS - {"red_flags"} <= set(out["baseline"])
    assert out["red_flags"] == [] and out["auroc"] > 0.9 and out["ovlp"]["sensitivity"] == 1.0
    assert out["counts"]["targets"] == 3 and out["counts"]["recordings"] == 3
    assert out["baseline"]["auroc"] > 0.8  # line length sees these seizures too
    assert set(out["taes"]) == {"sensitivity", "fa_per_24h"} and 0 < out["taes"]["sensitivity"] <= 1
    table = out["scores"]
    assert table["n_subjects"] == 3 and set(table) == {"n_subjects", "ovlp", "taes", "szcore_event", "szcore_sample"}
    assert table["ovlp"]["pooled"]["sensitivity"] == out["ovlp"]["sensitivity"]
    assert table["szcore_event"]["subject_avg"]["f1"] == out["szcore"]["f1"]
    ops = out["operating_points"]
    assert list(ops) == ["10", "1"] and ops["1"]["tau_on"] == 0.95 and ops["1"]["rule"] == "extrapolated"
    assert ops["10"]["ovlp"] == out["ovlp"]  # the first target is the default operating point
    assert ops["1"]["ovlp"]["fa_per_24h"] <= ops["10"]["ovlp"]["fa_per_24h"]

    reports = tmp_path / "reports" / "eval"
    recs = pd.read_csv(reports / "recordings.csv")
    assert list(recs["rec_id"]) == ["eva_s001_t000", "evb_s001_t000", "evc_s001_t000"]
    assert {"duration_s", "n_ref", "hits", "false_alarms", "auroc"} <= set(recs.columns)
    assert recs["n_ref"].tolist() == [2, 1, 0]
    subjects = pd.read_csv(reports / "subjects.csv")
    assert list(subjects.columns[:6]) == ["subject", "recordings", "hours", "seizures", "detected", "sensitivity"]
    assert set(subjects["subject"]) == {"eva", "evb", "evc"}
    keys = list(zip(subjects["sensitivity"].fillna(1.0), -subjects["fa_per_24h"]))
    assert keys == sorted(keys)  # worst subjects first
    for name, cols in (
        ("roc.csv", ["fpr", "tpr"]),
        ("pr.csv", ["recall", "precision"]),
        ("sens_fa.csv", ["fa_per_24h", "sensitivity"]),
    ):
        df = pd.read_csv(reports / name)
        assert list(df.columns[:2]) == cols and 2 <= len(df) <= 500
    for image in ("examples.png", "roc.png", "pr.png", "sens_fa.png"):  # images render offline
        assert (reports / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", image

    # `brain-brr score` on the hypothesis files agrees with the stage's own OVLP figures
    ref = tmp_path / "ref"
    table = pd.read_parquet(processed / "recordings.parquet")
    for row in table[table["split"] == "eval"].itertuples():
        write_csv_bi(ref / f"{row.rec_id}.csv_bi", [tuple(e) for e in json.loads(row.events)], row.duration_s)
    scores = tmp_path / "s.json"
    cmd = [sys.executable, "-m", "brain_brr", "score", "--ref", str(ref), "--hyp", str(reports / "hyp")]
    cmd += ["--json", str(scores)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["ovlp"] == pytest.approx(out["ovlp"]) and s["szcore"] == pytest.approx(out["szcore"])
    assert s["hits"] == out["counts"]["hits"] and s["false_alarms"] == out["counts"]["false_alarms"]

    (ev,) = _runs("evaluate")
    assert ev.info.status == "FINISHED" and ev.data.tags["red_flags"] == ""
    assert ev.data.tags["brain_brr.train_run_id"] == run_id
    assert ev.data.metrics["ovlp.sensitivity"] == 1.0 and "sens_at_fa.10" in ev.data.metrics
    (tr,) = _runs("train")
    assert tr.data.metrics["auroc"] == pytest.approx(out["auroc"]) and "baseline.auroc" in tr.data.metrics
    assert tr.data.metrics["val_auroc_best"] == 0.9  # the training metrics stay beside them
    assert tr.info.status == "FINISHED"


def test_evaluate_red_flags_fail_both_runs(eval_assets, mlflow_store, tmp_path):
    processed, _, _ = eval_assets
    params = parse_params(tiny_raw(processed))
    bad_train = parse_params(tiny_raw(processed, focal_alpha=0.25))  # trained without the neutral focal alpha
    run_id = _train_run(bad_train)
    from brain_brr.train.model import build_detector

    dead = build_detector(params.model, 64, 1, 20)
    for p in dead.parameters():
        torch.nn.init.zeros_(p)  # logits 0 everywhere: probability 0.5, AUROC 0.5
    save_detector(
        tmp_path / "models" / "detector",
        dead,
        model_config(bad_train, {**THRESHOLDS, "tau_on": 0.9, "tau_off": 0.5}),
    )
    mark_training_run(run_id, tmp_path / "models" / "detector")

    with pytest.raises(RedFlagStop):
        run_stage("evaluate", params)

    out = json.loads((tmp_path / "metrics" / "eval.json").read_text())
    assert set(out["red_flags"]) == {
        "trained_without_defences",
        "eval_auroc_collapse",
        "all_predictions_below_threshold",
    }
    (ev,) = _runs("evaluate")
    assert ev.info.status == "FAILED" and "eval_auroc_collapse" in ev.data.tags["red_flags"]
    (tr,) = _runs("train")
    assert tr.info.status == "FAILED" and "trained_without_defences" in tr.data.tags["red_flags"].split(",")


def test_evaluate_flags_missing_eval_seizures(eval_assets, mlflow_store, tmp_path):
    processed, params, model = eval_assets
    table = pd.read_parquet(processed / "recordings.parquet")
    local = tmp_path / "processed"
    local.mkdir()
    for row in table.itertuples():
        dst = local / row.segment_file
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes((processed / row.segment_file).read_bytes())
    no_sz = table[(table["split"] != "eval") | (table["n_seizures"] == 0)]
    no_sz.to_parquet(local / "recordings.parquet")
    params = parse_params(tiny_raw(local, **{"guards.strict": False}))
    save_detector(tmp_path / "models" / "detector", model, model_config(params, THRESHOLDS))
    mark_training_run(_train_run(params), tmp_path / "models" / "detector")
    run_stage("evaluate", params)  # guards.strict false: finishes, run still FAILED
    out = json.loads((tmp_path / "metrics" / "eval.json").read_text())
    assert "no_eval_seizures" in out["red_flags"] and out["auroc"] is None
    (ev,) = _runs("evaluate")
    assert ev.info.status == "FAILED"
