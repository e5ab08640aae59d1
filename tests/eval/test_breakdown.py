"""Seizure types read from TUSZ .csv and BIDS _events.tsv files, per-type sensitivity, onset latency."""

from __future__ import annotations

import datetime as dt

import pytest

from brain_brr.data.annotations import read_csv
from brain_brr.data.events_tsv import read_events_tsv, write_events_tsv
from brain_brr.eval.breakdown import latency_table, onset_delays, plot_delays, type_table, typed_seizures, types_of
from brain_brr.eval.scoring import szcore_counts

CSV = """# version = csv_v1.0.0
# bname = aaaa_s001_t000
# duration = 600.0000 secs
#
channel,start_time,stop_time,label,confidence
FP1-F7,0.0000,100.0000,bckg,1.0000
FP1-F7,100.0000,140.0000,fnsz,1.0000
F7-T3,95.0000,135.0000,fnsz,1.0000
FP1-F7,140.0000,400.0000,bckg,1.0000
F7-T3,400.0000,430.0000,gnsz,1.0000
FP1-F7,400.0000,432.0000,gnsz,1.0000
FP1-F7,432.0000,600.0000,bckg,1.0000
"""


def test_types_from_a_tusz_csv_merge_over_channels(tmp_path):
    path = tmp_path / "aaaa_s001_t000.csv"
    path.write_text(CSV)
    typed = typed_seizures(read_csv(path))
    assert typed == [(95.0, 140.0, "fnsz"), (400.0, 432.0, "gnsz")]
    refs = [(95.0, 140.0), (400.0, 432.0), (500.0, 520.0)]  # the last one has no typed event
    assert types_of(refs, typed) == ["fnsz", "gnsz", "unknown"]


def test_types_from_bids_event_type(tmp_path):
    path = tmp_path / "sub-01_ses-01_task-szMonitoring_run-00_events.tsv"
    write_events_tsv(
        path, [(10.0, 50.0), (300.0, 330.0)], 600.0, dt.datetime(2020, 1, 1), event_types=["sz_foc_ia", "sz_gen_m"]
    )
    typed = typed_seizures(read_events_tsv(path))
    assert types_of([(10.0, 50.0), (300.0, 330.0)], typed) == ["sz_foc_ia", "sz_gen_m"]


def test_type_table_counts_and_sensitivities():
    refs = [[(100.0, 140.0), (400.0, 432.0)], [(50.0, 90.0)]]
    types = [["fnsz", "gnsz"], ["fnsz"]]
    hyps = [[(110.0, 150.0)], [(200.0, 220.0)]]  # the first fnsz found; gnsz and the second fnsz missed
    table = type_table(refs, types, hyps, [600.0, 600.0])
    assert list(table) == ["fnsz", "gnsz"]
    assert table["fnsz"]["n_ref"] == 2 and table["fnsz"]["ovlp_sensitivity"] == 0.5
    assert table["gnsz"] == {"n_ref": 1, "ovlp_sensitivity": 0.0, "szcore_sensitivity": 0.0}
    sz_ref = szcore_counts([(100.0, 140.0)], hyps[0], 600.0)[0] + szcore_counts([(50.0, 90.0)], hyps[1], 600.0)[0]
    assert table["fnsz"]["szcore_sensitivity"] == pytest.approx(1 / sz_ref)


def test_onset_delays_and_their_summary(tmp_path):
    ref = [(100.0, 160.0), (300.0, 340.0), (500.0, 520.0)]
    hyp = [(90.0, 110.0), (130.0, 170.0), (312.0, 330.0)]  # first: 10 s early (earliest overlap); second: 12 s late
    assert onset_delays(ref, hyp) == [-10.0, 12.0]
    table = latency_table([ref, [(0.0, 30.0)]], [hyp, [(20.0, 25.0)]], ["p1", "p2"])
    assert table["delays_s"] == [-10.0, 12.0, 20.0]
    assert table["pooled"]["n"] == 3 and table["pooled"]["median_s"] == 12.0
    assert table["pooled"]["p90_s"] == pytest.approx(18.4)  # numpy's linear interpolation between 12 and 20
    assert table["per_subject"]["p1"] == {"n": 2, "median_s": 1.0, "p90_s": pytest.approx(9.8)}
    assert latency_table([[(0.0, 5.0)]], [[]], ["p3"])["pooled"] == {"n": 0, "median_s": None, "p90_s": None}
    plot_delays(tmp_path / "latency.png", table["delays_s"])
    assert (tmp_path / "latency.png").read_bytes()[:4] == b"\x89PNG"


def test_score_reports_types_and_latency_when_the_references_carry_types(tmp_path):
    from brain_brr.data.annotations import write_csv_bi
    from brain_brr.eval.score_files import score_dirs, score_json

    start = dt.datetime(2020, 1, 1)
    name = "sub-01_ses-01_task-szMonitoring_run-00"
    refs = [(10.0, 50.0), (300.0, 330.0)]
    write_events_tsv(tmp_path / "ref" / f"{name}_events.tsv", refs, 600.0, start, event_types=["sz_foc_ia", "sz_gen"])
    write_events_tsv(tmp_path / "hyp" / f"{name}_events.tsv", [(14.0, 40.0)], 600.0, start)
    summary, _ = score_dirs(tmp_path / "ref", tmp_path / "hyp")
    out = score_json(summary)
    assert out["seizure_types"]["sz_foc_ia"] == {"n_ref": 1, "ovlp_sensitivity": 1.0, "szcore_sensitivity": 1.0}
    assert out["seizure_types"]["sz_gen"]["ovlp_sensitivity"] == 0.0
    assert out["latency"]["pooled"] == {"n": 1, "median_s": 4.0, "p90_s": 4.0}
    write_csv_bi(tmp_path / "ref2" / "aaaa_s001_t000.csv_bi", refs, 600.0)  # term-only `seiz`: no types
    write_csv_bi(tmp_path / "hyp2" / "aaaa_s001_t000.csv_bi", [(14.0, 40.0)], 600.0)
    out = score_json(score_dirs(tmp_path / "ref2", tmp_path / "hyp2")[0])
    assert "seizure_types" not in out and out["latency"]["per_subject"]["aaaa"]["median_s"] == 4.0
    (tmp_path / "ref2" / "aaaa_s001_t000.csv").write_text(CSV)  # TUSZ: the per-channel file beside it has types
    write_csv_bi(tmp_path / "ref2" / "aaaa_s001_t000.csv_bi", [(95.0, 140.0), (400.0, 432.0)], 600.0)
    out = score_json(score_dirs(tmp_path / "ref2", tmp_path / "hyp2")[0])
    assert {k: v["n_ref"] for k, v in out["seizure_types"].items()} == {"fnsz": 1, "gnsz": 1}
