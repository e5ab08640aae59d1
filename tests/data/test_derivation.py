"""One recording stored under every reference (``-REF``, ``-LE``, ``-Avg``, bipolar pairs) reads the same.

The electrode potentials are written to real EDF files (16-bit, as edfwrite quantises them),
each form read back by ``read_eeg``; the model input must agree to the files' resolution.
"""

from __future__ import annotations

import numpy as np
import pytest

from brain_brr.config import DataConfig
from brain_brr.data import store
from brain_brr.data.annotations import write_csv_bi
from brain_brr.data.channels import CHANNELS
from brain_brr.data.derivation import DERIVATION, check_derivation, electrodes_from_pairs
from brain_brr.data.edf import NEIGHBOURS, EdfError, read_eeg
from brain_brr.data.ingest import ingest_corpus
from brain_brr.errors import InputError
from brain_brr.synth.edfwrite import write_edf

from .conftest import FS, TCP_MIDLINE, potentials, write_form

CFG = DataConfig()


@pytest.fixture(scope="module")
def forms(tmp_path_factory) -> dict[str, np.ndarray]:
    v = potentials()
    out = {}
    for form in ("ref", "le", "avg", "tcp", "chbmit"):
        path = tmp_path_factory.mktemp(form) / "r.edf"
        write_form(path, v, form)
        out[form] = read_eeg(path, CFG)
    return out


@pytest.mark.parametrize("form", ["le", "avg", "tcp"])
def test_every_reference_gives_the_same_model_input(forms, form):
    ref, other = forms["ref"], forms[form]
    assert other.missing_channels == [] and other.signal.shape == ref.signal.shape
    # 16-bit EDF samples: each form is quantised differently, ~1e-4 of a channel's range.
    np.testing.assert_allclose(other.signal, ref.signal, atol=2e-3)
    assert np.mean(np.abs(other.signal - ref.signal)) < 2e-4


def test_chbmit_native_montage_reads_close_to_the_referential_one(forms):
    chb = forms["chbmit"]
    assert chb.missing_channels == []
    assert any("CZ, FZ, PZ" in w and "unlinked" in w for w in chb.warnings)
    corr = [np.corrcoef(chb.signal[k], forms["ref"].signal[k])[0, 1] for k in range(19)]
    # The midline's common level is a guess from its neighbours (here independent noise: a poor guess); the
    # common average spreads 1/19 of that guess over every other channel, which is otherwise exact.
    midline = [CHANNELS.index(c) for c in ("FZ", "CZ", "PZ")]
    assert min(c for k, c in enumerate(corr) if k not in midline) > 0.99
    assert min(corr[k] for k in midline) > 0.8


def test_least_squares_recovers_a_connected_montage_exactly():
    rng = np.random.default_rng(0)
    v = {e: rng.standard_normal(50) for e in [*CHANNELS, "A1", "A2"]}
    d = np.array([v[a] - v[b] for a, b in TCP_MIDLINE])
    x, reached, notes = electrodes_from_pairs(d, TCP_MIDLINE, NEIGHBOURS)
    assert reached.all() and notes == []
    truth = np.array([v[c] for c in CHANNELS])
    np.testing.assert_allclose(x - x.mean(axis=0), truth - truth.mean(axis=0), atol=1e-5)


def test_electrodes_no_pair_reaches_are_missing_then_interpolated_or_refused(tmp_path):
    v = potentials(20.0)
    pairs = [p for p in TCP_MIDLINE if "FZ" not in p and "PZ" not in p]  # TUSZ's TCP alone: no FZ, PZ
    path = tmp_path / "tcp.edf"
    write_edf(path, [v[a] - v[b] for a, b in pairs], [f"EEG {a}-{b}" for a, b in pairs], [FS] * len(pairs))
    rec = read_eeg(path, CFG)
    assert rec.missing_channels == ["FZ", "PZ"]
    assert "channel FZ not reached by the bipolar pairs (interpolated from F3, F4, CZ, FP1, FP2)" in rec.warnings
    with pytest.raises(EdfError, match=r"2 of the 19 10-20 channels missing or unusable \(FZ, PZ\)"):
        read_eeg(path, DataConfig(max_missing_channels=1))


def test_a_mixed_file_takes_its_referential_channels(tmp_path):
    v = potentials(20.0)
    labels = [f"EEG {c}-REF" for c in CHANNELS] + ["EEG FP1-F7", "EEG F7-T3"]
    sigs = [v[c] - v["REF"] for c in CHANNELS] + [v["FP1"] - v["F7"] + 500.0, v["F7"] - v["T3"]]
    write_edf(tmp_path / "mixed.edf", sigs, labels, [FS] * len(sigs))
    write_form(tmp_path / "ref.edf", v, "ref")
    np.testing.assert_allclose(read_eeg(tmp_path / "mixed.edf", CFG).signal, read_eeg(tmp_path / "ref.edf", CFG).signal)


def test_tusz_le_and_ar_recordings_ingest_to_the_same_segments(tmp_path):
    v = potentials(90.0, seed=4)
    for root, montage, form in ((tmp_path / "ar", "01_tcp_ar", "ref"), (tmp_path / "le", "02_tcp_le", "le")):
        edf = root / "edf" / "train" / "aaaaaaaa" / "s001_2020" / montage / "aaaaaaaa_s001_t000.edf"
        edf.parent.mkdir(parents=True)
        write_form(edf, v, form)
        write_csv_bi(edf.with_suffix(".csv_bi"), [(30.0, 50.0)], 90.0)
        outcome = ingest_corpus(CFG, root, root / "processed")
        assert [r.status for r in outcome.results] == ["ingested"], outcome.report
    ar, _, _ = store.read_recording(tmp_path / "ar" / "processed" / "segments" / "train" / "aaaaaaaa_s001_t000.parquet")
    le, _, _ = store.read_recording(tmp_path / "le" / "processed" / "segments" / "train" / "aaaaaaaa_s001_t000.parquet")
    np.testing.assert_allclose(le.astype(np.float32), ar.astype(np.float32), atol=1e-2)  # float16 storage


def test_a_model_config_without_the_derivation_is_refused():
    check_derivation({"derivation": DERIVATION}, "m/config.json")
    with pytest.raises(InputError, match=r"m/config.json: does not name the input derivation") as err:
        check_derivation({"model": {}}, "m/config.json")
    assert len(err.value.lines) == 1
    with pytest.raises(InputError, match="says derivation 'as_recorded'"):
        check_derivation({"derivation": "as_recorded"}, "m/config.json")
