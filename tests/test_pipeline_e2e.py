"""End to end: `dvc repro` and `dvc exp run` on a tiny corpus, in a temporary git repository.

These drive DVC itself (real git repo, real stages, real MLflow sqlite store at the
repo root), as a user would.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.pipeline_project import _client, _run, _runs, make_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory, mlflow_template) -> Path:
    """A fresh git+DVC repository holding the pipeline, with a tiny corpus configured, reproduced once."""
    return make_project(tmp_path_factory, mlflow_template)


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
