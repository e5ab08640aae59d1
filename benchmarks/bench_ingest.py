"""Ingest benchmark (a script, not a test).

    OMP_NUM_THREADS=1 python benchmarks/bench_ingest.py [--hours 1] [--work DIR]

Prints the machine; ingestion throughput per core (EEG-hours per wall-second and as a
multiple of real time) against a plain MNE chain on the same files (all channels read,
``filter``, ``notch_filter``, ``resample``); bytes on disk per EEG-hour; and the peak RSS
of the ingest stage on a corpus of 1x and 4x the size, each run in its own subprocess
(``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a fresh wrapper process).

Targets: >= 2000x real time per core, >= 3x the MNE chain, <= 40 MB per EEG-hour
(19 channels at 256 Hz), the same peak memory at 1x and 4x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

TARGET_X_REALTIME = 2000.0
TARGET_VS_MNE = 3.0
TARGET_MB_PER_HOUR = 40.0
MEMORY_TOLERANCE = 0.15  # 4x corpus peak RSS within 15% of the 1x one
ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{model}; {os.cpu_count()} logical cores ({usable} usable); Python "
        f"{platform.python_version()}; {platform.system()} {platform.release()}"
    )


def make_corpus(root: Path, hours: float) -> None:
    from brain_brr.config import SynthConfig
    from brain_brr.data.synth import run_synth

    # Three patients (one per split); synth spreads each patient's minutes over sessions/recordings.
    run_synth(root, SynthConfig(patients=3, minutes=60.0 * hours / 3, seed=0, seizure_fraction=0.08))


def make_long_recording(root: Path, minutes: float = 60.0, fs: int = 250) -> None:
    """One long recording as TUSZ stores many: 19 EEG + EKG + photic at 250 Hz, 1 Hz IBI/BURSTS."""
    import numpy as np

    from brain_brr.data.annotations import write_csv_bi
    from brain_brr.data.channels import CHANNELS
    from brain_brr.data.edfwrite import write_edf

    rng = np.random.default_rng(0)
    n, seconds = int(minutes * 60 * fs), int(minutes * 60)
    labels = [f"EEG {c}-REF" for c in CHANNELS] + ["EEG EKG1-REF", "PHOTIC-REF", "IBI", "BURSTS"]
    signals = [np.cumsum(rng.standard_normal(n)) * 0.5 + 20 * rng.standard_normal(n) for _ in range(21)] + [
        np.zeros(seconds)
    ] * 2
    edf = root / "edf" / "train" / "longlong" / "s001_2020" / "01_tcp_ar" / "longlong_s001_t000.edf"
    write_edf(edf, signals, labels, [fs] * 21 + [1, 1])
    write_csv_bi(edf.with_suffix(".csv_bi"), [(600.0, 660.0)], seconds)


def replicate(src: Path, dst: Path, copies: int) -> None:
    """``copies`` copies of a corpus under new patient names (hard links for the EDFs)."""
    for edf in sorted(src.glob("edf/*/*/*/*/*.edf")):
        split, patient, session, montage = edf.parts[-5:-1]
        for c in range(copies):
            new_patient = f"c{c}{patient[2:]}"
            folder = dst / "edf" / split / new_patient / session / montage
            folder.mkdir(parents=True, exist_ok=True)
            for f in edf.parent.glob(edf.stem + ".*"):
                target = folder / f.name.replace(patient, new_patient, 1)
                try:
                    os.link(f, target)
                except OSError:
                    shutil.copy2(f, target)


def time_chains(root: Path, work: Path, repeats: int = 2, warm_up: bool = True) -> dict[str, float]:
    """Seconds for our chain and for the plain MNE chain over the same files, in this process (one core)."""
    import mne

    from brain_brr.config import DataConfig
    from brain_brr.data.ingest import discover, process

    cfg = DataConfig()
    tasks = discover(root)

    def mne_chain(path: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
            raw.filter(cfg.bandpass_low, cfg.bandpass_high, n_jobs=1, verbose="error")
            raw.notch_filter(cfg.notch_hz, n_jobs=1, verbose="error")
            raw.resample(cfg.sampling_rate, n_jobs=1, verbose="error")

    if warm_up:  # imports and filter design caches, outside the timing
        process(tasks[0], cfg, work / "warmup", root)
        mne_chain(tasks[0].edf)

    # Interleaved per file and best of `repeats`, so that load from other processes hits both chains alike.
    best_ours = best_plain = float("inf")
    for rep in range(repeats):
        out = work / f"chain-processed-{rep}"  # a fresh folder: nothing is reused
        ours = plain = 0.0
        results = []
        for t in tasks:
            t0 = time.perf_counter()
            results.append(process(t, cfg, out, root))
            t1 = time.perf_counter()
            mne_chain(t.edf)
            ours, plain = ours + (t1 - t0), plain + (time.perf_counter() - t1)
        best_ours, best_plain = min(best_ours, ours), min(best_plain, plain)
    hours = sum(r.row["duration_s"] for r in results if r.row) / 3600
    seg_bytes = sum(p.stat().st_size for p in (out / "segments").rglob("*.parquet"))
    return {"hours": hours, "ours_s": best_ours, "mne_s": best_plain, "bytes": seg_bytes, "n": len(tasks)}


def stage_run(root: Path, work: Path, name: str, workers: int) -> dict[str, float]:
    """Run ``stages/ingest.py`` in a subprocess of a fresh wrapper; wall time and peak RSS of its children."""
    run_dir = work / name
    run_dir.mkdir(parents=True, exist_ok=True)
    params = run_dir / "params.yaml"
    params.write_text(f"data:\n  root: {root}\n  processed: {run_dir / 'processed'}\n  workers: {workers}\n")
    wrapper = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        f"rc = subprocess.run([sys.executable, {str(ROOT / 'stages' / 'ingest.py')!r}, '--params', "
        f"{str(params)!r}], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
        "print(json.dumps({'rc': rc, 'wall_s': time.perf_counter() - t, 'maxrss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{run_dir / 'mlflow.db'}"}
    env.pop("DVC_ROOT", None)
    out = subprocess.run(
        [sys.executable, "-c", wrapper], cwd=run_dir, env=env, capture_output=True, text=True, check=True
    )
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if res["rc"] != 0:
        raise SystemExit(f"ingest on {root} exited {res['rc']}; see {run_dir}")
    import pyarrow.parquet as pq

    res["hours"] = (
        sum(
            pq.read_table(run_dir / "processed" / "recordings.parquet", columns=["duration_s"])
            .column("duration_s")
            .to_pylist()
        )
        / 3600
    )
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=1.0, help="EEG hours of the 1x corpus (default 1)")
    ap.add_argument("--work", help="working folder (default: a temporary one, removed afterwards)")
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"machine: {machine()}")
        print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
        c1, c4, long_ = work / "corpus1x", work / "corpus4x", work / "long"
        if not c1.is_dir():
            make_corpus(c1, args.hours)
        if not c4.is_dir():
            replicate(c1, c4, 4)
        if not long_.is_dir():
            make_long_recording(long_)

        chains = time_chains(c1.resolve(), work)
        sec_per_hour = chains["ours_s"] / chains["hours"]
        x_rt = 3600 / sec_per_hour
        vs_mne = chains["mne_s"] / chains["ours_s"]
        mb_per_hour = chains["bytes"] / 1e6 / chains["hours"]
        print(
            f"\ncorpus 1x: {chains['n']} recordings, {chains['hours']:.2f} "
            "EEG-hours (synth: 250/256/400/512 Hz, extra and 1 Hz channels)"
        )
        print("per core (one process, recordings in sequence, imports warm):")
        print(
            f"  ours  (read EEG channels, resample_poly, one SOS filtfilt, normalise, store): {chains['ours_s']:.2f} "
            f"s = {sec_per_hour:.2f} s per EEG-hour = {1 / sec_per_hour:.3f} EEG-h/s = {x_rt:,.0f}x real time"
        )
        print(
            f"  plain MNE (read all channels, filter, notch_filter, resample):               {chains['mne_s']:.2f} s = "
            f"{chains['mne_s'] / chains['hours']:.2f} s per EEG-hour = {3600 * chains['hours'] / chains['mne_s']:,.0f}x real time"
        )
        print(f"  speed-up over plain MNE: {vs_mne:.1f}x")
        print(
            f"  disk: {chains['bytes'] / 1e6:.1f} MB of segments = "
            f"{mb_per_hour:.1f} MB per EEG-hour (19 ch x 256 Hz, float16 + zstd)"
        )
        long_chains = time_chains(long_.resolve(), work / "long-run", repeats=2, warm_up=False)
        print(
            f"one 60-min recording at 250 Hz (TUSZ-like length): ours {long_chains['ours_s']:.2f} s ({3600 * long_chains['hours'] / long_chains['ours_s']:,.0f}x "
            f"real time), plain MNE {long_chains['mne_s']:.2f} s: {long_chains['mne_s'] / long_chains['ours_s']:.1f}x"
        )

        s1 = stage_run(c1.resolve(), work, "stage1x", workers=1)
        s4 = stage_run(c4.resolve(), work, "stage4x", workers=1)
        s4w = stage_run(c4.resolve(), work, "stage4x-w2", workers=2)
        print("\nwhole stage (`python stages/ingest.py`, subprocess, includes interpreter start, imports and MLflow):")
        for name, s, w in (("1x", s1, 1), ("4x", s4, 1), ("4x", s4w, 2)):
            print(
                f"  {name} workers={w}: {s['hours']:.2f} EEG-h in {s['wall_s']:.2f} s "
                f"({3600 * s['hours'] / s['wall_s'] / w:,.0f}x real time per core), peak RSS {s['maxrss_kb'] / 1024:.0f} MB"
            )
        mem_ratio = s4["maxrss_kb"] / s1["maxrss_kb"]

        checks = {
            f">= {TARGET_X_REALTIME:,.0f}x real time per core": x_rt >= TARGET_X_REALTIME,
            f">= {TARGET_VS_MNE:g}x the plain MNE chain": vs_mne >= TARGET_VS_MNE,
            f"<= {TARGET_MB_PER_HOUR:g} MB per EEG-hour": mb_per_hour <= TARGET_MB_PER_HOUR,
            f"peak RSS 4x / 1x = {mem_ratio:.2f} (within {MEMORY_TOLERANCE:.0%})": abs(mem_ratio - 1)
            <= MEMORY_TOLERANCE,
        }
        print("\ntargets:")
        for name, ok in checks.items():
            print(f"  [{'OK ' if ok else 'MISS'}] {name}")
        return 0 if all(checks.values()) else 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
