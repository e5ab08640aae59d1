"""DVC plot files stay small and keep the curve's end points."""

from __future__ import annotations

import numpy as np
import pandas as pd

from brain_brr.eval.plots import MAX_CURVE_POINTS, write_curves


def test_curves_are_thinned_to_500_points(tmp_path):
    rng = np.random.default_rng(0)
    y = (rng.random(20_000) < 0.1).astype(np.uint8)
    p = np.clip(0.3 * y + rng.random(20_000) * 0.8, 0, 1).astype(np.float32)
    sweep = [
        {"tau_on": t, "sensitivity": 1 - t, "fa_per_24h": 10 * (1 - t), "false_alarms": 1}
        for t in np.linspace(0.02, 0.98, 49)
    ]
    write_curves(tmp_path, [p[:7000], p[7000:]], [y[:7000], y[7000:]], sweep)
    roc = pd.read_csv(tmp_path / "roc.csv")
    pr = pd.read_csv(tmp_path / "pr.csv")
    assert 100 < len(roc) <= MAX_CURVE_POINTS and len(pr) <= MAX_CURVE_POINTS
    assert (roc.iloc[0]["fpr"], roc.iloc[0]["tpr"]) == (0.0, 0.0) and (roc.iloc[-1]["fpr"], roc.iloc[-1]["tpr"]) == (
        1.0,
        1.0,
    )
    assert roc["fpr"].is_monotonic_increasing
    sf = pd.read_csv(tmp_path / "sens_fa.csv")
    assert list(sf.columns) == ["fa_per_24h", "sensitivity", "tau_on"] and len(sf) == 49
