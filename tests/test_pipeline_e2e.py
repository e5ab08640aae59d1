"""End to end: `dvc repro` and `dvc exp run` on a tiny corpus, in a temporary git repository.

These drive DVC itself (real git repo, real stages, real MLflow sqlite store at the
repo root), as a user would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import REPO

pytestmark = pytest.mark.slow

TINY = {
    "synth": {"patients": 6, "minutes": 6, "seed": 1},
    "train": {
        "epochs": 2,
        "steps_per_epoch": 12,
        "batch_size": 8,
        "warmup_steps": 4,
        "max_val_windows": 120,
        "patience": 2,
    },
    "model": {"width": 16, "depth": 2},
    "data": {"workers": 1},
    "eval": {"plot_recordings": 1},
}


def _deep_update(d: dict, u: dict) -> dict:
    for k, v in u.items():
        d[k] = _deep_update(d.get(k, {}), v) if isinstance(v, dict) else v
    return d


def _run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    env = os.environ.copy()
    env.pop("MLFLOW_TRACKING_URI", None)  # the contract's default: <repo root>/mlflow.db
    env.pop("DVC_ROOT", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nSTDOUT:\n{proc.stdout[-6000:]}\nSTDERR:\n{proc.stderr[-4000:]}"
        )
    return proc


@pytest.fixture(scope="module")
def project(tmp_path_factory, mlflow_template) -> Path:
    """A fresh git+DVC repository holding the pipeline, with a tiny corpus configured, reproduced once."""
    root = tmp_path_factory.mktemp("project")
    for name in ("dvc.yaml", "params.yaml", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    for folder in ("src", "stages", "scripts"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    params = yaml.safe_load((root / "params.yaml").read_text())
    (root / "params.yaml").write_text(yaml.safe_dump(_deep_update(params, TINY), sort_keys=False))
    _run(["git", "init", "-q"], root)
    _run(["git", "config", "user.email", "test@brain-brr.invalid"], root)
    _run(["git", "config", "user.name", "brain-brr test"], root)
    _run(["dvc", "init", "-q"], root)
    shutil.copy(mlflow_template, root / "mlflow.db")  # an empty store, schema already migrated
    _run(["dvc", "config", "core.analytics", "false"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "pipeline"], root)
    proc = _run(["dvc", "repro"], root)
    (root / "repro.log").write_text(proc.stdout + proc.stderr)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "repro"], root)
    return root


def _client(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


def _runs(root: Path, filter_string: str = "") -> list:
    client = _client(root)
    exp = client.get_experiment_by_name("brain-brr")
    return client.search_runs([exp.experiment_id], filter_string=filter_string, max_results=1000)


def test_repro_produces_every_metrics_file(project):
    log = (project / "repro.log").read_text()
    assert "[INIT] Using FOCAL loss (alpha=0.5, gamma=2.0)" in log
    assert "[SAMPLER] Creating positive-aware balanced sampler..." in log
    assert "[RED FLAG]" not in log
    stats = json.loads((project / "metrics/stats.json").read_text())
    for split in ("train", "dev", "eval"):
        assert stats[split]["n_recordings"] > 0
        assert 0 < stats[split]["seizure_ratio"] < 0.5
    train = json.loads((project / "metrics/train.json").read_text())
    assert train["zero_pos_batches"] == 0 and train["red_flags"] == []
    assert train["pos_weight_used"] == pytest.approx(stats["train"]["pos_weight"], rel=1e-6)
    ev = json.loads((project / "metrics/eval.json").read_text())
    assert set(ev["sens_at_fa"]) == {"10", "5", "2.5", "1"}
    assert set(ev["szcore"]) >= {"sensitivity", "precision", "f1", "fp_per_24h"}
    assert set(ev["ovlp"]) >= {"sensitivity", "fa_per_24h"}
    report = json.loads((project / "reports/ingest_report.json").read_text())
    assert (
        report["ingested"]
        == stats["train"]["n_recordings"] + stats["dev"]["n_recordings"] + stats["eval"]["n_recordings"]
    )
    assert (project / "models/detector/config.json").is_file()


def test_one_parent_run_holds_the_stage_runs_of_the_repro(project):
    runs = _runs(project)
    (parent,) = [r for r in runs if r.data.tags.get("brain_brr.role") == "pipeline"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert {r.data.tags["dvc.stage"] for r in children} == {
        "validate",
        "synth",
        "ingest",
        "stats",
        "train",
        "thresholds",
        "evaluate",
    }
    head = _run(["git", "rev-parse", "HEAD~1"], project).stdout.strip()  # the commit `dvc repro` ran on
    assert parent.info.run_name.startswith(f"workspace@{head[:7]}-") and parent.info.status == "FINISHED"
    assert all(
        r.info.status == "FINISHED" and r.info.run_name == f"{parent.info.run_name}/{r.data.tags['dvc.stage']}"
        for r in children
    )
    assert all(r.data.tags["mlflow.source.git.commit"] == head for r in [parent, *children])
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    processed = next(o["md5"] for o in lock["stages"]["ingest"]["outs"] if o["path"] == "data/processed")
    (train_run,) = [r for r in children if r.data.tags["dvc.stage"] == "train"]
    assert train_run.data.tags["dvc.data_version"] == processed == parent.data.tags["dvc.data_version"]
    (ingest_run,) = [r for r in children if r.data.tags["dvc.stage"] == "ingest"]
    assert "dvc.data_version" not in ingest_run.data.tags  # it writes the data: no version yet
    # Eval metrics land in the training run (params beside them) and in the parent.
    assert "auroc" in train_run.data.metrics and "focal_alpha" in train_run.data.params
    assert "auroc" in parent.data.metrics and parent.data.params["focal_alpha"] == "0.5"
    assert {d.dataset.name for d in train_run.inputs.dataset_inputs} == {"train windows", "dev windows", "eval windows"}
    assert all(d.dataset.digest.startswith(processed[:12]) for d in train_run.inputs.dataset_inputs)
    (version,) = _client(project).search_model_versions("name = 'brain-brr-detector'")
    assert version.run_id == train_run.info.run_id and "eval.auroc" in version.tags
    artifacts = project / "mlartifacts"
    assert artifacts.is_dir() and not (project / "mlruns").exists()


def test_repro_is_up_to_date_the_second_time(project):
    proc = _run(["dvc", "status"], project)
    assert "changed" not in proc.stdout, proc.stdout


def _readme_experiments() -> list[tuple[str, str]]:
    """(command, comment) of each `dvc exp run` line of the README's first "Running experiments" block."""
    text = (REPO / "README.md").read_text()
    block = text.split("## Running experiments", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [ln for ln in block.splitlines() if ln.startswith("dvc exp run")]
    return [tuple(part.strip() for part in ln.split("#", 1)) for ln in lines]


def test_readme_experiments_do_what_the_readme_says_in_order(project):
    steps = _readme_experiments()
    assert len(steps) >= 6
    before = (project / "params.yaml").read_text()
    for command, comment in steps:
        proc = _run(command.split(), project, check=False)
        out = proc.stdout + proc.stderr
        if comment.startswith("stops:"):
            expected = comment.removeprefix("stops:").strip()
            assert proc.returncode == 255, (command, out[-3000:])
            assert expected in out, (command, out[-3000:])
            if "[RED FLAG]" in expected:
                assert out.count(expected) == 1, (command, out[-3000:])  # printed once
                assert "exited with 3" in out
            else:
                assert "exited with 2" in out
        else:
            assert comment.startswith("runs to the end"), comment
            assert proc.returncode == 0, (command, out[-3000:])
            if "only thresholds and evaluate rerun" in comment:  # post-processing never retrains
                assert "Running stage 'thresholds'" in out and "Running stage 'evaluate'" in out, out[-3000:]
                assert "Running stage 'train'" not in out and "Running stage 'ingest'" not in out, out[-3000:]
        # --temp: the workspace never changes
        assert (project / "params.yaml").read_text() == before, command
        assert (project / "models/detector/model.pt").is_file()
        assert "modified" not in _run(["git", "status", "--short", "params.yaml"], project).stdout
    failed = [r for r in _runs(project, "attributes.status = 'FAILED'") if r.data.tags.get("dvc.exp_name")]
    assert any("focal_alpha_not_neutral" in r.data.tags.get("red_flags", "") for r in failed)
    parents = _runs(project, "tags.`brain_brr.role` = 'pipeline'")
    valid = [c for c, comment in steps if "did you mean" not in comment]  # invalid params stop before any run opens
    assert len(parents) == 1 + len(valid)  # the repro and one per experiment


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


def test_truncated_segment_is_named_and_dvc_repro_ingest_repairs_it(project):
    status = _run(["dvc", "status"], project).stdout
    segment = sorted((project / "data/processed/segments/train").glob("*.parquet"))[0]
    intact = segment.read_bytes()
    segment.write_bytes(intact[: len(intact) // 2])  # a disk or copy fault
    proc = _run([sys.executable, "stages/train.py"], project, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"{segment}: segment file truncated or not a Parquet file (Parquet magic bytes not found in footer. "
        "Either the file is corrupted or this is not a parquet file.); "
        "rewrite it with `dvc repro ingest` (add -f if DVC says nothing changed)"
    )
    assert "modified:           data/processed" in _run(["dvc", "status"], project).stdout
    log = _run(["dvc", "repro", "ingest"], project).stdout
    repaired = re.search(r"\[INGEST\] (\d+) ingested \((\d+) reused\)", log)
    assert int(repaired.group(2)) == int(repaired.group(1)) - 1  # only the damaged recording is ingested again
    assert segment.read_bytes() == intact
    assert _run(["dvc", "status"], project).stdout == status  # every later stage is as up to date as before


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
