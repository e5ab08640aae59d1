"""Resume integrity: an interruption anywhere can be resumed exactly; a stale checkpoint never is."""

from __future__ import annotations

import json

import pytest
import torch
from mlflow.tracking import MlflowClient

from brain_brr.train.loop import INTERRUPT_AT_ENV
from tests.conftest import stage_main, write_params
from tests.train.conftest import make_processed, tiny_params

STEPS = 5


@pytest.fixture
def project(tmp_path, mlflow_store):
    make_processed(tmp_path, recordings={"train": 3, "dev": 1}, minutes=3.0)
    return tmp_path


def _params(**overrides):
    return tiny_params(**{"train.epochs": 3, "train.steps_per_epoch": STEPS, "model.dropout": 0.2, **overrides})


def _train_runs():
    client = MlflowClient()
    exp = client.get_experiment_by_name("brain-brr")
    return client.search_runs([exp.experiment_id], filter_string="tags.`dvc.stage` = 'train'")


@pytest.mark.parametrize(
    "interrupt_at", [2, STEPS, STEPS + 3], ids=["inside-epoch-1", "end-of-epoch-1", "inside-epoch-2"]
)
def test_interrupted_training_resumes_to_the_same_weights_in_the_same_run(project, capsys, monkeypatch, interrupt_at):
    path = write_params(project / "params.yaml", _params())
    assert stage_main("train", "--params", str(path)) == 0
    full = torch.load(project / "models/checkpoints/last.pt", weights_only=True)
    full_metrics = json.loads((project / "metrics/train.json").read_text())
    capsys.readouterr()

    monkeypatch.setenv(INTERRUPT_AT_ENV, str(interrupt_at))
    assert stage_main("train", "--params", str(path)) == 130
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip() and not ln.startswith("epoch ")]  # no bars
    assert len(err) == 1 and "interrupted (SIGINT" in err[0] and "python stages/train.py --resume" in err[0], err
    interrupted = max(_train_runs(), key=lambda r: r.info.start_time)
    assert interrupted.info.status == "KILLED" and "--resume" in interrupted.data.tags["brain_brr.ended_by"]

    monkeypatch.delenv(INTERRUPT_AT_ENV)
    assert stage_main("train", "--params", str(path), "--resume") == 0
    assert "[TRAIN] resumed from models/checkpoints/last.pt" in capsys.readouterr().out
    resumed = torch.load(project / "models/checkpoints/last.pt", weights_only=True)
    for key, value in full["model"].items():
        assert torch.equal(value, resumed["model"][key]), key
    assert resumed["track"]["history"] == full["track"]["history"]
    assert json.loads((project / "metrics/train.json").read_text()) == full_metrics
    run = MlflowClient().get_run(interrupted.info.run_id)  # one training, one record
    assert run.info.status == "FINISHED" and len(_train_runs()) == 2
    losses = MlflowClient().get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in losses) == list(range(3 * STEPS))


def test_stale_checkpoint_of_other_settings_is_refused(project, capsys):
    """The reported case: a BCE experiment's last.pt, then --resume with the focal params."""
    bce = write_params(project / "bce.yaml", _params(loss="bce", **{"guards.strict": False, "train.epochs": 1}))
    assert stage_main("train", "--params", str(bce)) == 0
    focal = write_params(project / "params.yaml", _params())
    capsys.readouterr()
    assert stage_main("train", "--params", str(focal), "--resume") == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "last.pt: saved for other training settings or data" in line
    assert "loss: checkpoint 'bce', now 'focal'" in line and "train.epochs: checkpoint 1, now 3" in line
    assert "start over with `python stages/train.py`" in line


def test_other_data_is_refused(project, capsys):
    path = write_params(project / "params.yaml", _params(**{"train.epochs": 1}))
    assert stage_main("train", "--params", str(path)) == 0
    make_processed(project, recordings={"train": 3, "dev": 1}, minutes=3.0, seed=7)  # re-ingested, other data
    capsys.readouterr()
    assert stage_main("train", "--params", str(path), "--resume") == 2
    assert "data_version: checkpoint" in capsys.readouterr().err


def test_a_fresh_start_leaves_nothing_stale_to_resume(project, capsys, monkeypatch):
    path = write_params(project / "params.yaml", _params(**{"train.epochs": 1}))
    assert stage_main("train", "--params", str(path)) == 0
    assert (project / "models/checkpoints/last.pt").is_file()
    # A new training that dies before its first checkpoint (a configuration red flag here) removed the old one.
    alpha = write_params(project / "alpha.yaml", _params(focal_alpha=0.25))
    assert stage_main("train", "--params", str(alpha)) == 3
    capsys.readouterr()
    assert stage_main("train", "--params", str(path), "--resume") == 2
    assert "nothing to resume" in capsys.readouterr().err
