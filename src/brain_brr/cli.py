"""``brain-brr`` command line: one sub-command per pipeline stage plus tools.

Exit codes (CONTRACT): 0 success, 2 bad input or configuration (one line per
problem on stderr), 3 a red flag ended the stage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from brain_brr.errors import BrainBrrError


def _params(args: argparse.Namespace):
    from brain_brr.config import load_params
    from brain_brr.tracking.run import repo_root

    return load_params(args.params or repo_root() / "params.yaml")


def cmd_synth(args: argparse.Namespace) -> int:
    from brain_brr.data.synth import run_synth

    run_synth(
        Path(args.out),
        patients=args.patients,
        minutes=args.minutes,
        seed=args.seed,
        seizure_fraction=args.seizure_fraction,
    )
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from brain_brr.data.ingest import run_ingest

    return run_ingest(_params(args))


def cmd_stats(args: argparse.Namespace) -> int:
    from brain_brr.data.stats import run_stats

    return run_stats(_params(args))


def cmd_train(args: argparse.Namespace) -> int:
    from brain_brr.train.loop import run_train

    return run_train(_params(args), resume=args.resume)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from brain_brr.eval.evaluate import run_evaluate

    return run_evaluate(_params(args))


def cmd_check(args: argparse.Namespace) -> int:
    params = _params(args)
    verdict = params.defences()
    print(f"Configuration {args.params or 'params.yaml'}: valid")
    print("Three-defence verdict:")
    for name, (ok, msg) in verdict.items():
        print(f"  [{'OK ' if ok else 'BAD'}] {name:<18} {msg}")
    if all(ok for ok, _ in verdict.values()):
        print("All three defences hold.")
        return 0
    print("At least one defence is off: training would raise a red flag.")
    return 1


def cmd_predict(args: argparse.Namespace) -> int:
    from brain_brr.eval.predict import run_predict

    return run_predict(Path(args.model), [Path(p) for p in args.inputs], Path(args.out))


def cmd_score(args: argparse.Namespace) -> int:
    from brain_brr.eval.score import run_score

    return run_score(Path(args.ref), Path(args.hyp), Path(args.json) if args.json else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brain-brr", description="Seizure-detection training pipeline (DVC + MLflow).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write a synthetic corpus in the TUSZ v2 layout")
    p.add_argument("out", help="corpus root to write")
    p.add_argument("--patients", type=int, default=24, help="number of patients (default 24)")
    p.add_argument("--minutes", type=float, default=60.0, help="minutes of EEG per patient (default 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seizure-fraction", type=float, default=0.08, help="target fraction of seizure time (default 0.08)")
    p.set_defaults(func=cmd_synth)

    for name, func, help_ in (
        ("ingest", cmd_ingest, "EDF corpus -> windowed Parquet with labels"),
        ("stats", cmd_stats, "class statistics and pos_weight -> metrics/stats.json"),
        ("train", cmd_train, "train the detector with the balanced sampler and focal loss"),
        ("evaluate", cmd_evaluate, "evaluate on the eval split -> metrics/eval.json"),
        ("check", cmd_check, "validate params and print the three-defence verdict"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
        if name == "train":
            p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
        p.set_defaults(func=func)

    p = sub.add_parser("predict", help="run a trained model on EDF files")
    p.add_argument("--model", required=True, help="model directory (models/detector)")
    p.add_argument("inputs", nargs="+", metavar="EDF_OR_DIR")
    p.add_argument("--out", required=True, help="output folder for .csv_bi and .probs.parquet")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("score", help="score hypothesis .csv_bi files against references (OVLP, SzCORE)")
    p.add_argument("--ref", required=True)
    p.add_argument("--hyp", required=True)
    p.add_argument("--json", help="write the scores as JSON here")
    p.set_defaults(func=cmd_score)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrainBrrError as exc:
        for line in exc.lines:
            print(line, file=sys.stderr, flush=True)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
