"""Same recording, every reference: per-second probability differences of a trained detector (a script, not a test).

    PYTHONPATH=. python benchmarks/reference_forms.py --model models/detector --out DIR EDF...

Each EDF (a TUSZ-layout recording, its 19 electrodes against one reference) is taken as the
electrode potentials and written again as ``-REF`` (as stored), ``-LE`` (the mean of the
A1/A2 channels subtracted, or of T3/T4 where the file has no ears), ``-Avg`` (BIDS names),
TUSZ's TCP pairs plus ``FZ-CZ``/``CZ-PZ``, and CHB-MIT's 23 native pairs (FT9/FT10 made from
their neighbours), with the tests' writer (``tests/data/conftest.py::write_form``, 256 Hz).
``brain-brr predict`` annotates all of them; printed: for each form, the largest per-second
probability difference from the ``-REF`` form over all recordings, and the mean.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from brain_brr.data.channels import CHANNELS, canonical_channel
from tests.data.conftest import FS, write_form

FORMS = ("ref", "le", "avg", "tcp", "chbmit")


def potentials(edf: Path) -> dict[str, np.ndarray] | None:
    """The electrode potentials of ``edf`` at 256 Hz in microvolts; ``None`` when a 10-20 electrode is absent."""
    import mne

    raw = mne.io.read_raw_edf(edf, preload=True, verbose="error").resample(FS, verbose="error")
    x = raw.get_data() * 1e6  # microvolts
    by_name = {}
    for label, row in zip(raw.ch_names, x):
        name = canonical_channel(label) or label.upper().removeprefix("EEG ").split("-")[0]
        by_name.setdefault(name, row)
    if any(ch not in by_name for ch in CHANNELS):
        return None
    v = {ch: by_name[ch] for ch in CHANNELS}
    v["A1"], v["A2"] = by_name.get("A1", v["T3"]), by_name.get("A2", v["T4"])
    v["FT9"], v["FT10"] = (v["F7"] + v["T3"]) / 2, (v["F8"] + v["T4"]) / 2
    v["REF"] = np.zeros_like(v["FP1"])
    return v


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("edfs", type=Path, nargs="+")
    args = ap.parse_args()
    written = []
    for edf in args.edfs:
        v = potentials(edf)
        if v is None:
            print(f"{edf}: a 10-20 electrode is absent; left out", file=sys.stderr)
            continue
        for form in FORMS:
            write_form(args.out / "edf" / f"{edf.stem}__{form}.edf", v, form)
        written.append(edf)
    args.edfs = written
    cmd = [sys.executable, "-m", "brain_brr", "predict", "--model", str(args.model), str(args.out / "edf")]
    subprocess.run([*cmd, "--out", str(args.out / "hyp")], check=True)
    diffs: dict[str, list[np.ndarray]] = {f: [] for f in FORMS[1:]}
    for edf in args.edfs:
        prob = {f: pd.read_parquet(args.out / "hyp" / f"{edf.stem}__{f}.probs.parquet")["prob"] for f in FORMS}
        for form in FORMS[1:]:
            diffs[form].append(np.abs(prob[form].to_numpy() - prob["ref"].to_numpy()))
    summary = {
        form: {"max": float(np.max(np.concatenate(d))), "mean": float(np.mean(np.concatenate(d)))}
        for form, d in diffs.items()
    }
    print(json.dumps({"recordings": len(args.edfs), "vs_ref": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
