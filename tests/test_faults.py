"""Faults in what a stage depends on, built for real: damaged processed data and model files, a
tracking server with nothing behind its port, an sqlite store another process holds locked.

Each ends in seconds with exit 2 and one line naming the file or the store and what repairs it,
no traceback; every file an earlier stage wrote is left as it was.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from brain_brr import cli
from brain_brr.errors import InputError
from brain_brr.eval.postprocess import THRESHOLD_KEYS
from brain_brr.tracking.run import StageRun
from brain_brr.train.model import build_detector, save_detector
from tests.conftest import REPO, stage_main, write_params
from tests.eval.helpers import model_config
from tests.train.conftest import tiny_params
from tests.train.synthetic_store import FS, LABEL_RATE, WINDOW_S, make_processed

SEGMENT = "data/processed/segments/train/train001_s001_t000.parquet"


@pytest.fixture
def project(mlflow_store, tmp_path, monkeypatch) -> Path:
    """A project folder as the stages before left it: processed data, stats, a model, an eval; cwd is there."""
    for name in ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"):  # restored after the test
        monkeypatch.delenv(name, raising=False)
    root = tmp_path
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    make_processed(root, recordings={"train": 3, "dev": 1, "eval": 1}, minutes=2.0)
    params = tiny_params(**{"model.width": 8, "model.depth": 1, "mlflow.lock_wait_s": 2.0})
    write_params(root / "params.yaml", params)
    torch.manual_seed(0)
    thresholds = {k: float(getattr(params.eval, k)) for k in THRESHOLD_KEYS}
    model = build_detector(params.model, FS, LABEL_RATE, WINDOW_S)
    save_detector(root / "models/detector", model, model_config(params, thresholds))
    (root / "metrics/train.json").write_text(json.dumps({"val_auroc_best": 0.9, "red_flags": []}))
    (root / "metrics/eval.json").write_text(json.dumps({"auroc": 0.9, "red_flags": []}))
    return root


def snapshot(root: Path, skip: str = "") -> dict[str, str]:
    """Every output file under ``root`` (not the MLflow store, not ``skip``) -> its content hash."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and rel != skip and not rel.startswith(("mlflow.db", "mlartifacts", "stray-mlflow")):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def truncate(path: Path) -> None:
    """A disk or copy fault: the file loses its second half (and with it the Parquet or zip footer)."""
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def one_line(err: str) -> str:
    """The single line a fault leaves on stderr."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_process(root: Path, stage: str, uri: str | None = None, timeout: int = 120) -> tuple[int, str, str, float]:
    """``python stages/<stage>.py`` in ``root`` as a user runs it: (exit code, stdout, stderr, seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_HTTP", "PYTEST"))}
    env.update(MLFLOW_TRACKING_URI=uri or f"sqlite:///{root / 'mlflow.db'}", OMP_NUM_THREADS="1")
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(REPO / "stages" / f"{stage}.py")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start


# ------------------------------------------------------------------ damaged processed data and models
@pytest.mark.parametrize("stage", ["train", "evaluate"])
def test_truncated_segment_file_is_named_with_its_repair(project, capfd, stage):
    truncate(project / SEGMENT)
    before = snapshot(project)
    assert stage_main(stage) == 2
    line = one_line(capfd.readouterr().err)
    assert line.startswith(f"{project / SEGMENT}: segment file truncated or not a Parquet file")
    assert "`dvc repro ingest`" in line
    assert snapshot(project) == before


@pytest.mark.parametrize("stage", ["stats", "train", "evaluate"])
def test_damaged_recordings_table_is_named_with_its_repair(project, capfd, stage):
    (project / "data/processed/recordings.parquet").write_bytes(b"not parquet, a half-copied file")
    before = snapshot(project)
    assert stage_main(stage) == 2
    line = one_line(capfd.readouterr().err)
    assert line.startswith(f"{project / 'data/processed/recordings.parquet'}: recordings table truncated")
    assert "`dvc repro ingest`" in line
    assert snapshot(project) == before


def test_truncated_windows_table_stops_stats(project, capfd):
    truncate(project / "data/processed/windows.parquet")
    before = snapshot(project)
    assert stage_main("stats") == 2
    assert one_line(capfd.readouterr().err).startswith(f"{project / 'data/processed/windows.parquet'}: windows table")
    assert snapshot(project) == before


def test_missing_segment_file_is_named(project, capfd):
    (project / SEGMENT).unlink()
    assert stage_main("train") == 2
    assert one_line(capfd.readouterr().err) == (
        f"{project / SEGMENT}: segment file missing; "
        "rewrite it with `dvc repro ingest` (add -f if DVC says nothing changed)"
    )


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_damaged_model_stops_evaluate_and_predict(project, capfd, damage):
    weights = project / "models/detector/model.pt"
    truncate(weights) if damage == "truncated" else weights.unlink()
    out = project / "predictions"
    out.mkdir()
    (out / "earlier.csv_bi").write_text("# an earlier prediction\n")
    before = snapshot(project)
    assert stage_main("evaluate") == 2
    evaluate_line = one_line(capfd.readouterr().err)
    assert cli.main(["predict", "--model", str(weights.parent), str(project / "any.edf"), "--out", str(out)]) == 2
    predict_line = one_line(capfd.readouterr().err)
    assert evaluate_line == predict_line
    assert evaluate_line.startswith(f"{weights}: ")
    fix = "`dvc checkout --force models/detector`" if damage == "truncated" else "`dvc repro train`"
    assert fix in evaluate_line
    assert snapshot(project) == before


def test_truncated_checkpoint_stops_resume_before_any_run(project, capfd):
    from mlflow.tracking import MlflowClient

    last = project / "models/checkpoints/last.pt"
    last.parent.mkdir(parents=True)
    torch.save({"model": {"w": torch.zeros(4096)}}, last)
    truncate(last)
    before = snapshot(project)
    assert stage_main("train", "--resume") == 2
    line = one_line(capfd.readouterr().err)
    assert line.startswith(f"{last}: not a readable checkpoint") and "without --resume" in line
    assert snapshot(project) == before
    assert MlflowClient().search_experiments(filter_string="name = 'brain-brr'") == []  # no run was opened


# ------------------------------------------------------------------ the tracking store
def test_unreachable_server_ends_the_stage_in_seconds(project):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    before = snapshot(project)
    code, out, err, seconds = run_process(project, "stats", uri)
    assert code == 2, err
    line = one_line(err)
    assert line.startswith(f"MLflow tracking server {uri} is unreachable (connection refused")
    assert "start the server" in line and "MLFLOW_TRACKING_URI" in line
    assert seconds < 150  # MLflow's own retries took 4 min 8 s (a loaded machine may slow the start)
    assert snapshot(project) == before
    print(f"unreachable server: exit {code} after {seconds:.1f} s (interpreter start included)")


class _NotMlflow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_error(404, "no such page")

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


def test_a_port_that_is_not_an_mlflow_server_is_one_line(project, capfd, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotMlflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    try:
        assert stage_main("stats") == 2
    finally:
        server.shutdown()
    line = one_line(capfd.readouterr().err)
    assert line.startswith(f"MLflow tracking server {uri} does not answer as one (not found)")


def _locker(db: Path, seconds: float) -> subprocess.Popen:
    """Another process holding the store's exclusive lock for ``seconds`` (as a long write would)."""
    code = (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "print('locked', flush=True)\n"
        f"time.sleep({seconds})\n"
        "c.execute('ROLLBACK')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_store_locked_briefly_is_waited_for(project, capfd):
    locker = _locker(project / "mlflow.db", 1.5)  # shorter than mlflow.lock_wait_s (2 s)
    try:
        assert stage_main("stats") == 0
    finally:
        locker.wait(timeout=30)
    captured = capfd.readouterr()
    assert f"[MLFLOW] {project / 'mlflow.db'} is locked by another process" in captured.out
    assert captured.err.strip() == ""


def test_store_locked_past_the_bound_fails_in_time(project):
    locker = _locker(project / "mlflow.db", 300)
    try:
        before = snapshot(project)
        code, out, err, seconds = run_process(project, "stats")
    finally:
        locker.kill()
        locker.wait()
    assert code == 2, err
    line = one_line(err)
    assert line.startswith(f"{project / 'mlflow.db'}: the MLflow store stayed locked by another process for 2 s")
    assert "mlflow.lock_wait_s" in line
    assert 2 <= seconds < 150  # far below the locker's 300 s
    assert snapshot(project) == before  # metrics/stats.json of the earlier run is intact
    print(f"locked store: exit {code} after {seconds:.1f} s with mlflow.lock_wait_s = 2 (interpreter start included)")


def test_store_that_is_not_a_database_is_one_line(project, capfd):
    (project / "mlflow.db").write_bytes(b"\0" * 100 + b"garbage" * 100)
    assert stage_main("stats") == 2
    line = one_line(capfd.readouterr().err)
    assert line.startswith(f"{project / 'mlflow.db'}: the MLflow store cannot be written (file is not a database)")


@pytest.mark.slow
def test_store_locked_mid_stage_keeps_the_outputs(project, capfd):
    """The lock comes after the check: MLflow itself waits 20 s, then the stage ends with one line, files kept."""
    output = project / "metrics/stats.json"
    expected = output.read_bytes()
    with pytest.raises(InputError) as info, StageRun("stats", tiny_params()) as run:
        output.write_bytes(expected)  # the stage's output, written before it is logged
        locker = _locker(project / "mlflow.db", 60)
        try:
            run.metrics({"hours": 1.0})
        finally:
            locker.kill()
            locker.wait()
    (line,) = info.value.lines
    assert line.startswith(f"MLflow tracking store sqlite:///{project / 'mlflow.db'} failed during the stats stage")
    assert "(database is locked)" in line and "files the stage wrote before are kept" in line
    assert output.read_bytes() == expected
    assert "Traceback" not in capfd.readouterr().err
