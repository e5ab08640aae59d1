"""Threshold choice on dev, and the line-length baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from brain_brr.config import parse_params
from brain_brr.eval.baseline import line_length_score
from brain_brr.eval.operating_point import (
    choose_threshold,
    covered_time,
    dev_curve,
    expected_false_alarms,
    fit_fa_tail,
    floor_threshold,
    near_targets,
    poisson_regression,
    poisson_tail,
    select_operating_point,
    threshold_for,
    thresholds_on_dev,
    within_budget,
)
from brain_brr.eval.postprocess import thresholds_from_params
from brain_brr.eval.scoring import sample_metrics, threshold_grid


def _row(tau, sens, fa, n):
    return {"tau_on": tau, "sensitivity": sens, "fa_per_24h": fa, "false_alarms": n}


def test_choose_threshold_spends_the_budget_on_what_detects_most():
    sweep = [_row(0.2, 1.0, 30.0, 30), _row(0.4, 0.8, 9.0, 9), _row(0.5, 0.8, 4.0, 4), _row(0.7, 0.5, 0.0, 0)]
    best, criterion = choose_threshold(sweep, budget=10)
    assert best["tau_on"] == 0.5 and "FA/24h <= 10" in criterion  # same detection (no finer evidence): fewer FAs
    for r, covered in zip(sweep, (0.9, 0.7, 0.6, 0.3)):
        r["covered"] = covered
    assert choose_threshold(sweep, budget=10)[0]["tau_on"] == 0.4  # a tie on OVLP: more seizure time covered
    best, criterion = choose_threshold([_row(0.3, 1.0, 50.0, 50), _row(0.6, 0.9, 20.0, 20)], budget=10)
    assert best["tau_on"] == 0.6 and "fewest false alarms" in criterion


def test_within_budget_stops_at_the_first_threshold_over_it():
    sweep = [_row(0.2, 1.0, 6.0, 1), _row(0.4, 1.0, 18.0, 3), _row(0.6, 1.0, 6.0, 1), _row(0.8, 0.5, 0.0, 0)]
    assert [r["tau_on"] for r in within_budget(sweep, 10.0)] == [0.8, 0.6]  # 0.2 dips back under: not within


def _trace(duration: int, seizure: tuple[int, int], bumps: list[tuple[int, float]]) -> np.ndarray:
    """1 Hz probabilities: a seizure rising from 0.35 to 0.95, and 20 s false-alarm bumps of the given heights."""
    p = np.full(duration, 0.05, dtype=np.float32)
    p[seizure[0] : seizure[1]] = np.linspace(0.35, 0.95, seizure[1] - seizure[0])
    for start, height in bumps:
        p[start : start + 20] = height
    return p


def test_the_chosen_threshold_spends_the_budget_on_dev():
    """3 h of dev, 10 FA/24h allow 1.25 false alarms: two bumps (0.45, 0.25) are 2 below 0.25, 1 below 0.45."""
    eval_cfg = parse_params({}).eval
    probs = [
        _trace(3600, (1000, 1100), [(2000, 0.45), (3000, 0.25)]),
        _trace(3600, (500, 560), []),
        _trace(3600, (0, 0), []),
    ]
    refs = [[(1000.0, 1100.0)], [(500.0, 560.0)], []]
    out = thresholds_on_dev(probs, refs, [3600.0] * 3, 1, eval_cfg)
    op = out["operating_points"]["10"]
    assert op["rule"].startswith("empirical") and op["dev_sensitivity"] == 1.0
    assert 0.25 < op["tau_on"] <= 0.45 and op["dev_fa_per_24h"] == pytest.approx(8.0)  # one false alarm spent
    curve = {r["tau_on"]: r for r in dev_curve(probs, refs, [3600.0] * 3, 1, thresholds_from_params(eval_cfg))}
    assert curve[op["tau_on"]]["covered"] > curve[0.9]["covered"]  # 0.9 also found both seizures, with less of them


def test_covered_time_is_the_fraction_of_seizure_time_detected():
    refs = [[(0.0, 10.0), (20.0, 30.0)], [(5.0, 15.0)]]
    hyps = [[(5.0, 25.0)], [(0.0, 100.0)]]
    assert covered_time(refs, hyps) == pytest.approx((5 + 5 + 10) / 30)
    assert covered_time([[]], [[(0.0, 1.0)]]) == 0.0


def test_floor_only_where_dev_contradicts_the_rate():
    assert poisson_tail(0, 0.3) == 1.0 and poisson_tail(2, 0.3) == pytest.approx(1 - math.exp(-0.3) * 1.3)
    sweep = [_row(0.3, 1.0, 54.0, 3), _row(0.5, 1.0, 18.0, 1), _row(0.7, 1.0, 0.0, 0), _row(0.9, 0.5, 0.0, 0)]
    assert floor_threshold(sweep, 0.0) == 0.7  # no false alarm expected: none may be seen
    assert floor_threshold(sweep, 0.4) == 0.5  # 0.4 expected: one is plausible (P = 0.33), three are not (P = 0.008)
    assert floor_threshold(sweep, 0.04) == 0.7  # 0.04 expected: even one is not (P = 0.039)


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
    points = out["operating_points"]
    assert list(points) == ["10", "2.5", "1"] and points["10"]["tau_on"] == out["tau_on"]
    taus = [points[k]["tau_on"] for k in points]
    assert taus == sorted(taus)  # a stricter target never gets a lower threshold
    for op in points.values():
        assert op["tau_off"] == pytest.approx(op["tau_on"] * 0.6) and op["rule"]


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


def _curve(hours: float, a: float = math.log(8.0), b: float = -1.2) -> list[dict]:
    """A dev OVLP curve whose false-alarm counts follow exp(a + b * logit(tau)), rounded."""
    rows = []
    for t in threshold_grid():
        x = math.log(t / (1 - t))
        n = int(round(math.exp(a + b * x)))
        rows.append({"tau_on": float(t), "sensitivity": 1 / (1 + math.exp(x - 2)), "fa_per_24h": n * 24 / hours,
                     "false_alarms": n})  # fmt: skip
    return rows


def test_short_dev_extrapolates_and_separates_the_targets():
    sweep = _curve(1.3)  # 1.3 h of dev: one false alarm is 18 per 24 h
    fit = fit_fa_tail(sweep)
    assert fit == pytest.approx((math.log(8.0), -1.2), abs=0.15)  # the fit recovers the curve
    floor = floor_threshold(sweep, 10.0 * 1.3 / 24)
    taus = {}
    for target in (10.0, 2.5, 1.0):
        taus[target], rule = threshold_for(sweep, target, 1.3, fit)
        assert taus[target] >= floor_threshold(sweep, target * 1.3 / 24)  # never where dev contradicts the rate
    assert "extrapolated" in rule
    assert floor <= taus[10.0] < taus[2.5] < taus[1.0] <= threshold_grid()[-1]
    # what the fit expects at the chosen threshold is the target
    x = math.log(taus[1.0] / (1 - taus[1.0]))
    assert math.exp(fit[0] + fit[1] * x) * 24 / 1.3 == pytest.approx(1.0, rel=1e-6)
    # the empirical rule alone would give every target the same threshold
    assert len({choose_threshold(sweep, t)[0]["tau_on"] for t in (10.0, 2.5, 1.0)}) == 1


def test_long_dev_uses_the_curve_itself():
    sweep = _curve(100.0, a=math.log(400.0))
    fit = fit_fa_tail(sweep)
    for target in (10.0, 2.5, 1.0):
        tau, rule = threshold_for(sweep, target, 100.0, fit)
        assert rule.startswith("empirical") and tau == choose_threshold(sweep, target)[0]["tau_on"]


def test_too_few_false_alarms_to_extrapolate_falls_back_to_zero():
    sweep = [_row(float(t), 0.9, 18.0 if t < 0.3 else 0.0, 1 if t < 0.3 else 0) for t in threshold_grid()]
    assert fit_fa_tail(sweep) is None
    tau, rule = threshold_for(sweep, 1.0, 1.3, None)
    assert tau == floor_threshold(sweep, 0.0) == pytest.approx(0.3) and "too few to extrapolate" in rule


def test_extrapolation_stops_where_dev_finds_no_seizure():
    sweep = _curve(0.1)  # 6 minutes of dev: the fit would ask for a threshold far out
    for r in sweep:
        r["sensitivity"] = 1.0 if r["tau_on"] <= 0.96 else 0.0
    tau, rule = threshold_for(sweep, 1.0, 0.1, fit_fa_tail(sweep))
    assert tau == pytest.approx(0.96) and "capped" in rule


def test_the_empirical_rule_heeds_the_smoothed_curve_too():
    """A threshold where dev happens to show fewer false alarms than the fitted curve expects is not taken."""
    sweep = _curve(4.0, a=4.26, b=-2.85)  # 4 h of dev: 10 FA/24h allow 1.67
    for r in sweep:
        r["covered"] = 1.0 - r["tau_on"]  # seizure time covered grows as the threshold falls
    fit = fit_fa_tail(sweep)
    tau, rule = threshold_for(sweep, 10.0, 4.0, fit)
    assert expected_false_alarms(fit, tau) <= 10.0 * 4.0 / 24 and "smoothed" in rule
    lucky = max((r for r in sweep if r["tau_on"] < tau), key=lambda r: r["tau_on"])
    assert lucky["false_alarms"] == 2
    lucky["false_alarms"], lucky["fa_per_24h"] = 1, 6.0  # observed within the target, the curve says otherwise
    assert threshold_for(sweep, 10.0, 4.0, fit_fa_tail(sweep))[0] == tau
    assert choose_threshold(sweep, 10.0)[0]["tau_on"] == lucky["tau_on"]  # the observed counts alone would take it


def _two_regimes(hours: float) -> list[dict]:
    """Dev false alarms that fall slowly at low thresholds (merged detections) and steeply near the top."""
    rows = []
    for t in threshold_grid():
        x = math.log(t / (1 - t))
        n = int(round(math.exp(2.5 - 0.8 * x) if t < 0.6 else math.exp(5.4 - 4.0 * x)))
        rows.append({"tau_on": float(t), "sensitivity": 1 / (1 + math.exp(x - 3)), "covered": 1.0 - float(t),
                     "fa_per_24h": n * 24 / hours, "false_alarms": n})  # fmt: skip
    return rows


def test_the_fit_reads_the_curve_near_the_targets():
    sweep = _two_regimes(4.0)
    near = near_targets([10.0, 2.5, 1.0], 4.0)  # 4 x the 1.67 false alarms 10 FA/24h allow in 4 h
    assert near == pytest.approx(4 * 10.0 * 4.0 / 24)
    a, b = fit_fa_tail(sweep, near)
    assert b == pytest.approx(-4.0, abs=0.4)  # the steep part, where the targets are
    whole = fit_fa_tail(sweep)  # the whole tail: the slow part sets the slope
    assert whole[1] > -3.0
    tau_near, rule = threshold_for(sweep, 10.0, 4.0, (a, b))
    tau_whole, _ = threshold_for(sweep, 10.0, 4.0, whole)
    assert "Poisson-smoothed" in rule and tau_near < tau_whole  # the whole-tail fit stops short of the budget
    assert expected_false_alarms((a, b), tau_near) <= 10.0 * 4.0 / 24
    assert near_targets([10.0], 0.5) == 5.0  # a short dev still gives the fit a few false alarms to read


def test_a_count_the_rate_makes_plausible_does_not_stop_the_rule():
    """10 FA/24h on 4 h of dev allow 1.67 false alarms: two observed are as likely as not, seven are not."""
    sweep = _curve(4.0, a=4.26, b=-2.85)
    for r in sweep:
        r["covered"] = 1.0 - r["tau_on"]
    fit = fit_fa_tail(sweep, near_targets([10.0], 4.0))
    lowest = min(
        (r for r in sweep if expected_false_alarms(fit, r["tau_on"]) <= 10.0 * 4.0 / 24), key=lambda r: r["tau_on"]
    )
    lowest["false_alarms"], lowest["fa_per_24h"] = 2, 12.0  # above the allowance, where the curve expects below it
    tau, _ = threshold_for(sweep, 10.0, 4.0, fit)
    assert tau == lowest["tau_on"]
    assert choose_threshold(sweep, 10.0)[0]["tau_on"] > tau  # the observed counts alone would stop above
    higher = max((r for r in sweep if r["tau_on"] > tau and r["false_alarms"] == 0), key=lambda r: -r["tau_on"])
    higher["false_alarms"], higher["fa_per_24h"] = 7, 42.0  # implausible for 1.67: dev contradicts the rate there
    tau2, _ = threshold_for(sweep, 10.0, 4.0, fit)
    assert tau2 > higher["tau_on"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_poisson_regression_is_scikit_learns(seed):
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(seed)
    x = np.log(np.linspace(0.3, 0.99, 30) / (1 - np.linspace(0.3, 0.99, 30)))
    y = rng.poisson(np.exp(2.0 - 1.7 * x)).astype(float)  # zeros at the top, as dev curves have
    ours = poisson_regression(x, y)
    model = PoissonRegressor(alpha=0.0, max_iter=10_000, tol=1e-12).fit(x[:, None], y)
    assert ours == pytest.approx((float(model.intercept_), float(model.coef_[0])), abs=1e-5)
