"""The synthetic corpus: TUSZ layout, real EDF/annotation files, labels, determinism, difficulty."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from brain_brr.cli import main
from brain_brr.config import SynthConfig
from brain_brr.data.annotations import read_csv, read_csv_bi
from brain_brr.data.channels import map_channels
from brain_brr.data.splits import SPLITS
from brain_brr.errors import InputError
from brain_brr.synth import plan_corpus, render, run_synth
from brain_brr.synth.plan import RATES, corpus_summary
from brain_brr.synth.scalp import ELECTRODES, tcp_channels
from brain_brr.synth.tusz import write_recording

TUSZ_PATH = re.compile(
    r"^edf/(train|dev|eval)/([a-z]{8})/(s\d{3})_(\d{4})/(01_tcp_ar|02_tcp_le|03_tcp_ar_a)/\2_\3_t\d{3}\.edf$"
)
SMALL = {"patients": 4, "minutes": 3.0, "seizure_fraction": 0.08}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "corpus"
    run_synth(root, SynthConfig(seed=0, **SMALL))
    return root


def edfs(root: Path) -> list[Path]:
    return sorted(root.rglob("*.edf"))


def test_layout_and_names_match_tusz(corpus):
    files = edfs(corpus)
    assert len(files) >= 6
    for edf in files:
        rel = edf.relative_to(corpus).as_posix()
        assert TUSZ_PATH.match(rel), rel
        assert edf.with_suffix(".csv_bi").is_file() and edf.with_suffix(".csv").is_file(), rel
    others = {
        p.relative_to(corpus).as_posix()
        for p in corpus.rglob("*")
        if p.is_file() and p.suffix not in (".edf", ".csv_bi", ".csv")
    }
    assert others == {"SYNTH_INFO.json"}  # no temporary files left behind


def test_every_edf_reads_with_mne(corpus):
    import edfio
    import mne

    n_status = 0
    rates = set()
    for edf in edfs(corpus):
        montage = edf.parent.name
        raw = mne.io.read_raw_edf(edf, preload=False, verbose="error")
        names = raw.ch_names
        sfx = "-LE" if montage == "02_tcp_le" else "-REF"
        eeg = [n for n in names if n.startswith("EEG ") and n.endswith(sfx)]
        assert "EEG FP1" + sfx in names and "EEG O2" + sfx in names, (edf.name, names)
        assert all(n.endswith(sfx) for n in eeg)
        found, dups = map_channels(names)
        assert len(found) >= 18 and not dups, (edf.name, sorted(found))  # at most FZ or PZ missing
        assert ("EEG A1" + sfx in names) == (montage != "03_tcp_ar_a")
        duration = read_csv_bi(edf.with_suffix(".csv_bi")).duration
        assert raw.n_times / raw.info["sfreq"] == pytest.approx(duration)

        sig_rates = {s.label: s.sampling_frequency for s in edfio.read_edf(edf).signals}
        eeg_rate = sig_rates["EEG FP1" + sfx]
        assert eeg_rate in RATES
        rates.add(eeg_rate)
        if "IBI" in sig_rates:
            n_status += 1
            assert sig_rates["IBI"] == sig_rates["BURSTS"] == sig_rates["SUPPR"] == 1.0
        data = raw.get_data(picks=["EEG FP1" + sfx], units="uV")
        assert 1.0 < float(np.std(data)) < 500.0  # microvolts, not volts
    assert len(rates) >= 2
    assert n_status >= len(edfs(corpus)) // 2


def test_file_without_fz_and_with_every_extra_channel(tmp_path):
    import mne

    rec = next(r for r in plan_corpus(3, 1.0, 0, 0.1) if r.montage != "02_tcp_le")
    extras = (
        "EEG ROC-REF",
        "EEG LOC-REF",
        "EEG EKG1-REF",
        "EMG-REF",
        "EEG 26-REF",
        "EEG 27-REF",
        "EEG T1-REF",
        "EEG T2-REF",
        "PHOTIC-REF",
    )
    rec = replace(rec, missing="FZ", extras=extras, status_channels=True)
    write_recording(tmp_path, rec)
    raw = mne.io.read_raw_edf(tmp_path / rec.rel_path, preload=True, verbose="error")
    assert "EEG FZ-REF" not in raw.ch_names and "EEG PZ-REF" in raw.ch_names
    assert set(extras) | {"IBI", "BURSTS", "SUPPR"} <= set(raw.ch_names)
    found, _ = map_channels(raw.ch_names)
    assert len(found) == 18  # the extras map to no 10-20 channel
    ekg = raw.get_data(picks=["EEG EKG1-REF"], units="uV")
    assert np.ptp(ekg) > 200.0  # QRS complexes, hundreds of microvolts


def test_csv_and_csv_bi_agree(corpus):
    with_bckg = without_bckg = 0
    n_seizures = 0
    for edf in edfs(corpus):
        bi = read_csv_bi(edf.with_suffix(".csv_bi"))
        per_channel = read_csv(edf.with_suffix(".csv"))
        assert not bi.warnings and not per_channel.warnings
        assert bi.duration == per_channel.duration
        assert bi.seizure_intervals() == per_channel.seizure_intervals()
        assert {e.label for e in bi.events} <= {"seiz", "bckg"}
        has_bckg = any(e.label == "bckg" for e in bi.events)
        with_bckg += has_bckg
        without_bckg += not has_bckg
        n_seizures += len(bi.seizure_intervals())

        montage = [f"{a}-{b}" for a, b in tcp_channels(edf.parent.name)]
        assert {e.channel for e in per_channel.events} == set(montage)
        for ch in montage:  # each channel is tiled from 0 to the end without gaps
            rows = sorted((e.start, e.stop) for e in per_channel.events if e.channel == ch)
            assert rows[0][0] == 0.0 and rows[-1][1] == per_channel.duration
            assert all(a[1] == pytest.approx(b[0]) for a, b in zip(rows, rows[1:]))
        for _, e in bi.seizure_intervals():
            labels = {ev.label for ev in per_channel.events if ev.is_seizure and ev.stop == pytest.approx(e)}
            channels = {ev.channel for ev in per_channel.events if ev.is_seizure and ev.stop == pytest.approx(e)}
            assert len(labels) == 1
            if labels & {"gnsz", "absz", "tcsz"}:
                assert channels == set(montage)
            else:
                assert labels <= {"fnsz", "cpsz", "spsz"} and 0 < len(channels) < len(montage)
    assert with_bckg and without_bckg
    assert n_seizures >= 3


def test_splits_are_patient_disjoint_and_each_has_seizures(corpus):
    patients = {split: {p.name for p in (corpus / "edf" / split).iterdir()} for split in SPLITS}
    assert all(patients.values())
    assert not (
        patients["train"] & patients["dev"]
        or patients["train"] & patients["eval"]
        or patients["dev"] & patients["eval"]
    )
    for split in SPLITS:
        files = (corpus / "edf" / split).rglob("*.csv_bi")
        assert sum(len(read_csv_bi(f).seizure_intervals()) for f in files) >= 1, split


def test_summary_and_info_match_the_files(corpus):
    info = json.loads((corpus / "SYNTH_INFO.json").read_text())
    assert info["complete"] and info["settings"]["seed"] == 0
    for split in SPLITS:
        files = list((corpus / "edf" / split).rglob("*.csv_bi"))
        anns = [read_csv_bi(f) for f in files]
        total = sum(a.duration for a in anns)
        seiz = sum(e - s for a in anns for s, e in a.seizure_intervals())
        assert info["splits"][split]["recordings"] == len(files)
        assert info["splits"][split]["seizure_events"] == sum(len(a.seizure_intervals()) for a in anns)
        assert info["splits"][split]["seizure_fraction"] == pytest.approx(seiz / total, abs=1e-4)


def test_same_seed_same_bytes_other_seed_other_corpus(corpus, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    run_synth(again, SynthConfig(seed=0, **SMALL))
    run_synth(other, SynthConfig(seed=1, **SMALL))

    def tree(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    first = tree(corpus)
    assert tree(again) == first
    second = tree(other)
    assert second.keys() != first.keys() or any(second[k] != v for k, v in first.items())


def test_rerun_replaces_an_earlier_corpus_and_refuses_foreign_folders(tmp_path):
    out = tmp_path / "c"
    run_synth(out, SynthConfig(patients=3, minutes=1.0, seed=0, seizure_fraction=0.1))
    stale = out / "edf" / "train" / "zzzzzzzz" / "s001_2000" / "01_tcp_ar" / "zzzzzzzz_s001_t000.edf"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    run_synth(out, SynthConfig(patients=3, minutes=1.0, seed=1, seizure_fraction=0.1))
    assert not stale.exists()

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a synth corpus"):
        run_synth(foreign, SynthConfig(patients=3, minutes=1.0, seed=0, seizure_fraction=0.1))
    assert (foreign / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("target", [0.03, 0.08, 0.2])
def test_seizure_fraction_reaches_the_target(target):
    recs = plan_corpus(12, 60, 3, target)
    for split, s in corpus_summary(recs).items():
        assert s["seizure_fraction"] == pytest.approx(target, rel=0.15), split
    durations = [s.duration for r in recs for s in r.seizures]
    assert min(durations) >= 10.0 and max(durations) <= 180.0
    assert 15.0 < float(np.median(durations)) < 45.0


def test_small_written_corpus_fraction_near_target(corpus):
    info = json.loads((corpus / "SYNTH_INFO.json").read_text())
    assert info["total"]["seizure_fraction"] == pytest.approx(SMALL["seizure_fraction"], rel=0.35)


def test_default_corpus_plan_has_enough_training_seizures():
    recs = plan_corpus(24, 60, 0, 0.08)
    stats = corpus_summary(recs)
    assert stats["train"]["seizure_events"] >= 100
    assert all(stats[s]["seizure_events"] >= 10 for s in SPLITS)
    free = sum(not r.seizures for r in recs) / len(recs)
    assert 0.2 <= free <= 0.5
    assert sum(r.status_channels for r in recs) / len(recs) >= 0.75
    assert {r.fs for r in recs} == set(RATES)
    assert len({s.label for r in recs for s in r.seizures}) >= 5


def _per_second(recs):
    """Per 2-s window: mean TCP-channel RMS, a rhythmicity score (2-9 Hz spectral peak share,
    best channel) and the window's class."""
    rms, rhythm, cls = [], [], []
    for rec in recs:
        r = render(rec)
        fs, secs = rec.fs, rec.duration
        kind = np.zeros(secs, dtype=int)  # 0 background, 1 artifact, 2 seizure
        for a, b, _ in r.artifacts:
            kind[int(a) : int(np.ceil(b))] = 1
        for s in rec.seizures:
            kind[int(np.ceil(s.onset)) : int(s.stop)] = 2
        x = np.stack([r.eeg[ELECTRODES.index(a)] - r.eeg[ELECTRODES.index(b)] for a, b in tcp_channels("03_tcp_ar_a")])
        n2 = secs // 2
        win = x[:, : n2 * 2 * fs].reshape(x.shape[0], n2, 2 * fs)
        rms.append(np.sqrt((win**2).mean(2)).mean(0))
        spec = np.abs(np.fft.rfft(win * np.hanning(2 * fs), axis=2)) ** 2
        f = np.fft.rfftfreq(2 * fs, 1 / fs)
        peak = spec[:, :, (f >= 2) & (f <= 9)].max(2) / spec[:, :, (f >= 1) & (f <= 30)].sum(2)
        rhythm.append(peak.max(0))
        pairs = kind[: n2 * 2].reshape(n2, 2)
        cls.append(np.where(pairs[:, 0] == pairs[:, 1], pairs[:, 0], -1))  # -1: window straddles two classes
    return np.concatenate(rms), np.concatenate(rhythm), np.concatenate(cls)


def test_amplitude_alone_cannot_separate_seizures_but_rhythm_can():
    from sklearn.metrics import roc_auc_score

    recs = [r for r in plan_corpus(6, 12, 0, 0.1) if r.duration >= 60]
    rms, rhythm, cls = _per_second(recs)
    seiz, art = rms[cls == 2], rms[cls == 1]
    assert len(seiz) >= 50 and len(art) >= 50
    # artifacts are often as large as seizures: many artifact windows above the median seizure window
    assert np.mean(art > np.median(seiz)) > 0.25
    y = cls == 2
    assert roc_auc_score(y, rms) < 0.75  # amplitude is a poor detector
    assert roc_auc_score(y, rhythm) > roc_auc_score(y, rms) + 0.1  # yet seizures differ: rhythmic discharges


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patients", "2"], "synth.patients=2: must be at least 3"),
        (["--minutes", "0"], "synth.minutes=0.0: must be at least 0.5"),
        (["--seizure-fraction", "0"], "synth.seizure_fraction=0.0: must lie strictly between 0 and 0.5"),
        (["--seizure-fraction", "0.5"], "synth.seizure_fraction=0.5: must lie strictly between 0 and 0.5"),
    ],
)
def test_bad_arguments_give_one_clear_line(tmp_path, capsys, args, message):
    assert main(["synth", str(tmp_path / "c"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "c").exists()


def test_cli_exit_codes(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "bad"), "--patients", "1"]) == 2
    assert "synth.patients=1: must be at least 3" in capsys.readouterr().err
    assert main(["synth", str(tmp_path / "ok"), "--patients", "3", "--minutes", "1", "--seed", "5"]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[SYNTH]")]
    assert len(line) == 1 and all(f"{s}:" in line[0] for s in SPLITS)
