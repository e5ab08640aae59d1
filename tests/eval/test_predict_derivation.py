"""`brain-brr predict` gives one recording the same probabilities under every reference; old models are refused."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from brain_brr.data.channels import CHANNELS
from brain_brr.train.model import save_detector
from tests.data.conftest import potentials, write_form
from tests.eval.helpers import model_config, seizure_rhythm

THRESHOLDS = {"tau_on": 0.5, "tau_off": 0.3, "min_duration_s": 5.0, "merge_gap_s": 5.0, "max_duration_s": 600.0}
FORMS = ("ref", "le", "avg", "tcp", "chbmit")


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env)


def _recording_with_a_seizure() -> dict[str, np.ndarray]:
    v = potentials(120.0, seed=7)
    t = np.arange(v["FP1"].size) / 256
    during = (t >= 40) & (t < 80)
    for k, ch in enumerate(CHANNELS):  # the seizure the test detector learnt (tests/eval/helpers.py)
        v[ch][during] = 2.5 * v[ch][during] + seizure_rhythm(t[during], k, 100.0)
    return v


def test_every_reference_gets_the_same_probabilities(eval_assets, tmp_path):
    _, params, model = eval_assets
    save_detector(tmp_path / "model", model, model_config(params, THRESHOLDS))
    v = _recording_with_a_seizure()
    for form in FORMS:
        write_form(tmp_path / "edf" / f"{form}_s001_t000.edf", v, form)
    proc = _cli(
        "brain_brr", "predict", "--model", *(str(tmp_path / p) for p in ("model", "edf")), "--out", str(tmp_path / "o")
    )
    assert proc.returncode == 0, proc.stderr
    probs = {f: pd.read_parquet(tmp_path / "o" / f"{f}_s001_t000.probs.parquet")["prob"].to_numpy() for f in FORMS}
    assert probs["ref"][45:75].mean() > 0.5 > probs["ref"][:30].mean()  # the seizure is seen: the check can fail
    for form in ("le", "avg", "tcp"):
        assert np.max(np.abs(probs[form] - probs["ref"])) < 0.01, form
    assert np.max(np.abs(probs["chbmit"] - probs["ref"])) < 0.05  # its midline level is a guess (see tests/data)


def test_a_model_without_the_derivation_is_refused(eval_assets, tmp_path, capfd, monkeypatch):
    _, params, model = eval_assets
    config = model_config(params, THRESHOLDS)
    del config["derivation"]  # as every model written before the common-average input
    save_detector(tmp_path / "model", model, config)
    write_form(tmp_path / "r.edf", potentials(20.0), "ref")
    from brain_brr import cli, szcore

    capfd.readouterr()
    code = cli.main(
        ["predict", "--model", *(str(tmp_path / p) for p in ("model", "r.edf")), "--out", str(tmp_path / "o")]
    )
    err = capfd.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        f"{tmp_path / 'model' / 'config.json'}: does not name the input derivation, this version feeds the detector "
        "'common_average' (written before the common-average input, or by another version); retrain with "
        "`dvc repro train`"
    ]
    monkeypatch.setenv("BRAIN_BRR_MODEL", str(tmp_path / "model"))
    code = szcore.main([str(tmp_path / "r.edf"), str(tmp_path / "r.tsv")])
    err = capfd.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "does not name the input derivation" in err and not (tmp_path / "r.tsv").exists()
