import json

import pytest
import torch
from mlflow.tracking import MlflowClient

from brain_brr.tracking.run import MODEL_DIGEST_TAG, model_digest
from brain_brr.train.model import load_detector
from tests.conftest import run_stage
from tests.train.conftest import make_processed, tiny_params

TRAIN_KEYS = {
    "focal_alpha",
    "focal_gamma",
    "pos_weight_used",
    "batch_pos_ratio_mean",
    "batch_pos_ratio_min",
    "zero_pos_batches",
    "val_auroc_first",
    "val_auroc_best",
    "epochs",
    "red_flags",
}


def _runs():
    exp = MlflowClient().get_experiment_by_name("brain-brr")
    return MlflowClient().search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"])


def test_short_training_learns(tmp_path, mlflow_store, capsys):
    make_processed(tmp_path)
    params = tiny_params()
    run_stage("train", params)
    out = capsys.readouterr().out
    assert "[INIT] Using FOCAL loss (alpha=0.5, gamma=2.0)" in out
    assert "[SAMPLER] Creating positive-aware balanced sampler..." in out
    assert "[RED FLAG]" not in out
    metrics = json.loads((tmp_path / "metrics/train.json").read_text())
    assert set(metrics) >= TRAIN_KEYS
    assert metrics["val_auroc_best"] > 0.8, metrics
    assert metrics["zero_pos_batches"] == 0 and metrics["batch_pos_ratio_min"] >= 2 / 16
    assert metrics["red_flags"] == [] and metrics["epochs"] == 3
    stats = json.loads((tmp_path / "metrics/stats.json").read_text())
    assert metrics["pos_weight_used"] == pytest.approx(stats["train"]["pos_weight"])
    run = _runs()[0]
    assert run.info.status == "FINISHED"
    assert run.data.metrics["check.every_batch_has_positive"] == 1.0
    assert run.data.metrics["check.focal_loss"] == 1.0
    hist = MlflowClient().get_metric_history(run.info.run_id, "loss")
    assert len(hist) == 3 * params.train.steps_per_epoch
    model, config = load_detector(tmp_path / "models/detector")
    assert "mlflow_run_id" not in config  # the bytes of the model directory name no run: the run names them
    assert run.data.tags[MODEL_DIGEST_TAG] == model_digest(tmp_path / "models/detector")
    assert "thresholds" not in config  # chosen on dev by the next stage
    assert "workers" not in config["data"] and "mlflow" not in config["train_params"]  # only what made the model
    assert model(torch.zeros(1, 19, 20 * 64)).shape == (1, 20)
    lines = (tmp_path / "reports/train/history.csv").read_text().splitlines()
    assert lines[0] == "epoch,val_auroc,val_pred_pos_rate,loss,lr" and len(lines) == 4
    assert (tmp_path / "reports/train/history.png").read_bytes()[:4] == b"\x89PNG"
    assert not MlflowClient().search_model_versions("name = 'brain-brr-detector'")

    run_stage("thresholds", params)
    _, config = load_detector(tmp_path / "models/detector")
    assert {"tau_on", "tau_off", "min_duration_s", "merge_gap_s", "max_duration_s"} <= set(config["thresholds"])
    (version,) = MlflowClient().search_model_versions("name = 'brain-brr-detector'")
    assert version.run_id == run.info.run_id  # registered, with the train run as its source
    assert MlflowClient().get_run(run.info.run_id).info.status == "FINISHED"


def test_pos_weight_from_sampled_batches(tmp_path, mlflow_store, capsys):
    from brain_brr.data.loader import WindowDataset, create_balanced_sampler, sampled_label_ratio

    make_processed(tmp_path, recordings={"train": 3, "dev": 1}, minutes=3.0)
    params = tiny_params(**{"train.pos_weight_source": "batches", "train.epochs": 1, "train.steps_per_epoch": 4})
    run_stage("train", params)
    ds = WindowDataset(tmp_path / "data/processed", "train", params.data)
    expected = sampled_label_ratio(
        create_balanced_sampler(ds, params, seizure_ratio=0.1, verbose=False), ds.seizure_frac, 50
    )
    used = json.loads((tmp_path / "metrics/train.json").read_text())["pos_weight_used"]
    corpus = json.loads((tmp_path / "metrics/stats.json").read_text())["train"]["pos_weight"]
    assert used == pytest.approx(expected) and abs(used - corpus) > 1.0
