"""Dev-chosen operating points against the eval sweep, for the detector in the workspace.

    python scripts/operating_points.py                      # the rule of this checkout
    python scripts/operating_points.py --rule-from ed864ce  # and the rule of another commit, same traces
    python scripts/operating_points.py --save-traces seed1.npz   # also keep the traces...
    python scripts/operating_points.py --traces seed1.npz bids.npz   # ...and apply the rules to them later

Reads models/detector and data/processed (after `dvc repro train`); runs the detector on the
dev and eval splits once, applies each rule to the dev traces (`thresholds_on_dev` with
params.yaml's eval settings) and scores every chosen threshold on eval, beside the eval
sweep's sensitivity within each target (`sens_at_fa`, what metrics/eval.json reports) and
the limit of the done-when check (the target plus one false alarm of the eval split).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from brain_brr.config import load_params
from brain_brr.eval.inference import infer_split
from brain_brr.eval.operating_point import ovlp_curve, thresholds_on_dev
from brain_brr.eval.postprocess import thresholds_from_params
from brain_brr.eval.scoring import sens_at_fa
from brain_brr.train.model import load_detector

ROOT = Path(__file__).resolve().parents[1]
MODULE = "src/brain_brr/eval/operating_point.py"


def rule_of(rev: str):
    """``thresholds_on_dev`` as commit ``rev`` defines it."""
    source = subprocess.run(["git", "show", f"{rev}:{MODULE}"], cwd=ROOT, check=True, capture_output=True, text=True)
    path = Path(tempfile.mkdtemp()) / "operating_point_rev.py"
    path.write_text(source.stdout)
    spec = importlib.util.spec_from_file_location("operating_point_rev", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.thresholds_on_dev


def traces(split: str):
    model, config = load_detector(ROOT / "models/detector")
    d = config["data"]
    preds = infer_split(
        model, ROOT / "data/processed", split, fs=int(d["sampling_rate"]), label_rate=int(config["label_rate"]),
        window_s=float(d["window_s"]),
    )  # fmt: skip
    return [p.probs for p in preds], [p.ref_events for p in preds], [p.duration_s for p in preds], config["label_rate"]


def save_traces(path: Path, dev: list, ev: list, label_rate: float) -> None:
    """Probabilities, reference events and durations of both splits in one ``.npz``."""
    arrays: dict[str, np.ndarray] = {"label_rate": np.array(label_rate)}
    for split, (probs, refs, durations) in (("dev", dev), ("eval", ev)):
        arrays[f"{split}_durations"] = np.asarray(durations, dtype=float)
        for i, (p, r) in enumerate(zip(probs, refs)):
            arrays[f"{split}_probs_{i}"] = np.asarray(p, dtype=np.float32)
            arrays[f"{split}_refs_{i}"] = np.asarray(r, dtype=float).reshape(-1, 2)
    np.savez_compressed(path, **arrays)


def load_traces(path: Path) -> tuple[list, list, float]:
    z = np.load(path)
    out = []
    for split in ("dev", "eval"):
        durations = [float(d) for d in z[f"{split}_durations"]]
        probs = [z[f"{split}_probs_{i}"] for i in range(len(durations))]
        refs = [[(float(a), float(b)) for a, b in z[f"{split}_refs_{i}"]] for i in range(len(durations))]
        out.append([probs, refs, durations])
    return out[0], out[1], float(z["label_rate"])


def report(name: str, dev: list, ev: list, label_rate: float, rules: dict, eval_cfg) -> None:
    base = thresholds_from_params(eval_cfg)
    sweep = sens_at_fa(ovlp_curve(*ev, label_rate, base), tuple(f"{t:g}" for t in eval_cfg.fa_targets))
    hours = sum(ev[2]) / 3600
    print(f"{name}: eval {hours:.2f} h, {sum(len(r) for r in ev[1])} seizures; dev: {sum(dev[2]) / 3600:.2f} h")
    for rule_name, rule in rules.items():
        chosen = rule(*dev, label_rate, eval_cfg)["operating_points"]
        for key, op in chosen.items():
            at = ovlp_curve(*ev, label_rate, base, [op["tau_on"]])[0]
            print(
                f"{rule_name:>14} {key:>4}/24h: tau_on {op['tau_on']:.3f}  eval sensitivity {at['sensitivity']:.3f} "
                f"at {at['fa_per_24h']:.1f} FA/24h (limit {float(key) + 24 / hours:.1f})  sweep {sweep[key]:.3f}  "
                f"chosen - sweep {at['sensitivity'] - sweep[key]:+.3f}  [{op['rule']}]"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule-from", action="append", default=[], help="also apply the rule of this git revision")
    parser.add_argument("--save-traces", type=Path, help="write the dev and eval traces to this .npz")
    parser.add_argument("--traces", type=Path, nargs="+", help="apply the rules to these saved traces instead")
    args = parser.parse_args()
    eval_cfg = load_params(ROOT / "params.yaml").eval
    rules = {"this checkout": thresholds_on_dev, **{rev: rule_of(rev) for rev in args.rule_from}}
    if args.traces:
        for path in args.traces:
            report(path.stem, *load_traces(path), rules, eval_cfg)
        return 0
    *dev, label_rate = traces("dev")
    *ev, _ = traces("eval")
    if args.save_traces:
        save_traces(args.save_traces, dev, ev, label_rate)
    report("workspace", dev, ev, label_rate, rules, eval_cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
