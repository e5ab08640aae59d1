"""Every red flag driven through the real stage files (`python stages/<stage>.py`).

Each test reaches the condition for real (a corpus that leaks a patient, a model
that genuinely collapses, ...) and checks the exit code, the `[RED FLAG]` line and
the run's `FAILED` status read back from MLflow.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from mlflow.tracking import MlflowClient

from brain_brr.cli import main
from brain_brr.data.annotations import write_csv_bi
from tests.conftest import stage_main
from tests.train.conftest import make_processed, tiny_params


def _write_params(tmp_path, params) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params.model_dump() if hasattr(params, "model_dump") else params))
    return str(path)


def _last_run(stage: str):
    client = MlflowClient()
    exp = client.get_experiment_by_name("brain-brr")
    runs = client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`dvc.stage` = '{stage}'", order_by=["attributes.start_time DESC"]
    )
    return runs[0]


def _assert_flagged(capsys, stage: str, flag: str, exit_code: int, code: int) -> None:
    out = capsys.readouterr().out
    assert code == exit_code, out[-3000:]
    assert f"[RED FLAG] {flag}: " in out, out[-3000:]
    run = _last_run(stage)
    assert run.info.status == "FAILED"
    assert flag in run.data.tags["red_flags"].split(",")


# ----------------------------------------------------------------------------- train stage
@pytest.mark.parametrize(
    "overrides, flag",
    [
        ({"focal_alpha": 0.25}, "focal_alpha_not_neutral"),
        ({"loss": "bce"}, "loss_not_focal"),
        ({"use_balanced_sampling": False}, "balanced_sampling_off"),
        ({"pos_weight": "none"}, "pos_weight_off"),
    ],
)
def test_train_start_flags_stop_before_any_data_is_read(tmp_path, mlflow_store, capsys, overrides, flag):
    # No data/processed at all: the configuration alone decides, before anything is loaded.
    code = stage_main("train", "--params", _write_params(tmp_path, tiny_params(**overrides)))
    captured = capsys.readouterr()
    assert code == 3 and captured.out.count(f"[RED FLAG] {flag}: ") == 1, captured.out
    assert "[TRAIN] epoch" not in captured.out and "[SAMPLER]" not in captured.out
    assert captured.err.strip() == f"train stopped by red flag(s): {flag} (exit 3; see the [RED FLAG] lines above)"
    run = _last_run("train")
    assert run.info.status == "FAILED" and run.data.tags["red_flags"] == flag
    metrics = json.loads((tmp_path / "metrics/train.json").read_text())
    assert metrics["red_flags"] == [flag] and metrics["pos_weight_used"] is None and metrics["epochs"] == 0
    assert not (tmp_path / "models/detector/model.pt").exists()


def test_alpha_guard_line_and_checklist(tmp_path, mlflow_store, capsys):
    assert stage_main("train", "--params", _write_params(tmp_path, tiny_params(focal_alpha=0.25))) == 3
    out = capsys.readouterr().out
    assert "[INIT] Using FOCAL loss (alpha=0.25, gamma=2.0)" in out
    assert "[INIT] FOCAL: alpha != 0.5 → disabling pos_weight to avoid double-counting" in out
    metrics = _last_run("train").data.metrics
    assert metrics["check.alpha_neutral"] == 0.0 and metrics["check.pos_weight_used"] == 0.0
    assert metrics["check.focal_loss"] == 1.0 and metrics["check.balanced_sampler"] == 1.0


def test_no_positive_window_stops_even_when_not_strict(tmp_path, mlflow_store, capsys):
    make_processed(tmp_path, recordings={"train": 2, "dev": 1}, minutes=1.0, seizures_per_rec=0)
    code = stage_main("train", "--params", _write_params(tmp_path, tiny_params(**{"guards.strict": False})))
    _assert_flagged(capsys, "train", "no_positive_windows", 3, code)


def test_train_start_flag_non_strict_runs_to_the_end_but_fails(tmp_path, mlflow_store, capsys):
    make_processed(tmp_path, recordings={"train": 2, "dev": 1}, minutes=2.0)
    params = tiny_params(focal_alpha=0.25, **{"guards.strict": False, "train.epochs": 1, "train.steps_per_epoch": 3})
    code = stage_main("train", "--params", _write_params(tmp_path, params))
    _assert_flagged(capsys, "train", "focal_alpha_not_neutral", 0, code)
    assert (tmp_path / "models/detector/model.pt").exists()
    # With its thresholds the model is logged to the train run, but a red-flagged training never registers a version.
    assert stage_main("thresholds", "--params", _write_params(tmp_path, params)) == 0
    client = MlflowClient()
    assert client.search_model_versions("name = 'brain-brr-detector'") == []
    train = _last_run("train")
    assert client.search_logged_models([train.info.experiment_id])
    assert client.get_run(train.info.run_id).info.status == "FAILED"  # logging the model left its status alone


def test_genuinely_collapsing_model(tmp_path, mlflow_store, capsys):
    # Plain BCE, shuffled batches, no pos_weight and 5 s of seizure per 8 minutes: the model
    # learns the prior and predicts "no seizure" everywhere; small batches hold no seizure.
    make_processed(tmp_path, recordings={"train": 6, "dev": 2}, minutes=8.0, seizure_s=5.0)
    params = tiny_params(
        loss="bce",
        use_balanced_sampling=False,
        pos_weight="none",
        **{
            "guards.strict": False,
            "train.epochs": 2,
            "train.steps_per_epoch": 6,
            "train.lr": 2e-2,
            "train.warmup_steps": 0,
        },
    )
    code = stage_main("train", "--params", _write_params(tmp_path, params))
    out = capsys.readouterr().out
    assert code == 0
    flags = json.loads((tmp_path / "metrics/train.json").read_text())["red_flags"]
    expected = {
        "loss_not_focal",
        "balanced_sampling_off",
        "pos_weight_off",
        "zero_positive_batch",
        "low_batch_pos_ratio",
        "all_predictions_zero",
    }
    assert expected <= set(flags) <= expected | {"auroc_collapse"}, flags
    for name in flags:
        assert out.count(f"[RED FLAG] {name}: ") == 1
    metrics = json.loads((tmp_path / "metrics/train.json").read_text())
    assert metrics["zero_pos_batches"] > 0 and metrics["batch_pos_ratio_min"] == 0.0
    run = _last_run("train")
    assert run.info.status == "FAILED" and set(run.data.tags["red_flags"].split(",")) == set(flags)
    assert run.data.metrics["check.every_batch_has_positive"] == 0.0


def test_mid_training_flag_in_strict_mode_stops_after_the_epoch(tmp_path, mlflow_store, capsys):
    # Balanced sampling on, but a target of 5% positives and no minimum above 1 in 16-window
    # batches: the sampler keeps its guarantee, the mean positive ratio stays under the 10% guard.
    make_processed(tmp_path, recordings={"train": 3, "dev": 1}, minutes=3.0)
    params = tiny_params(
        **{
            "sampler.target_pos_fraction": 0.05,
            "sampler.min_pos_per_batch": 1,
            "train.epochs": 3,
            "train.steps_per_epoch": 4,
        }
    )
    code = stage_main("train", "--params", _write_params(tmp_path, params))
    _assert_flagged(capsys, "train", "low_batch_pos_ratio", 3, code)
    metrics = json.loads((tmp_path / "metrics/train.json").read_text())
    assert (
        metrics["epochs"] == 1 and metrics["red_flags"] == ["low_batch_pos_ratio"] and metrics["zero_pos_batches"] == 0
    )
    assert (tmp_path / "models/checkpoints/last.pt").is_file()


# ----------------------------------------------------------------------------- ingest / stats
@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus") / "synth"
    assert main(["synth", str(root), "--patients", "4", "--minutes", "3", "--seed", "3"]) == 0
    return root


def _ingest_params(tmp_path, corpus) -> str:
    raw = {"data": {"root": str(corpus), "processed": str(tmp_path / "processed"), "workers": 1}}
    return _write_params(tmp_path, raw)


def test_patient_in_two_splits_is_leakage(tmp_path, mlflow_store, capsys, small_corpus):
    corpus = tmp_path / "leaky"
    shutil.copytree(small_corpus, corpus)
    # The same patient recorded again in a later session, filed under dev: the 80/20 file-split leak.
    patient = next((corpus / "edf/train").iterdir())
    session = next(patient.iterdir())
    new_session = "s099" + session.name[4:]
    target = corpus / "edf/dev" / patient.name / new_session
    shutil.copytree(session, target)
    for f in list(target.rglob("*")):
        if f.is_file():
            f.rename(f.with_name(f.name.replace(session.name[:4], "s099")))
    code = stage_main("ingest", "--params", _ingest_params(tmp_path, corpus))
    _assert_flagged(capsys, "ingest", "patient_leakage", 3, code)


def test_train_split_without_seizures(tmp_path, mlflow_store, capsys, small_corpus):
    corpus = tmp_path / "seizure-free"
    shutil.copytree(small_corpus, corpus)
    for edf in (corpus / "edf/train").rglob("*.edf"):
        edf.with_suffix(".csv").unlink()
        duration = float(
            next(line for line in edf.with_suffix(".csv_bi").read_text().splitlines() if "duration" in line)
            .split("=")[1]
            .split()[0]
        )
        write_csv_bi(edf.with_suffix(".csv_bi"), [], duration)
    code = stage_main("ingest", "--params", _ingest_params(tmp_path, corpus))
    _assert_flagged(capsys, "ingest", "no_train_seizures", 3, code)


def test_unreadable_corpus_beyond_the_skip_budget(tmp_path, mlflow_store, capsys, small_corpus):
    corpus = tmp_path / "broken"
    shutil.copytree(small_corpus, corpus)
    edfs = sorted(corpus.rglob("*.edf"))
    for edf in edfs[: len(edfs) // 2]:
        edf.write_bytes(edf.read_bytes()[:300])  # a truncated header: unreadable
    code = stage_main("ingest", "--params", _ingest_params(tmp_path, corpus))
    _assert_flagged(capsys, "ingest", "too_many_skipped", 3, code)
    report = json.loads((tmp_path / "reports/ingest_report.json").read_text())
    assert {s["path"] for s in report["skipped"]} >= {str(e.relative_to(corpus)) for e in edfs[: len(edfs) // 2]}


def test_red_flags_survive_an_interruption_and_resume(tmp_path, mlflow_store, capsys, monkeypatch):
    from brain_brr.train.loop import INTERRUPT_AT_ENV

    make_processed(tmp_path, recordings={"train": 3, "dev": 1}, minutes=3.0)
    params = tiny_params(
        **{
            "sampler.target_pos_fraction": 0.05,
            "sampler.min_pos_per_batch": 1,
            "guards.strict": False,
            "train.epochs": 3,
            "train.steps_per_epoch": 3,
        }
    )
    path = _write_params(tmp_path, params)
    monkeypatch.setenv(INTERRUPT_AT_ENV, "4")  # inside epoch 2, after the flag of epoch 1
    assert stage_main("train", "--params", path) == 130
    monkeypatch.delenv(INTERRUPT_AT_ENV)
    assert stage_main("train", "--params", path, "--resume") == 0
    metrics = json.loads((tmp_path / "metrics/train.json").read_text())
    assert "low_batch_pos_ratio" in metrics["red_flags"] and metrics["epochs"] == 3
    run = _last_run("train")
    assert run.info.status == "FAILED" and "low_batch_pos_ratio" in run.data.tags["red_flags"]
    # Resuming a finished run trains nothing more and keeps its summary.
    assert stage_main("train", "--params", path, "--resume") == 0
    assert json.loads((tmp_path / "metrics/train.json").read_text())["epochs"] == 3
    assert "nothing left to train" in capsys.readouterr().out
