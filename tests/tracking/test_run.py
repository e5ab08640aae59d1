import os
import signal
import subprocess
import sys
import time

import pytest
from mlflow.tracking import MlflowClient

from brain_brr.config import parse_params
from brain_brr.errors import RedFlagStop
from brain_brr.tracking.run import StageRun, repo_root, store_root, tracking_uri


def _runs(stage):
    client = MlflowClient()
    exp = client.get_experiment_by_name("brain-brr")
    return client.search_runs([exp.experiment_id], filter_string=f"tags.`dvc.stage` = '{stage}'")


def test_tracking_uri_rule(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    workspace, parent = tmp_path / "exp-temp", tmp_path / "parent"
    (workspace / "sub").mkdir(parents=True)
    (workspace / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(workspace / "sub")
    assert repo_root() == workspace.resolve() == store_root()
    assert tracking_uri() == f"sqlite:///{workspace.resolve() / 'mlflow.db'}"
    # Queued experiments: DVC points DVC_ROOT at the parent repo; the store follows, data paths do not.
    monkeypatch.setenv("DVC_ROOT", str(parent))
    assert repo_root() == workspace.resolve()
    assert tracking_uri() == f"sqlite:///{parent.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/x.db")
    assert tracking_uri() == "sqlite:////elsewhere/x.db"


def test_clean_run_finishes_with_contract_tags(mlflow_store, monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "exp-abc")
    with StageRun("stats", parse_params({})) as run:
        run.check("something", True)
    (r,) = _runs("stats")
    assert r.info.status == "FINISHED"
    assert r.data.tags["dvc.exp_name"] == "exp-abc"
    assert r.data.tags["red_flags"] == ""
    assert r.data.params["focal_alpha"] == "0.5"
    assert r.data.metrics["check.something"] == 1.0


def test_strict_red_flag_stops_and_fails_run(mlflow_store, capsys):
    with pytest.raises(RedFlagStop), StageRun("train", parse_params({})) as run:
        run.flag("demo_flag", "something is off")
    assert "[RED FLAG] demo_flag: something is off" in capsys.readouterr().out
    (r,) = _runs("train")
    assert r.info.status == "FAILED"
    assert r.data.tags["red_flags"] == "demo_flag"


def test_non_strict_red_flag_completes_but_fails(mlflow_store):
    with StageRun("train", parse_params({"guards": {"strict": False}})) as run:
        run.flag("a", "first")
        run.flag("b", "second")
        run.metrics({"x": 1.0, "nested": {"y": 2}})
    (r,) = _runs("train")
    assert r.info.status == "FAILED"
    assert r.data.tags["red_flags"] == "a,b"
    assert r.data.metrics["nested.y"] == 2.0


def test_interrupted_run_ends_killed(mlflow_store):
    with pytest.raises(KeyboardInterrupt), StageRun("ingest", parse_params({})):
        raise KeyboardInterrupt
    (r,) = _runs("ingest")
    assert r.info.status == "KILLED" and r.data.tags["brain_brr.ended_by"].startswith("interrupted")


def test_sigkilled_stage_is_closed_on_next_start(mlflow_store, tmp_path):
    code = (
        "import time\n"
        "from brain_brr.config import parse_params\n"
        "from brain_brr.tracking.run import StageRun\n"
        "with StageRun('ingest', parse_params({})):\n"
        "    print('started', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    assert proc.stdout.readline().strip() == "started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (r,) = _runs("ingest")
    assert r.info.status == "RUNNING"
    with StageRun("stats", parse_params({})):
        pass
    (r,) = _runs("ingest")
    assert r.info.status == "KILLED"


def test_sigterm_ends_run_killed(mlflow_store):
    code = (
        "import time\n"
        "from brain_brr.config import parse_params\n"
        "from brain_brr.tracking.run import StageRun\n"
        "with StageRun('train', parse_params({})):\n"
        "    print('started', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    (r,) = _runs("train")
    assert r.info.status == "KILLED"


def test_stage_runs_of_one_experiment_nest_under_one_parent(mlflow_store, monkeypatch, tmp_path):
    monkeypatch.setenv("DVC_EXP_NAME", "exp-xyz")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "a" * 40)
    params = parse_params({"guards": {"strict": False}})
    with StageRun("validate", params) as first:
        pass
    with StageRun("train", params) as second:
        second.flag("demo_flag", "something is off")
        second.artifact(tmp_path / "mlflow.db")
    client = MlflowClient()
    exp = client.get_experiment_by_name("brain-brr")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    parents = client.search_runs([exp.experiment_id], filter_string="tags.`brain_brr.role` = 'pipeline'")
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.run_name == "exp-xyz" and parent.info.status == "FAILED"
    assert parent.data.tags["red_flags"] == "demo_flag" and parent.data.params["focal_alpha"] == "0.5"
    assert parent.data.params["synth.difficulty"] == "standard" and parent.data.params["augment.enabled"] == "False"
    for child, stage in ((first, "validate"), (second, "train")):
        run = client.get_run(child.run_id)
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.run_name == f"exp-xyz/{stage}"
        assert run.data.tags["dvc.exp_name"] == "exp-xyz" and run.data.tags["dvc.exp_baseline_rev"] == "a" * 40
        assert len(run.data.tags["brain_brr.params_hash"]) == 8
    # Artifacts land in <repo root>/mlartifacts even when MLFLOW_TRACKING_URI names the sqlite store.
    assert client.get_run(second.run_id).info.artifact_uri.startswith((tmp_path / "mlartifacts").as_uri())


def test_a_stage_run_by_hand_has_no_parent(mlflow_store):
    with StageRun("stats", parse_params({})) as run:
        pass
    r = MlflowClient().get_run(run.run_id)
    assert "mlflow.parentRunId" not in r.data.tags and r.info.run_name.startswith("stats@")
