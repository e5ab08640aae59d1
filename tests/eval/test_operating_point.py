"""Threshold choice on dev, and the line-length baseline."""

from __future__ import annotations

import numpy as np
import pytest

from brain_brr.config import parse_params
from brain_brr.eval.baseline import line_length_score
from brain_brr.eval.operating_point import choose_threshold, select_operating_point
from brain_brr.eval.scoring import sample_metrics


def _row(tau, sens, fa, n):
    return {"tau_on": tau, "sensitivity": sens, "fa_per_24h": fa, "false_alarms": n}


def test_choose_threshold_respects_the_budget_and_breaks_ties():
    sweep = [_row(0.2, 1.0, 30.0, 30), _row(0.4, 0.8, 9.0, 9), _row(0.5, 0.8, 4.0, 4), _row(0.7, 0.5, 0.0, 0)]
    best, criterion = choose_threshold(sweep, budget=10)
    assert best["tau_on"] == 0.5 and "FA/24h <= 10" in criterion  # same sensitivity, fewer false alarms
    best, criterion = choose_threshold([_row(0.3, 1.0, 50.0, 50), _row(0.6, 0.9, 20.0, 20)], budget=10)
    assert best["tau_on"] == 0.6 and "fewest false alarms" in criterion


def test_select_operating_point_on_dev(eval_assets):
    processed, params, model = eval_assets
    model.train()
    out = select_operating_point(model, params, processed, "cpu")
    assert model.training  # the train stage may go on afterwards
    model.eval()
    assert set(out) >= {
        "tau_on",
        "tau_off",
        "min_duration_s",
        "merge_gap_s",
        "max_duration_s",
        "criterion",
        "dev_sensitivity",
        "dev_fa_per_24h",
    }
    assert out["tau_off"] == pytest.approx(out["tau_on"] * 0.6)
    assert out["dev_fa_per_24h"] <= 10 and out["dev_sensitivity"] == 1.0
    assert out["min_duration_s"] == params.eval.min_duration_s


def test_select_operating_point_off_returns_params(eval_assets):
    processed, params, model = eval_assets
    raw = params.model_dump()
    raw["eval"]["select_on_dev"] = False
    raw["eval"]["tau_on"] = 0.7
    out = select_operating_point(model, parse_params(raw), "cpu")
    assert out["tau_on"] == 0.7 and out["tau_off"] == params.eval.tau_off and "select_on_dev=false" in out["criterion"]


def test_line_length_rises_during_seizures_and_ignores_flat_channels():
    from tests.eval.helpers import FS, LABEL_RATE, labels_for, synth_signal

    x = synth_signal(300.0, [(100.0, 150.0)], np.random.default_rng(1))
    x[3] = 0.0  # a missing channel, zero-filled
    score = line_length_score(x, FS, LABEL_RATE)
    assert score.shape == (300,) and np.isfinite(score).all()
    assert score.min() > 0 and score.max() < 1
    assert sample_metrics([score], [labels_for(300.0, [(100.0, 150.0)])], 0.6)["auroc"] > 0.95
    assert np.median(score[:90]) == pytest.approx(0.5, abs=0.05)
