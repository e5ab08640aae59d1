"""Ingest benchmark on a TUSZ-shaped corpus (a script, not a test).

    python benchmarks/bench_ingest.py [--work DIR] [--repeats 3] [--workers 2] [--json FILE]

The corpus is what ``brain-brr synth`` writes by default (24 patients, 24 EEG-hours at
250/256/400/512 Hz, three montages, extra non-EEG channels, 1 Hz status channels, a few
files without FZ or PZ) plus two recordings synth does not make: a 60-minute one and one
at 1000 Hz. The whole stage (``python stages/ingest.py``, ``data.workers`` processes,
nothing reused, an existing MLflow store) runs in a fresh process each time, interleaved
with a plain MNE chain (``read_raw_edf``, ``filter``, ``notch_filter``, ``resample``; all
channels, no output written) over the same files with a pool of as many processes, both
given the largest files first. Each run is measured from outside: wall time, CPU time of
every process it started (the runner is their subreaper, so orphans count too), the
largest single RSS, and the peak total PSS of the process tree (sampled every 0.1 s).

Printed in one run: stage wall time, CPU utilisation (CPU s / (wall x workers)), real time
per core, the ratio to the MNE chain (median of the per-pair ratios), the fixed overhead
(the stage on a one-recording corpus), peak memory at 1x and 4x the corpus (4x: hard
links under new patient names), disk per EEG-hour, and a projection to full TUSZ v2.0.3.
Medians over ``--repeats``. Targets: >= 2,000x real time per core, >= 3x the MNE chain,
CPU utilisation >= 85%, fixed overhead < 2 s, the same peak memory at 1x and 4x, <= 40 MB
per EEG-hour. Linux (``/proc``, ``prctl``). Takes about 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

TARGET_X_REALTIME = 2000.0
TARGET_VS_MNE = 3.0
TARGET_UTILISATION = 0.85
TARGET_OVERHEAD_S = 2.0
TARGET_MB_PER_HOUR = 40.0
MEMORY_TOLERANCE = 0.15  # 4x corpus peak memory within 15% of the 1x one
TUSZ_HOURS, TUSZ_FILES = 1476.0, 7361  # TUSZ v2.0.3
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


# ------------------------------------------------------------------------------ corpora
def make_corpus(root: Path) -> None:
    """``brain-brr synth`` defaults, plus a 60-min 250 Hz recording and a 20-min 1000 Hz one."""
    from brain_brr.config import SynthConfig
    from brain_brr.synth import run_synth

    run_synth(root, SynthConfig())
    _extra_recording(root, "longlong", minutes=60.0, fs=250, seed=1)
    _extra_recording(root, "fastfast", minutes=20.0, fs=1000, seed=2)


def _extra_recording(root: Path, patient: str, minutes: float, fs: int, seed: int) -> None:
    """19 EEG + EKG + photic channels at ``fs``, 1 Hz IBI/BURSTS, as TUSZ stores them; one seizure."""
    import numpy as np

    from brain_brr.data.annotations import write_csv_bi
    from brain_brr.data.channels import CHANNELS
    from brain_brr.synth.edfwrite import write_edf

    rng = np.random.default_rng(seed)
    n, seconds = int(minutes * 60 * fs), int(minutes * 60)
    labels = [f"EEG {c}-REF" for c in CHANNELS] + ["EEG EKG1-REF", "PHOTIC-REF", "IBI", "BURSTS"]
    eeg = [np.cumsum(rng.standard_normal(n)) * 0.5 + 20 * rng.standard_normal(n) for _ in range(21)]
    edf = root / "edf" / "train" / patient / "s001_2020" / "01_tcp_ar" / f"{patient}_s001_t000.edf"
    write_edf(edf, eeg + [np.zeros(seconds)] * 2, labels, [fs] * 21 + [1, 1])
    write_csv_bi(edf.with_suffix(".csv_bi"), [(600.0, 660.0)], seconds)


def replicate(src: Path, dst: Path, copies: int) -> None:
    """``copies`` copies of a corpus under new patient names (hard links)."""
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


def one_recording(src: Path, dst: Path) -> None:
    """A corpus of the shortest train recording with a seizure (the fixed-overhead probe)."""
    candidates = [e for e in src.glob("edf/train/*/*/*/*.edf") if ",seiz," in e.with_suffix(".csv_bi").read_text()]
    edf = min(candidates, key=lambda e: (e.stat().st_size, e.name))
    folder = dst / edf.relative_to(src).parent
    folder.mkdir(parents=True, exist_ok=True)
    for f in edf.parent.glob(edf.stem + ".*"):
        os.link(f, folder / f.name)


def describe(root: Path) -> tuple[float, int, str]:
    """EEG hours, recordings, and one line on the corpus shape (from the EDF headers)."""
    from collections import Counter

    from brain_brr.data.edf import _read_header

    rates, signals, status, seconds, n = Counter(), [], 0, 0.0, 0
    for edf in sorted(root.glob("edf/*/*/*/*/*.edf")):
        hdr = _read_header(edf)
        fs = max(hdr.samples_per_record) / hdr.record_s
        rates[int(fs)] += 1
        signals.append(len(hdr.labels))
        status += any(s / hdr.record_s == 1 for s in hdr.samples_per_record)
        seconds += hdr.n_records * hdr.record_s
        n += 1
    montages = Counter(p.parent.name for p in root.glob("edf/*/*/*/*/*.edf"))
    size = sum(p.stat().st_size for p in root.glob("edf/*/*/*/*/*.edf"))
    line = (
        f"{n} recordings, {seconds / 3600:.2f} EEG-hours, {size / 1e9:.2f} GB of EDF; rates (Hz: files) "
        f"{dict(sorted(rates.items()))}; {min(signals)}-{max(signals)} signals per file; "
        f"{status} files with 1 Hz status channels; montages {dict(sorted(montages.items()))}; "
        f"recording length {seconds / n / 60:.1f} min on average"
    )
    return seconds / 3600, n, line


# ------------------------------------------------------------------------------ measuring a run
def _tree_pss_kb(pid: int) -> int:
    """Total proportional set size of ``pid`` and its descendants (shared pages counted once)."""
    import psutil

    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            for line in Path(f"/proc/{p.pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            pass
    return total


def measured(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Run ``cmd`` in a fresh runner process; wall, CPU of the whole process tree, memory."""
    wrapper = (
        "import ctypes, json, os, resource, subprocess, sys, time\n"
        "ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans of the run come back here\n"
        "t = time.perf_counter()\n"
        "p = subprocess.Popen(json.loads(sys.argv[1]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
        "print(p.pid, flush=True)\n"
        "err = p.communicate()[1]\n"
        "wall = time.perf_counter() - t\n"
        "while True:\n"
        "    try:\n"
        "        os.waitpid(-1, 0)\n"
        "    except ChildProcessError:\n"
        "        break\n"
        "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(json.dumps({'rc': p.returncode, 'wall_s': wall, 'cpu_s': r.ru_utime + r.ru_stime,\n"
        "                  'maxrss_kb': r.ru_maxrss, 'stderr': err[-2000:]}), flush=True)\n"
    )
    runner = subprocess.Popen(
        [sys.executable, "-c", wrapper, json.dumps(cmd)], cwd=cwd, env=env, stdout=subprocess.PIPE, text=True
    )
    pid = int(runner.stdout.readline())
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.wait(0.1):
            peak[0] = max(peak[0], _tree_pss_kb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = runner.communicate()[0]
    stop.set()
    sampler.join()
    res = json.loads(out.strip().splitlines()[-1])
    if res["rc"] != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {res['rc']}:\n{res['stderr']}")
    res["peak_pss_kb"] = peak[0]
    return res


def stage_run(corpus: Path, run_dir: Path, workers: int, env: dict[str, str]) -> dict[str, float]:
    """``python stages/ingest.py`` on ``corpus`` into a fresh folder; EEG hours and bytes from its output."""
    import pyarrow.parquet as pq

    shutil.rmtree(run_dir / "processed", ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    params = run_dir / "params.yaml"
    params.write_text(
        f"data:\n  root: {corpus}\n  processed: {run_dir / 'processed'}\n  workers: {workers}\nguards:\n  strict: false\n"
    )
    res = measured([sys.executable, str(ROOT / "stages" / "ingest.py"), "--params", str(params)], env, run_dir)
    rec = pq.read_table(run_dir / "processed" / "recordings.parquet", columns=["duration_s"])
    res["hours"] = sum(rec.column("duration_s").to_pylist()) / 3600
    res["bytes"] = sum(p.stat().st_size for p in (run_dir / "processed" / "segments").rglob("*.parquet"))
    return res


def mne_run(corpus: Path, workers: int, env: dict[str, str], cwd: Path) -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--mne-chain", str(corpus), "--workers", str(workers)]
    return measured(cmd, env, cwd)


# ------------------------------------------------------------------------------ the plain MNE chain
def _mne_chain(path: str) -> float:
    import warnings

    import mne

    from brain_brr.config import DataConfig

    cfg = DataConfig()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
        raw.filter(cfg.bandpass_low, cfg.bandpass_high, n_jobs=1, verbose="error")
        raw.notch_filter(cfg.notch_hz, n_jobs=1, verbose="error")
        raw.resample(cfg.sampling_rate, n_jobs=1, verbose="error")
    return raw.times[-1]


def mne_chain_main(corpus: Path, workers: int) -> int:
    """What a user would write: a Pool of ``workers`` over the EDFs (largest first, as ingest orders them)."""
    import multiprocessing as mp

    files = sorted((str(p) for p in corpus.glob("edf/*/*/*/*/*.edf")), key=lambda p: -os.path.getsize(p))
    with mp.Pool(workers) as pool:
        list(pool.imap_unordered(_mne_chain, files))
    return 0


# ------------------------------------------------------------------------------ the benchmark
def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def report(c1: dict, stages: list[dict], mnes: list[dict], probes: list[dict], s4: dict, workers: int) -> dict:
    """Print the figures and the targets; returns them."""
    hours = stages[0]["hours"]
    wall = _median(stages, "wall_s")
    util = statistics.median(s["cpu_s"] / (s["wall_s"] * workers) for s in stages)
    x_rt = 3600 * hours / (wall * workers)
    vs_mne = statistics.median(m["wall_s"] / s["wall_s"] for s, m in zip(stages, mnes))
    overhead = _median(probes, "wall_s")
    mb_h = stages[0]["bytes"] / 1e6 / hours
    peak1 = max(s["peak_pss_kb"] for s in stages) / 1024
    peak4 = s4["peak_pss_kb"] / 1024
    rss1, rss4 = max(s["maxrss_kb"] for s in stages) / 1024, s4["maxrss_kb"] / 1024
    walls = ", ".join(f"{s['wall_s']:.1f}" for s in stages)
    print(f"\nwhole stage (`python stages/ingest.py`, data.workers={workers}), {len(stages)} runs:")
    print(f"  wall {wall:.2f} s (median; runs: {walls} s) for {hours:.2f} EEG-hours")
    print(f"  CPU {_median(stages, 'cpu_s'):.1f} s, utilisation (CPU s / (wall x {workers})) {util:.0%}")
    print(f"  {x_rt:,.0f}x real time per core ({hours / (wall * workers) * 3600:.0f} EEG-s per core-second)")
    print(
        f"  plain MNE chain, Pool({workers}), same files: wall {_median(mnes, 'wall_s'):.2f} s (runs: "
        + ", ".join(f"{m['wall_s']:.1f}" for m in mnes)
        + f" s), CPU {_median(mnes, 'cpu_s'):.1f} s; ingest is {vs_mne:.2f}x faster (median of per-pair ratios)"
    )
    print(
        f"  fixed overhead: {overhead:.2f} s wall for a one-recording corpus ({probes[0]['hours'] * 60:.1f} min of EEG)"
    )
    print(f"  disk: {mb_h:.1f} MB per EEG-hour (19 ch x 256 Hz, float16 + zstd)")
    print(
        f"  peak memory, 1x vs 4x corpus ({s4['hours']:.1f} EEG-h, {s4['wall_s']:.1f} s wall, "
        f"{3600 * s4['hours'] / (s4['wall_s'] * workers):,.0f}x real time per core): total PSS of the process tree "
        f"{peak1:.0f} vs {peak4:.0f} MB; largest single process {rss1:.0f} vs {rss4:.0f} MB"
    )
    per_file = overhead  # each TUSZ file costs its share of work; the fixed part is paid once
    core_s = TUSZ_HOURS * 3600 / x_rt
    print(
        f"projection, full TUSZ v2.0.3 ({TUSZ_HOURS:,.0f} h, {TUSZ_FILES:,} files) at this rate: {core_s / 60:.0f} core-minutes"
        f" = {core_s / 60 / workers + per_file / 60:.0f} min on {workers} cores, {core_s / 60 / 16 + per_file / 60:.1f} min on 16"
    )
    mem_ratio = peak4 / peak1
    checks = {
        f">= {TARGET_X_REALTIME:,.0f}x real time per core": x_rt >= TARGET_X_REALTIME,
        f">= {TARGET_VS_MNE:g}x the plain MNE chain": vs_mne >= TARGET_VS_MNE,
        f"CPU utilisation >= {TARGET_UTILISATION:.0%}": util >= TARGET_UTILISATION,
        f"fixed overhead < {TARGET_OVERHEAD_S:g} s": overhead < TARGET_OVERHEAD_S,
        f"peak memory 4x / 1x = {mem_ratio:.2f} (within {MEMORY_TOLERANCE:.0%})": abs(mem_ratio - 1)
        <= MEMORY_TOLERANCE,
        f"<= {TARGET_MB_PER_HOUR:g} MB per EEG-hour": mb_h <= TARGET_MB_PER_HOUR,
    }
    print("\ntargets:")
    for name, ok in checks.items():
        print(f"  [{'OK ' if ok else 'MISS'}] {name}")
    return {
        "corpus": c1,
        "workers": workers,
        "stage_wall_s": wall,
        "cpu_utilisation": util,
        "x_realtime_per_core": x_rt,
        "vs_mne": vs_mne,
        "fixed_overhead_s": overhead,
        "mb_per_hour": mb_h,
        "peak_pss_mb": {"1x": peak1, "4x": peak4},
        "max_rss_mb": {"1x": rss1, "4x": rss4},
        "runs": {"stage": stages, "mne": mnes, "one_recording": probes, "stage_4x": s4},
        "checks": checks,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", help="working folder, kept (default: a temporary one, removed afterwards)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved stage / MNE-chain pairs (default 3)")
    ap.add_argument("--workers", type=int, default=2, help="data.workers, and the MNE chain's pool size")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--mne-chain", help=argparse.SUPPRESS)  # internal: run the plain MNE chain on a corpus
    args = ap.parse_args()
    if args.mne_chain:
        return mne_chain_main(Path(args.mne_chain), args.workers)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "OMP_NUM_THREADS": "1"}
    env.pop("DVC_ROOT", None)
    try:
        print(f"machine: {machine()}")
        c1, c4, one = work / "corpus1x", work / "corpus4x", work / "one"
        if not (c1 / "edf").is_dir():
            make_corpus(c1)
        if not (c4 / "edf").is_dir():
            replicate(c1, c4, 4)
        if not (one / "edf").is_dir():
            one_recording(c1, one)
        hours, n, line = describe(c1)
        print(f"corpus 1x: {line}")
        for edf in c1.glob("edf/*/*/*/*/*.edf"):  # both chains read from the page cache
            edf.read_bytes()
        stage_run(one, work / "warm-up", args.workers, env)  # creates the MLflow store
        stages, mnes, probes = [], [], []
        for r in range(args.repeats):
            stages.append(stage_run(c1, work / "stage1x", args.workers, env))
            mnes.append(mne_run(c1, args.workers, env, work))
            probes.append(stage_run(one, work / "one-run", args.workers, env))
            print(
                f"  pair {r + 1}/{args.repeats}: stage {stages[-1]['wall_s']:.1f} s, MNE chain {mnes[-1]['wall_s']:.1f} s,"
                f" one recording {probes[-1]['wall_s']:.2f} s",
                flush=True,
            )
        s4 = stage_run(c4, work / "stage4x", args.workers, env)
        figures = report({"hours": hours, "recordings": n, "shape": line}, stages, mnes, probes, s4, args.workers)
        figures["machine"] = machine()
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
        return 0 if all(figures["checks"].values()) else 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
