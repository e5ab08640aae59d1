"""Dev-chosen operating points against the eval sweep, for the detector in the workspace.

    python scripts/operating_points.py                      # the rule of this checkout
    python scripts/operating_points.py --rule-from ed864ce  # and the rule of another commit, same traces

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule-from", action="append", default=[], help="also apply the rule of this git revision")
    args = parser.parse_args()
    eval_cfg = load_params(ROOT / "params.yaml").eval
    *dev, label_rate = traces("dev")
    *ev, _ = traces("eval")
    base = thresholds_from_params(eval_cfg)
    sweep = sens_at_fa(ovlp_curve(*ev, label_rate, base), tuple(f"{t:g}" for t in eval_cfg.fa_targets))
    hours = sum(ev[2]) / 3600
    rules = {"this checkout": thresholds_on_dev, **{rev: rule_of(rev) for rev in args.rule_from}}
    print(f"eval: {hours:.2f} h, {sum(len(r) for r in ev[1])} seizures; dev: {sum(dev[2]) / 3600:.2f} h")
    for name, rule in rules.items():
        chosen = rule(*dev, label_rate, eval_cfg)["operating_points"]
        for key, op in chosen.items():
            at = ovlp_curve(*ev, label_rate, base, [op["tau_on"]])[0]
            print(
                f"{name:>14} {key:>4}/24h: tau_on {op['tau_on']:.3f}  eval sensitivity {at['sensitivity']:.3f} at "
                f"{at['fa_per_24h']:.1f} FA/24h (limit {float(key) + 24 / hours:.1f})  sweep {sweep[key]:.3f}  "
                f"[{op['rule']}]"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
