"""Scoring rules worked out by hand, and NEDC v6.0.0 conformance."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brain_brr.data.annotations import read_csv_bi, write_csv_bi
from brain_brr.eval.score_files import nedc_seizures, score_dirs, seizure_events
from brain_brr.eval.scoring import (
    mask_1hz,
    ovlp_counts,
    ovlp_sweep,
    score_recording,
    score_table,
    sens_at_fa,
    summarise_scores,
    szcore_counts,
    szcore_sample_counts,
)
from brain_brr.eval.taes import taes_counts

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
    # TAES, same files: the scorer's own summary prints these figures
    assert round(100 * s["taes"]["sensitivity"], 4) == 6.6199
    assert round(s["taes"]["fa_per_24h"], 4) == 91.5814
    assert "hits 46.41  misses 654.59  false alarms 47.99" in proc.stdout
    taes = s["scores"]["taes"]["pooled"]
    assert round(100 * taes["precision"], 4) == 49.1594 and round(taes["f1"], 4) == 0.1167  # its PPV and F1
    assert s["scores"]["ovlp"]["pooled"]["sensitivity"] == s["ovlp"]["sensitivity"]
    assert s["subjects"] == 19 and s["recordings"] == 30


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


# ------------------------------------------------------------------ TAES by hand
def test_taes_fractions():
    assert taes_counts([(10, 20)], [(15, 25)]) == pytest.approx((0.5, 0.5, 0.5))  # half found, 5 s late
    assert taes_counts([(10, 20)], [(10, 20)]) == pytest.approx((1.0, 0.0, 0.0))
    assert taes_counts([(10, 20)], [(12, 14), (16, 18)]) == pytest.approx((0.4, 0.6, 0.0))  # two pieces inside
    assert taes_counts([(10, 20)], [(0, 100)]) == pytest.approx((1.0, 0.0, 1.0))  # false alarm capped at one event
    assert taes_counts([(10, 20)], [(100, 110)]) == pytest.approx((0.0, 1.0, 1.0))
    assert taes_counts([], [(1, 2), (5, 6)]) == pytest.approx((0.0, 0.0, 2.0))


def test_taes_one_hypothesis_over_two_references_misses_the_second():
    # OVLP: two hits. TAES: the first reference is covered (hit 1, false alarm capped at 1), the second a whole miss.
    assert taes_counts([(10, 20), (30, 40)], [(5, 45)]) == pytest.approx((1.0, 1.0, 1.0))
    assert ovlp_counts([(10, 20), (30, 40)], [(5, 45)]) == (2, 2, 0)


def test_taes_compares_whole_seconds_as_nedc_does():
    # The first hypothesis ends at 20.2 s and the second reference starts at 20.5 s: no overlap in time, but both
    # touch second 20, so NEDC consumes the second reference as a whole miss and the second hypothesis, left
    # without a reference, becomes a false alarm.
    assert taes_counts([(10, 20), (20.5, 30)], [(12, 20.2), (25, 28)]) == pytest.approx((0.8, 1.2, 1.02))
    # One second later the second reference is scored against the second hypothesis: 3 s of its 8.5 s found.
    expected = (0.8 + 3 / 8.5, 0.2 + 1 - 3 / 8.5, 0.02)
    assert taes_counts([(10, 20), (21.5, 30)], [(12, 20.2), (25, 28)]) == pytest.approx(expected)


# --------------------------------------------------------- SzCORE sample, masks
def test_szcore_masks_truncate_to_whole_seconds():
    assert np.flatnonzero(mask_1hz([(10.7, 12.3)], 20.9)).tolist() == [10, 11] and len(mask_1hz([], 20.9)) == 20


def test_szcore_sample_scoring():
    assert szcore_sample_counts([(10, 20)], [(15, 30)], 100) == (10, 5, 10, 100)
    assert szcore_sample_counts([], [], 100) == (0, 0, 0, 100)


# ----------------------------------------------------- pooled vs per subject
def test_pooled_and_subject_averaged_differ_as_expected():
    a = score_recording([(100, 110)], [(100, 110)], 86400.0)  # subject A: found, no false alarm
    b = score_recording([(100, 110), (5000, 5010)], [(20000, 20010)], 86400.0)  # subject B: both missed, 1 FA
    c = score_recording([], [(300, 310), (9000, 9010)], 86400.0)  # subject C: no seizure, 2 FA
    table = score_table([a, b, c], ["A", "B", "C"])
    assert table["n_subjects"] == 3
    pooled, avg = table["ovlp"]["pooled"], table["ovlp"]["subject_avg"]
    assert pooled["sensitivity"] == pytest.approx(1 / 3) and avg["sensitivity"] == pytest.approx(0.5)  # C left out
    assert pooled["fa_per_24h"] == pytest.approx(1.0) and avg["fa_per_24h"] == pytest.approx(1.0)  # (0+1+2)/3 days
    assert pooled["precision"] == pytest.approx(1 / 4) and avg["precision"] == pytest.approx(1 / 3)  # (1+0+0)/3
    one = score_table([a, b, c], ["S", "S", "S"])["ovlp"]
    assert one["subject_avg"] == pytest.approx(one["pooled"])


def test_subject_average_is_none_when_no_subject_defines_it():
    quiet = score_recording([(100, 110)], [], 3600.0)
    table = score_table([quiet], ["A"])
    assert table["szcore_event"]["subject_avg"]["precision"] is None  # no detection anywhere
    assert table["szcore_event"]["pooled"]["precision"] == 0.0  # pooled reports 0, as NEDC does
    s = summarise_scores([quiet], ["A"])
    assert s["szcore"]["precision"] is None and s["szcore"]["sensitivity"] == 0.0


# --------------------------------------------------- score: files and matching
def test_score_matches_bids_references_with_predict_outputs_recursively(tmp_path):
    from brain_brr.data.events_tsv import write_events_tsv

    start = dt.datetime(2020, 1, 1)
    ref, hyp = tmp_path / "bids", tmp_path / "pred"
    for sub, events in (("01", [(100.0, 130.0)]), ("02", [])):
        stem = f"sub-{sub}_ses-01_task-szMonitoring_run-01"
        write_events_tsv(ref / f"sub-{sub}" / "ses-01" / "eeg" / f"{stem}_events.tsv", events, 600.0, start)
        write_events_tsv(hyp / "nested" / f"{stem}_eeg.tsv", [(105.0, 120.0), (400.0, 410.0)], 600.0, start)
        write_csv_bi(hyp / "nested" / f"{stem}_eeg.csv_bi", [(105.0, 120.0), (400.0, 410.0)], 600.0)
    (ref / "participants.tsv").write_text("participant_id\tsplit\nsub-01\ttrain\nsub-02\teval\n")
    out = tmp_path / "s.json"
    proc = subprocess.run(
        [sys.executable, "-m", "brain_brr", "score", "--ref", str(ref), "--hyp", str(hyp), "--json", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    s = json.loads(out.read_text())
    assert (s["recordings"], s["subjects"], s["targets"], s["hits"], s["false_alarms"]) == (2, 2, 1, 1, 3)
    assert s["scores"]["szcore_event"]["subject_avg"]["sensitivity"] == 1.0  # sub-02 has no seizure: left out
    assert "NEDC TAES" in proc.stdout and "SzCORE sample" in proc.stdout


def test_score_refuses_two_files_for_one_recording(tmp_path):
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    write_csv_bi(ref / "a_s001_t000.csv_bi", [(1, 2)], 10)
    write_csv_bi(hyp / "x" / "a_s001_t000.csv_bi", [], 10)
    write_csv_bi(hyp / "y" / "a_s001_t000.csv_bi", [], 10)
    proc = subprocess.run(
        [sys.executable, "-m", "brain_brr", "score", "--ref", str(ref), "--hyp", str(hyp)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "recording a_s001_t000 has two annotation files" in proc.stderr


def test_score_warns_when_durations_differ(tmp_path):
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    write_csv_bi(ref / "a_s001_t000.csv_bi", [(1, 2)], 100)
    write_csv_bi(hyp / "a_s001_t000.csv_bi", [(1, 2)], 99)
    proc = subprocess.run(
        [sys.executable, "-m", "brain_brr", "score", "--ref", str(ref), "--hyp", str(hyp)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "differs from the reference's 100 s" in proc.stderr


def test_score_reads_a_tusz_tree_recursively(tmp_path):
    ref = tmp_path / "corpus" / "edf" / "eval" / "aaaa" / "s001_2020" / "01_tcp_ar"
    write_csv_bi(ref / "aaaa_s001_t000.csv_bi", [(10, 20)], 100)
    (ref / "aaaa_s001_t000.csv").write_text("channel,start_time,stop_time,label,confidence\n")  # per-channel: ignored
    write_csv_bi(tmp_path / "hyp" / "aaaa_s001_t000.csv_bi", [(12, 18)], 100)
    summary, rows = score_dirs(tmp_path / "corpus", tmp_path / "hyp")
    assert [k for k, _ in rows] == ["aaaa_s001_t000"] and summary["counts"]["hits"] == 1


def test_nedc_loader_joins_touching_rows_of_one_label(tmp_path):
    path = tmp_path / "a_s001_t000.csv_bi"
    write_csv_bi(path, [(10, 20), (20, 30), (40, 50)], 100, with_bckg=False)
    ann = read_csv_bi(path)
    assert seizure_events(ann) == [(10, 20), (20, 30), (40, 50)]
    assert nedc_seizures(ann, 100) == [(10, 30), (40, 50)]
