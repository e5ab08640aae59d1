"""The SzCORE entry point (`python -m brain_brr.szcore INPUT OUTPUT`) and the Dockerfile that runs it.

Docker cannot run here: one test checks the image's command against the benchmark's contract, the
others run the module itself as the container would (offline, no writable home).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from brain_brr.data.edf import edf_info
from brain_brr.data.events_tsv import HEADER_LINE, read_events_tsv
from brain_brr.synth.edfwrite import write_edf
from brain_brr.train.model import save_detector
from tests.conftest import REPO
from tests.eval.helpers import model_config, seizure_rhythm

THRESHOLDS = {"tau_on": 0.5, "tau_off": 0.3, "min_duration_s": 5.0, "merge_gap_s": 5.0, "max_duration_s": 600.0}
SZCORE_CHANNELS = "Fp1 F3 C3 P3 O1 F7 T3 T5 Fz Cz Pz Fp2 F4 C4 P4 O2 F8 T4 T6".split()  # noqa: SIM905
START = dt.datetime(2019, 5, 6, 7, 8, 9)


def _avg_edf(path, seconds: float, seizure: tuple[float, float] | None = None, channels=SZCORE_CHANNELS):
    """19 channels named as SzCORE names them (``Fp1-Avg``), 256 Hz, microvolts."""
    fs = 256
    rng = np.random.default_rng(5)
    t = np.arange(int(seconds * fs)) / fs
    signals = []
    for k, _ in enumerate(channels):
        x = rng.normal(0, 20.0, t.size)
        if seizure:
            m = (t >= seizure[0]) & (t < seizure[1])
            x[m] = 2.5 * x[m] + seizure_rhythm(t[m], k, 60.0)
        signals.append(x)
    write_edf(path, signals, [f"{c}-Avg" for c in channels], [fs] * len(channels), start=START)
    return path


@pytest.fixture
def model_dir(eval_assets, tmp_path):
    _, params, model = eval_assets
    out = tmp_path / "model"
    save_detector(out, model, model_config(params, THRESHOLDS))
    return out


def _szcore(*args, cwd, model=None, home=None):
    env = os.environ.copy()
    env.pop("BRAIN_BRR_MODEL", None)
    if model is not None:
        env["BRAIN_BRR_MODEL"] = str(model)
    if home is not None:
        env["HOME"] = env["XDG_CACHE_HOME"] = str(home)
    cmd = [sys.executable, "-m", "brain_brr.szcore", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)


class _Done:
    def __init__(self, returncode: int, stderr: str) -> None:
        self.returncode, self.stderr = returncode, stderr


@pytest.fixture
def szcore_here(monkeypatch, capfd):
    """``python -m brain_brr.szcore ARGS`` run in this process (its ``main``): the command's code without a
    second interpreter's start-up. ``test_seizure_recording_matches_predict`` runs the real command."""
    from brain_brr import szcore

    def run(*args, cwd, model=None) -> _Done:
        monkeypatch.chdir(cwd)
        if model is None:
            monkeypatch.delenv("BRAIN_BRR_MODEL", raising=False)
        else:
            monkeypatch.setenv("BRAIN_BRR_MODEL", str(model))
        capfd.readouterr()
        code = szcore.main([str(a) for a in args])
        return _Done(code, capfd.readouterr().err)

    return run


def test_two_second_file_gets_one_bckg_row(model_dir, tmp_path, szcore_here):
    edf = _avg_edf(tmp_path / "data" / "unipolar.edf", 2.0)
    out = tmp_path / "output" / "unipolar.tsv"
    proc = szcore_here(edf, out, cwd=tmp_path, model=model_dir)
    assert proc.returncode == 0, proc.stderr
    assert "2 s long" in proc.stderr
    lines = out.read_text().splitlines()
    assert re.search(HEADER_LINE, lines[0])  # what the benchmark's pull-request check greps
    assert lines[1:] == ["0.0\t2.0\tbckg\tn/a\tn/a\t2019-05-06 07:08:09\t2.0"]
    ann = read_events_tsv(out, strict=True)
    assert ann.duration == edf_info(edf).duration_s == 2.0


def test_seizure_recording_matches_predict(model_dir, tmp_path):
    edf = _avg_edf(tmp_path / "data" / "sub-01_ses-01_task-szMonitoring_run-01_eeg.edf", 150.0, (50.0, 90.0))
    out = tmp_path / "output" / "rec.tsv"
    proc = _szcore(edf, out, cwd=tmp_path, model=model_dir, home="/proc/no-home")  # no writable home
    assert proc.returncode == 0, proc.stderr
    ann = read_events_tsv(out, strict=True)
    assert ann.duration == 150.0
    seizures = [e for e in ann.events if e.is_seizure]
    assert seizures and any(e.start < 90.0 and e.stop > 50.0 for e in seizures)
    assert all(0.0 <= e.confidence <= 1.0 for e in seizures)
    pred = tmp_path / "pred"
    proc = subprocess.run(
        [sys.executable, "-m", "brain_brr", "predict", "--model", str(model_dir), str(edf), "--out", str(pred)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert (pred / f"{edf.stem}.tsv").read_text() == out.read_text()


def test_default_model_directory_and_a_missing_model(model_dir, tmp_path, szcore_here):
    edf = _avg_edf(tmp_path / "a.edf", 2.0)
    work = tmp_path / "work"
    (work / "models").mkdir(parents=True)
    proc = szcore_here(edf, tmp_path / "none.tsv", cwd=work)
    assert proc.returncode == 2 and "BRAIN_BRR_MODEL" in proc.stderr and not (tmp_path / "none.tsv").exists()
    (work / "models" / "detector").symlink_to(model_dir)
    proc = szcore_here(edf, tmp_path / "a.tsv", cwd=work)  # models/detector under the current directory
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.tsv").is_file()


def test_unusable_signal_is_background_and_says_why(model_dir, tmp_path, szcore_here):
    edf = _avg_edf(tmp_path / "few.edf", 30.0, channels=SZCORE_CHANNELS[:8])
    out = tmp_path / "few.tsv"
    proc = szcore_here(edf, out, cwd=tmp_path, model=model_dir)
    assert proc.returncode == 0 and "missing or unusable" in proc.stderr and "written as background" in proc.stderr
    assert [e.label for e in read_events_tsv(out, strict=True).events] == ["bckg"]


def test_unreadable_edf_is_an_error_without_output(model_dir, tmp_path, szcore_here):
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"not an EDF")
    proc = szcore_here(bad, tmp_path / "bad.tsv", cwd=tmp_path, model=model_dir)
    assert proc.returncode == 2 and "bad.edf" in proc.stderr and not (tmp_path / "bad.tsv").exists()
    proc = szcore_here(tmp_path / "missing.edf", tmp_path / "m.tsv", cwd=tmp_path, model=model_dir)
    assert proc.returncode == 2 and "no such EDF" in proc.stderr


def _instructions(text: str) -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.strip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            if current.strip():
                op, _, rest = current.strip().partition(" ")
                lines.append((op.upper(), rest.strip()))
            current = ""
    return lines


def test_dockerfile_follows_the_benchmark_template():
    steps = _instructions((REPO / "Dockerfile").read_text())
    cmds = [rest for op, rest in steps if op == "CMD"]
    assert cmds == ['python3 -m brain_brr.szcore "/data/${INPUT}" "/output/${OUTPUT}"']
    assert ("VOLUME", '["/data"]') in steps and ("VOLUME", '["/output"]') in steps
    assert ("ENV", 'INPUT=""') in steps and ("ENV", 'OUTPUT=""') in steps
    copies = [rest.split() for op, rest in steps if op == "COPY"]
    model_env = [rest.partition("=")[2] for op, rest in steps if op == "ENV" and rest.startswith("BRAIN_BRR_MODEL=")]
    assert ["models/detector/", model_env[0] + "/"] in copies  # the trained detector is baked in, where $ENV says
    assert [rest for op, rest in steps if op == "USER"] == ["appuser"]
    assert (REPO / "src" / "brain_brr" / "szcore.py").is_file()
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "!models/detector/" in ignored and "!src/" in ignored
