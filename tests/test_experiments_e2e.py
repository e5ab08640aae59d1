"""End to end: DVC experiments beyond the README's (queued in parallel; the ablation script running a cell of
the hard-corpus recipe) on a tiny corpus, in a copy of the scratch repository of their own (a second xdist
worker runs them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.pipeline_project import _run, _runs, make_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory, mlflow_template) -> Path:
    """A fresh git+DVC repository holding the pipeline, with a tiny corpus configured, reproduced once."""
    return make_project(tmp_path_factory, mlflow_template)


def test_queued_experiments_in_parallel_log_to_workspace_store(project):
    before = len(_runs(project, "tags.`dvc.stage` = 'evaluate'"))
    # A key only evaluate reads: the queue mechanics are tested with the shortest experiments there are.
    _run(["dvc", "exp", "run", "--queue", "-S", "eval.plot_recordings=0"], project)
    _run(["dvc", "exp", "run", "--queue", "-S", "eval.plot_recordings=2"], project)
    _run(["dvc", "exp", "run", "--run-all", "-j", "2"], project)  # starts two queue workers and waits for both
    status = _run(["dvc", "queue", "status"], project).stdout
    assert status.count("Success") == 2 and "Failed" not in status, status
    runs = _runs(project, "tags.`dvc.stage` = 'evaluate'")
    assert len(runs) >= before + 2
    names = {r.data.tags.get("dvc.exp_name") for r in runs}
    assert len([n for n in names if n]) >= 2
    shown = _run(["dvc", "exp", "show", "--no-pager", "--csv"], project).stdout
    assert "focal_alpha" in shown and "auroc" in shown


def test_ablation_script_runs_the_hard_recipe_and_leaves_the_users_edits_alone(project):
    """One ablation cell of the hard-corpus recipe: the script's `-S` switches (difficulty, architecture,
    augmentation) reach every stage of one `dvc exp run --temp`, and the user's workspace stays as it was."""
    params = project / "params.yaml"
    edited = params.read_text() + "# my own note, not committed\n"
    params.write_text(edited)
    model = (project / "models/detector/model.pt").read_bytes()
    proc = _run(
        [sys.executable, "scripts/ablation.py", "--seeds", "0", "--difficulty", "hard", "--settings", "unet+augment"],
        project,
    )
    name = "abl-hard-unet-augment-s0"
    assert f"[ABLATION] dvc exp run --temp -n {name} -S guards.strict=false -S train.seed=0" in proc.stdout
    assert params.read_text() == edited and (project / "models/detector/model.pt").read_bytes() == model
    rows = (project / "reports/ablation/hard/results.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("unet+augment,0,0,"), rows
    log = (project / "reports/ablation/logs" / f"{name}.log").read_text()
    assert "Running stage 'synth'" in log and "Running stage 'train'" in log
    runs = [r for r in _runs(project) if r.data.tags.get("dvc.exp_name") == name]
    by_stage = {r.data.tags.get("dvc.stage"): r for r in runs}
    assert {"synth", "ingest", "train", "thresholds", "evaluate"} <= set(by_stage), sorted(by_stage)
    train = by_stage["train"]
    assert train.data.params["model.arch"] == "unet_transformer" and train.data.params["augment.enabled"] == "True"
    assert train.data.params["synth.difficulty"] == "hard" and train.data.params["augment.mirror_p"] == "0.5"
    assert "auroc" in train.data.metrics  # evaluate logged its metrics into the train run
    params.write_text(edited.replace("# my own note, not committed\n", ""))
