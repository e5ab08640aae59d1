"""Other corpora as test sets: every recording of a synth TUSZ tree and BIDS dataset, at every operating point."""

from __future__ import annotations

import subprocess
import sys

import pytest

from brain_brr.data.annotations import annotation_for
from brain_brr.eval.external import operating_points, score_corpus
from brain_brr.eval.predict import load_model_dir
from brain_brr.train.model import save_detector
from tests.eval.helpers import model_config

THRESHOLDS = {"tau_on": 0.5, "tau_off": 0.3, "min_duration_s": 5.0, "merge_gap_s": 5.0, "max_duration_s": 600.0}
POINTS = {"10": {"tau_on": 0.5, "tau_off": 0.3}, "1": {"tau_on": 0.9, "tau_off": 0.54}}


@pytest.mark.parametrize("fmt", ["tusz", "bids"])
def test_every_recording_of_another_corpus_is_scored_at_every_operating_point(eval_assets, tmp_path, fmt):
    _, params, model = eval_assets
    thresholds = {**THRESHOLDS, "operating_points": POINTS}
    save_detector(tmp_path / "model", model, model_config(params, thresholds))
    synth = ["synth", str(tmp_path / "corpus"), "--patients", "4", "--minutes", "6", "--seed", "5", "--format", fmt]
    subprocess.run([sys.executable, "-m", "brain_brr", *synth], check=True, capture_output=True)
    edfs = sorted((tmp_path / "corpus").rglob("*.edf"))
    out = score_corpus(load_model_dir(tmp_path / "model"), tmp_path / "corpus", thresholds, "cpu")
    assert out["format"] == fmt and out["recordings"] == len(edfs) and out["subjects"] == 4  # every split: test data
    assert out["hours"] == pytest.approx(4 * 6 / 60, rel=0.05)
    assert out["seizures"] == sum(len(annotation_for(e).seizure_intervals()) for e in edfs) > 0
    assert list(out["operating_points"]) == ["10", "1"]
    low, high = (out["operating_points"][k]["ovlp"]["pooled"] for k in ("10", "1"))
    assert low["sensitivity"] >= high["sensitivity"] and low["fa_per_24h"] >= high["fa_per_24h"]
    assert set(out["operating_points"]["10"]) >= {"tau_on", "ovlp", "taes", "szcore_event", "szcore_sample"}


def test_a_model_without_dev_operating_points_is_scored_at_its_default():
    assert operating_points(THRESHOLDS) == {"default": THRESHOLDS}
    assert operating_points({**THRESHOLDS, "operating_points": POINTS})["1"]["tau_off"] == 0.54
