"""The same seed gives identical metrics files on CPU, run twice, and the same weights on another machine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from brain_brr.device import PINNED_KERNELS
from tests.conftest import REPO, stage_main
from tests.train.conftest import make_processed, tiny_params


def test_train_and_evaluate_twice_give_identical_metrics(tmp_path, mlflow_store):
    make_processed(tmp_path, recordings={"train": 4, "dev": 2, "eval": 2}, minutes=3.0)
    params = tiny_params(
        **{"guards.strict": False, "train.epochs": 2, "train.steps_per_epoch": 5, "model.dropout": 0.2}
    )
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params.model_dump()))
    outputs = (
        *("metrics/train.json", "models/detector/thresholds.json", "metrics/eval.json"),
        *("reports/train/history.csv", "reports/eval/recordings.csv"),
    )
    runs = []
    for _ in range(2):
        for name in ("train", "thresholds", "evaluate"):
            assert stage_main(name, "--params", str(path)) == 0, name
        runs.append({name: (tmp_path / name).read_bytes() for name in outputs})
    for name in outputs:
        assert runs[0][name] == runs[1][name], name


PROBE = REPO / "benchmarks" / "determinism_probe.py"
# Two emulated machines: this one as it is, and a one-core AVX2-only one (ATen, oneDNN and oneMKL capped
# at AVX2, torch on one thread).
MACHINES = {
    "this machine": {},
    "one-core AVX2 machine": {
        "OMP_NUM_THREADS": "1",
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    },
}


def probe_hashes(runs: list[tuple[dict[str, str], tuple[str, ...]]]) -> list[str]:
    """The probe's weights hash after a few training steps, one fresh process per (machine, args), all at once."""
    env = {k: v for k, v in os.environ.items() if k not in (*PINNED_KERNELS, "OMP_NUM_THREADS")}
    cmd = [sys.executable, str(PROBE), "--steps", "2", "--batch", "8", "--window-s", "20"]
    procs = [
        subprocess.Popen([*cmd, *args], env={**env, **machine}, stdout=subprocess.PIPE, text=True)
        for machine, args in runs
    ]
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    return [out.split()[0] for out in outs]


def test_cpu_training_gives_the_same_weights_on_another_machine():
    """With resolve_device's CPU settings the weights agree bit for bit; without them the emulation tells apart."""
    fixed_a, fixed_b, native_a, native_b = probe_hashes(
        [(machine, args) for args in ((), ("--no-fix",)) for machine in MACHINES.values()]
    )
    assert fixed_a == fixed_b
    assert native_a != native_b


def test_a_bad_thread_count_is_one_line_naming_the_variable(monkeypatch):
    from brain_brr.device import THREADS_ENV, resolve_device
    from brain_brr.errors import ConfigError

    monkeypatch.setenv(THREADS_ENV, "two")
    with pytest.raises(ConfigError, match=f"{THREADS_ENV}='two': not a positive whole number"):
        resolve_device("cpu")
