"""Two CPU ranks under torchrun (gloo) against one process with the same global batch."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import REPO
from tests.train.conftest import make_processed, tiny_params

STAGE = REPO / "stages" / "train.py"


def _train(tmp_path, params_file, nproc):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "DVC_ROOT": str(tmp_path)}
    if nproc == 1:
        cmd = [sys.executable, str(STAGE), "--params", str(params_file)]
    else:
        torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or "torchrun"
        cmd = [torchrun, "--standalone", f"--nproc_per_node={nproc}", str(STAGE), "--params", str(params_file)]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics/train.json").read_text())
    client = MlflowClient()
    run = client.search_runs(
        [client.get_experiment_by_name("brain-brr").experiment_id], order_by=["attributes.start_time DESC"]
    )[0]
    losses = [m.value for m in sorted(client.get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)]
    return proc.stdout, metrics, run, losses


@pytest.mark.skipif(sys.platform == "win32", reason="gloo over torchrun")
def test_two_ranks_match_single_process(tmp_path, mlflow_store):
    make_processed(tmp_path, recordings={"train": 4, "dev": 1}, minutes=3.0)
    # Dropout off: two ranks draw dropout masks from their own RNG streams.
    params = tiny_params(
        **{
            "train.epochs": 2,
            "train.steps_per_epoch": 6,
            "model.dropout": 0.0,
            "sampler.min_pos_per_batch": 2,
            "sampler.target_pos_fraction": 0.25,
        }
    )
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params.model_dump()))

    out1, m1, run1, loss1 = _train(tmp_path, params_file, 1)
    out2, m2, run2, loss2 = _train(tmp_path, params_file, 2)
    assert run2.info.run_id != run1.info.run_id and run2.info.status == "FINISHED"
    assert out2.count("[SAMPLER] Creating positive-aware balanced sampler...") == 1  # only rank 0 speaks
    # Every rank's half-batch (8 windows) held at least min_pos_per_batch positives.
    assert m2["zero_pos_batches"] == 0 and m2["batch_pos_ratio_min"] >= 2 / 8
    assert len(loss2) == len(loss1) == 12
    np.testing.assert_allclose(loss2, loss1, rtol=1e-4)
    assert m2["val_auroc_best"] == pytest.approx(m1["val_auroc_best"], abs=5e-3)
