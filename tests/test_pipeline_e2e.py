"""End to end: `dvc repro` and `dvc exp run` on a tiny corpus, in a temporary git repository.

These drive DVC itself (real git repo, real stages, real MLflow sqlite store at the
repo root), as a user would.
"""

from __future__ import annotations

import json
import os
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
    for folder in ("src", "stages"):
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


def test_every_stage_logged_to_the_repo_root_store(project):
    runs = _runs(project)
    stages = {r.data.tags.get("dvc.stage") for r in runs}
    assert {"ingest", "stats", "train", "evaluate"} <= stages
    assert all(r.info.status == "FINISHED" for r in runs)
    (train_run,) = [r for r in runs if r.data.tags["dvc.stage"] == "train"]
    # Eval metrics land in the training run so the comparison view shows params beside them.
    assert "auroc" in train_run.data.metrics and "focal_alpha" in train_run.data.params


def test_repro_is_up_to_date_the_second_time(project):
    proc = _run(["dvc", "status"], project)
    assert "changed" not in proc.stdout, proc.stdout


def test_exp_alpha_025_stops_with_red_flag(project):
    proc = _run(["dvc", "exp", "run", "-S", "focal_alpha=0.25"], project, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "[INIT] FOCAL: alpha != 0.5 → disabling pos_weight to avoid double-counting" in out
    assert "[RED FLAG] focal_alpha_not_neutral" in out
    failed = _runs(project, "attributes.status = 'FAILED'")
    assert any(
        "focal_alpha_not_neutral" in r.data.tags.get("red_flags", "") and r.data.tags.get("dvc.exp_name")
        for r in failed
    )


def test_exp_balanced_sampling_off_non_strict_completes_as_failed(project):
    proc = _run(
        ["dvc", "exp", "run", "-S", "use_balanced_sampling=false", "-S", "guards.strict=false"], project, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "[RED FLAG] balanced_sampling_off" in out
    runs = _runs(project, "tags.`dvc.stage` = 'train'")
    flagged = [r for r in runs if "balanced_sampling_off" in r.data.tags.get("red_flags", "")]
    assert flagged and all(r.info.status == "FAILED" for r in flagged)


def test_queued_experiments_in_parallel_log_to_workspace_store(project):
    before = len(_runs(project, "tags.`dvc.stage` = 'train'"))
    _run(["dvc", "exp", "run", "--queue", "-S", "train.seed=11"], project)
    _run(["dvc", "exp", "run", "--queue", "-S", "train.seed=12"], project)
    _run(["dvc", "queue", "start", "-j", "2"], project)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = _run(["dvc", "queue", "status"], project).stdout
        if "Running" not in status and "Queued" not in status:
            break
        time.sleep(5)
    assert "Failed" not in status, status
    runs = _runs(project, "tags.`dvc.stage` = 'train'")
    assert len(runs) >= before + 2
    names = {r.data.tags.get("dvc.exp_name") for r in runs}
    assert len([n for n in names if n]) >= 2
    shown = _run(["dvc", "exp", "show", "--no-pager", "--csv"], project).stdout
    assert "focal_alpha" in shown and "auroc" in shown
