"""Hysteresis, merging, minimum and maximum duration, worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from brain_brr.eval.postprocess import events_for, hysteresis, probs_to_events


def test_hysteresis_starts_at_tau_on_ends_below_tau_off():
    p = np.array([0.0, 0.6, 0.4, 0.4, 0.2, 0.7, 0.0])
    assert hysteresis(p, 0.5, 0.3) == [(1, 4), (5, 6)]
    # a single threshold would have cut the first event after one step
    assert hysteresis(p, 0.5, 0.5) == [(1, 2), (5, 6)]


def test_event_running_to_the_end():
    assert hysteresis(np.array([0.0, 0.9, 0.9]), 0.5, 0.3) == [(1, 3)]
    assert probs_to_events(np.array([0.0, 0.9, 0.9]), 2, tau_on=0.5, tau_off=0.3) == [(0.5, 1.5)]


def test_tau_off_above_tau_on_is_an_error():
    with pytest.raises(ValueError, match="tau_off"):
        hysteresis(np.zeros(3), 0.3, 0.5)


def test_merge_then_min_duration_then_split():
    p = np.zeros(100)
    p[10:14] = 0.9  # 4 s
    p[16:20] = 0.9  # 4 s, gap 2 s -> merged into 10..20
    p[40:43] = 0.9  # 3 s, alone -> dropped by min duration 5
    p[60:85] = 0.9  # 25 s -> split into 10 + 10 + 5
    ev = probs_to_events(p, 1, tau_on=0.5, tau_off=0.3, min_duration_s=5, merge_gap_s=3, max_duration_s=10)
    assert ev == [(10, 20), (60, 70), (70, 80), (80, 85)]
    # gap not below merge_gap_s: kept apart, then both too short
    assert probs_to_events(p[:30], 1, tau_on=0.5, tau_off=0.3, min_duration_s=5, merge_gap_s=2) == []


def test_events_for_keeps_tau_ratio_when_sweeping():
    p = np.array([0.0, 0.5, 0.22, 0.0])
    th = {"tau_on": 0.5, "tau_off": 0.25, "min_duration_s": 0, "merge_gap_s": 0, "max_duration_s": 600}
    assert events_for(p, 1, th) == [(1, 2)]
    # tau_on 0.4 -> tau_off 0.2: the 0.22 step stays inside the event
    assert events_for(p, 1, th, tau_on=0.4) == [(1, 3)]
