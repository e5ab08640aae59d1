"""The hard synthetic corpus (synth.difficulty: hard): same files and layout, exact labels, measurably harder."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from brain_brr.cli import main
from brain_brr.config import DataConfig, SynthConfig
from brain_brr.data.annotations import read_csv, read_csv_bi
from brain_brr.data.edf import preprocess
from brain_brr.eval.baseline import line_length_score
from brain_brr.synth import plan_corpus, render, run_synth
from brain_brr.synth.scalp import ELECTRODES, tcp_channels
from brain_brr.synth.seizures import HARD

CONFOUNDERS = {"chewing", "muscle_run", "theta_run", "delta_run", "spindle", "kcomplex"}
CONFOUNDERS |= {"flutter", "eye_move", "pop_train", "sweat"}


@pytest.fixture(scope="module")
def hard_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hard") / "corpus"
    run_synth(root, SynthConfig(patients=4, minutes=4.0, seed=2, difficulty="hard"))
    return root


def test_same_recordings_other_seizures():
    std, hard = plan_corpus(8, 20, 5, 0.08), plan_corpus(8, 20, 5, 0.08, "hard")
    key = ("split", "patient", "session", "montage", "token", "duration", "fs", "start", "extras", "missing")
    assert [tuple(getattr(r, k) for k in key) for r in std] == [tuple(getattr(r, k) for k in key) for r in hard]
    assert {r.difficulty for r in hard} == {"hard"} and {r.difficulty for r in std} == {"standard"}
    assert [s for r in std for s in r.seizures] != [s for r in hard for s in r.seizures]


def test_hard_seizures_are_shorter_fainter_and_of_more_kinds():
    std = [s for r in plan_corpus(24, 60, 0, 0.08) for s in r.seizures]
    hard = [s for r in plan_corpus(24, 60, 0, 0.08, "hard") for s in r.seizures]
    d = np.array([s.duration for s in hard])
    assert d.min() >= HARD.min_s and d.max() <= HARD.max_s
    assert np.median(d) < 0.75 * np.median([s.duration for s in std])
    assert np.median([s.snr for s in hard]) < 0.7 * np.median([s.snr for s in std])
    kinds = Counter(s.kind for s in hard)
    assert set(kinds) == {"focal", "lvfa", "confined", "absence", "generalized", "tonic_clonic"}, kinds
    confined = [s for s in hard if s.kind == "confined"]
    assert all(1 <= len(s.channel_onsets("01_tcp_ar")) <= 4 for s in confined)  # a few channels, never none


def _split_renders(rec):
    """(full render, render without seizures): the same random stream up to the seizures."""
    return render(rec), render(replace(rec, seizures=()))


def test_labels_are_exact_seizures_fill_them_and_nothing_leaks_outside():
    recs = [r for r in plan_corpus(4, 10, 1, 0.1, "hard") if r.seizures][:4]
    assert sum(len(r.seizures) for r in recs) >= 4
    n_post = 0
    for rec in recs:
        full, bare = _split_renders(rec)
        fs = rec.fs
        diff = np.abs(full.eeg - bare.eeg).max(axis=0)  # (n,)
        inside = np.zeros(diff.size, dtype=bool)
        for sz in rec.seizures:
            a, b = int(round(sz.onset * fs)), int(round(sz.stop * fs))
            inside[a:b] = True
            assert diff[a : a + fs].max() > 1.0 and diff[b - fs : b].max() > 0.1, (rec.stem, sz.kind)  # microvolts
        post = [(a, b) for a, b, name in full.artifacts if name == "postictal"]
        n_post += len(post)
        for a, b in post:
            assert any(abs(a - s.stop) < 1.0 / fs + 1e-9 for s in rec.seizures)  # starts where a seizure stops
            assert not any(a < s.onset < b for s in rec.seizures)  # ends before the next one
            inside[int(round(a * fs)) : int(round(b * fs))] = True
        assert diff[~inside].max() == 0.0, rec.stem
        # the background (confounders included) never depends on the seizures
        assert [x for x in full.artifacts if x[2] != "postictal"] == bare.artifacts
    assert n_post >= 2


def test_files_carry_the_plan_exactly(hard_corpus):
    info = json.loads((hard_corpus / "SYNTH_INFO.json").read_text())
    assert info["settings"]["difficulty"] == "hard" and info["complete"]
    plan = {r.stem: r for r in plan_corpus(4, 4.0, 2, 0.08, "hard")}
    n = 0
    for edf in sorted(hard_corpus.rglob("*.edf")):
        rec = plan[edf.stem]
        bi, per_channel = read_csv_bi(edf.with_suffix(".csv_bi")), read_csv(edf.with_suffix(".csv"))
        assert bi.seizure_intervals() == per_channel.seizure_intervals()
        assert bi.seizure_intervals() == [(pytest.approx(s.onset), pytest.approx(s.stop)) for s in rec.seizures]
        montage = {f"{a}-{b}" for a, b in tcp_channels(rec.montage)}
        for sz in rec.seizures:
            rows = {e.channel for e in per_channel.events if e.is_seizure and e.stop == pytest.approx(sz.stop)}
            assert rows == set(sz.channel_onsets(rec.montage)) and rows <= montage
            assert (rows == montage) == (sz.kind not in ("focal", "lvfa", "confined"))
        n += len(rec.seizures)
    assert n == sum(info["seizure_kinds"].values()) >= 3


def test_hard_recordings_hold_every_confounder():
    seen = Counter()
    for rec in plan_corpus(6, 20, 0, 0.08, "hard")[:10]:
        seen.update(name for _, _, name in render(rec).artifacts)
    assert set(seen) >= CONFOUNDERS, CONFOUNDERS - set(seen)
    std = Counter(name for rec in plan_corpus(6, 20, 0, 0.08)[:10] for _, _, name in render(rec).artifacts)
    assert not CONFOUNDERS & set(std)  # the standard corpus is unchanged


def _line_length_auroc(difficulty: str) -> float:
    """Pooled AUROC of the pipeline's line-length baseline on ingested signals of a small corpus."""
    cfg = DataConfig()
    scores, labels = [], []
    for seed in (0, 1):
        for rec in plan_corpus(6, 20, seed, 0.08, difficulty):
            sig = preprocess(render(rec).eeg[: len(ELECTRODES) - 2], rec.fs, cfg)
            n = sig.shape[1] // cfg.sampling_rate
            t = np.arange(n) + 0.5
            labels.append(np.any([(t >= s.onset) & (t < s.stop) for s in rec.seizures] or [t < 0], axis=0))
            scores.append(line_length_score(sig, cfg.sampling_rate, 1)[:n])
    return float(roc_auc_score(np.concatenate(labels), np.concatenate(scores)))


def test_line_length_detector_drops_to_near_chance_on_the_hard_corpus():
    standard, hard = _line_length_auroc("standard"), _line_length_auroc("hard")
    assert hard < 0.6 and standard - hard > 0.05, (standard, hard)


def test_cli_writes_a_hard_corpus(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "c"), "--patients", "3", "--minutes", "1", "--difficulty", "hard"]) == 0
    assert json.loads((tmp_path / "c" / "SYNTH_INFO.json").read_text())["settings"]["difficulty"] == "hard"
    with pytest.raises(SystemExit) as exc:
        main(["synth", str(tmp_path / "d"), "--difficulty", "harder"])
    assert exc.value.code == 2 and "invalid choice: 'harder'" in capsys.readouterr().err
