"""Scoring rules worked out by hand, and NEDC v6.0.0 conformance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brain_brr.data.annotations import read_csv_bi, write_csv_bi
from brain_brr.eval.score_files import seizure_events
from brain_brr.eval.scoring import ovlp_counts, ovlp_sweep, score_recording, sens_at_fa, summarise_scores, szcore_counts

NEDC = Path(__file__).resolve().parents[1] / "data_files" / "nedc_v6"


# ----------------------------------------------------------------- OVLP by hand
def test_ovlp_hit():
    assert ovlp_counts([(10, 20)], [(15, 25)]) == (1, 1, 0)


def test_ovlp_miss():
    assert ovlp_counts([(10, 20)], []) == (1, 0, 0)


def test_ovlp_false_alarm():
    assert ovlp_counts([(10, 20)], [(12, 14), (30, 40)]) == (1, 1, 1)


def test_ovlp_touching_end_points_do_not_overlap():
    # NEDC: hyp.stop > ref.start and hyp.start < ref.stop (strict)
    assert ovlp_counts([(10, 20)], [(20, 30)]) == (1, 0, 1)


def test_ovlp_reference_split_in_two_by_hypotheses():
    # two hypotheses on one reference: one hit, no false alarm
    assert ovlp_counts([(10, 50)], [(12, 20), (30, 45)]) == (1, 1, 0)


def test_ovlp_one_hypothesis_over_two_references():
    assert ovlp_counts([(10, 20), (30, 40)], [(5, 45)]) == (2, 2, 0)


def test_fa_rate_and_sums_over_recordings():
    a = score_recording([(10, 20)], [(15, 25), (100, 110)], 43200.0)  # 1 hit, 1 FA
    b = score_recording([(10, 20), (50, 60)], [], 43200.0)  # 2 misses
    s = summarise_scores([a, b])
    assert s["counts"]["targets"] == 3 and s["counts"]["hits"] == 1 and s["counts"]["false_alarms"] == 1
    assert s["ovlp"]["sensitivity"] == pytest.approx(1 / 3)
    assert s["ovlp"]["fa_per_24h"] == pytest.approx(1.0)  # 1 FA in 86400 s


# --------------------------------------------------------------- SzCORE by hand
def test_szcore_tolerance_after_event_end():
    # 20 s after the end: inside the 60 s post tolerance
    assert szcore_counts([(100, 110)], [(130, 135)], 1000) == (1, 1, 0)
    # 65 s after the end: outside it -> a miss and a false positive
    assert szcore_counts([(100, 110)], [(175, 180)], 1000) == (1, 0, 1)


def test_szcore_tolerance_before_event_start():
    assert szcore_counts([(100, 110)], [(75, 80)], 1000) == (1, 1, 0)  # ends 20 s before: within 30 s
    assert szcore_counts([(100, 110)], [(60, 65)], 1000) == (1, 0, 1)  # ends 35 s before


def test_szcore_merges_events_closer_than_90s():
    assert szcore_counts([(100, 110), (150, 160)], [(105, 106)], 1000) == (1, 1, 0)  # 40 s gap: one event
    assert szcore_counts([(100, 110), (210, 220)], [(105, 106)], 1000) == (2, 1, 0)  # 100 s gap: two


def test_szcore_splits_events_longer_than_5min():
    # 700 s -> 300 + 300 + 100 s; a short detection near the start finds only the first piece
    assert szcore_counts([(0, 700)], [(10, 20)], 1000) == (3, 1, 0)


def test_szcore_summary_keys():
    s = summarise_scores([score_recording([(100, 110)], [(105, 108), (500, 510)], 86400.0)])
    assert s["szcore"] == pytest.approx({"sensitivity": 1.0, "precision": 0.5, "f1": 2 / 3, "fp_per_24h": 1.0})


# ------------------------------------------------------------ sens at FA budget
def test_sens_at_fa_never_exceeds_budget():
    refs = [[(10, 20), (100, 120)], [(50, 60)]]
    durations = [43200.0, 43200.0]  # one FA = 1 per 24 h
    hyps = {
        0.2: [[(10, 20), (100, 120), (300, 310), (400, 410)], [(50, 60), (700, 710)]],  # 3/3, 3 FA
        0.5: [[(10, 20), (300, 310)], [(50, 60)]],  # 2/3, 1 FA
        0.8: [[(10, 20)], []],  # 1/3, 0 FA
    }
    sweep = ovlp_sweep(refs, durations, hyps)
    assert [r["false_alarms"] for r in sweep] == [3, 1, 0]
    out = sens_at_fa(sweep)
    assert out == pytest.approx({"10": 1.0, "5": 1.0, "2.5": 2 / 3, "1": 2 / 3})
    for budget, sens in out.items():
        chosen = [r for r in sweep if r["sensitivity"] == sens]
        assert min(r["fa_per_24h"] for r in chosen) <= float(budget)
    assert sens_at_fa([{"tau_on": 0.5, "sensitivity": 1.0, "fa_per_24h": 3.0, "false_alarms": 3}])["2.5"] == 0.0


# ------------------------------------------------------------- csv_bi round trip
def test_csv_bi_round_trip(tmp_path):
    events = [(12.5, 40.25), (100.0, 130.0)]
    path = tmp_path / "rec_s001_t000.csv_bi"
    write_csv_bi(path, events, 600.0)
    ann = read_csv_bi(path)
    assert ann.duration == pytest.approx(600.0)
    assert seizure_events(ann) == events
    assert {e.label for e in ann.events} == {"seiz", "bckg"}
    assert ovlp_counts(seizure_events(ann), events) == (2, 2, 0)


# ------------------------------------------------------------ NEDC conformance
def test_nedc_v6_conformance(tmp_path):
    out = tmp_path / "score.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "brain_brr",
            "score",
            "--ref",
            str(NEDC / "ref"),
            "--hyp",
            str(NEDC / "hyp"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    s = json.loads(out.read_text())
    assert (s["targets"], s["hits"], s["misses"], s["false_alarms"]) == (701, 604, 97, 2)
    assert s["duration_s"] == pytest.approx(45277.0)
    assert round(100 * s["ovlp"]["sensitivity"], 4) == 86.1626
    assert round(s["ovlp"]["fa_per_24h"], 4) == 3.8165
    assert "sensitivity 86.1626%" in proc.stdout and "3.8165 per 24 h" in proc.stdout
    assert set(s["szcore"]) == {"sensitivity", "precision", "f1", "fp_per_24h"}


def test_score_names_unmatched_stems(tmp_path):
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    write_csv_bi(ref / "a_s001_t000.csv_bi", [(1, 2)], 10)
    write_csv_bi(ref / "b_s001_t000.csv_bi", [], 10)
    write_csv_bi(hyp / "a_s001_t000.csv_bi", [], 10)
    write_csv_bi(hyp / "c_s001_t000.csv_bi", [], 10)
    proc = subprocess.run(
        [sys.executable, "-m", "brain_brr", "score", "--ref", str(ref), "--hyp", str(hyp)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "b_s001_t000" in proc.stderr and "c_s001_t000" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "brain_brr", "score", "--ref", str(tmp_path / "nope"), "--hyp", str(hyp)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "nope" in proc.stderr and "not a directory" in proc.stderr


# ------------------------------------------------------------ properties
_events = st.lists(st.tuples(st.floats(0, 900), st.floats(1, 100)), max_size=8).map(
    lambda xs: sorted((s, s + d) for s, d in xs)
)


@settings(max_examples=60, deadline=None)
@given(ref=_events, hyp=_events)
def test_ovlp_counts_are_bounded_and_self_score_is_perfect(ref, hyp):
    targets, hits, fa = ovlp_counts(ref, hyp)
    assert targets == len(ref) and 0 <= hits <= targets and 0 <= fa <= len(hyp)
    assert ovlp_counts(ref, ref) == (len(ref), len(ref), 0)
    if not hyp:
        assert (hits, fa) == (0, 0)
