"""End to end: DVC experiments beyond the README's (queued in parallel, the ablation script, the hard-corpus
recipe) on a tiny corpus, in a temporary git repository of their own (a second xdist worker runs them)."""

from __future__ import annotations

import sys
import time
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
    # Post-processing settings: only thresholds and evaluate rerun, so the queue mechanics are tested in seconds.
    _run(["dvc", "exp", "run", "--queue", "-S", "eval.min_duration_s=5"], project)
    _run(["dvc", "exp", "run", "--queue", "-S", "eval.min_duration_s=8"], project)
    _run(["dvc", "queue", "start", "-j", "2"], project)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = _run(["dvc", "queue", "status"], project).stdout
        if "Running" not in status and "Queued" not in status:
            break
        time.sleep(5)
    assert "Failed" not in status, status
    runs = _runs(project, "tags.`dvc.stage` = 'evaluate'")
    assert len(runs) >= before + 2
    names = {r.data.tags.get("dvc.exp_name") for r in runs}
    assert len([n for n in names if n]) >= 2
    shown = _run(["dvc", "exp", "show", "--no-pager", "--csv"], project).stdout
    assert "focal_alpha" in shown and "auroc" in shown


def test_ablation_script_leaves_the_users_edits_alone(project):
    params = project / "params.yaml"
    edited = params.read_text() + "# my own note, not committed\n"
    params.write_text(edited)
    model = (project / "models/detector/model.pt").read_bytes()
    proc = _run([sys.executable, "scripts/ablation.py", "--seeds", "0", "--settings", "defences"], project)
    assert "[ABLATION] dvc exp run --temp -n abl-defences-s0" in proc.stdout
    assert params.read_text() == edited and (project / "models/detector/model.pt").read_bytes() == model
    rows = (project / "reports/ablation/results.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("defences,0,0,")
    params.write_text(edited.replace("# my own note, not committed\n", ""))


def test_exp_hard_corpus_larger_model_and_augmentation(project):
    """The recipe switches of the hard-corpus ablation are plain `-S` overrides of one experiment."""
    recipe = ["synth.difficulty=hard", "model.arch=unet_transformer", "model.width=8", "model.depth=1"]
    recipe += ["model.heads=2", "augment.enabled=true", "guards.strict=false"]
    cmd = ["dvc", "exp", "run", "--temp", "-n", "hard-recipe", *(a for o in recipe for a in ("-S", o))]
    proc = _run(cmd, project, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Running stage 'synth'" in out and "Running stage 'train'" in out
    runs = [r for r in _runs(project) if r.data.tags.get("dvc.exp_name") == "hard-recipe"]
    by_stage = {r.data.tags.get("dvc.stage"): r for r in runs}
    assert {"synth", "train", "evaluate"} <= set(by_stage), sorted(by_stage)
    train = by_stage["train"]
    assert train.data.params["model.arch"] == "unet_transformer" and train.data.params["augment.enabled"] == "True"
    assert train.data.params["synth.difficulty"] == "hard" and train.data.params["augment.mirror_p"] == "0.5"
    assert "auroc" in train.data.metrics  # evaluate logged its metrics into the train run
