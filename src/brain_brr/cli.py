"""``brain-brr``: the user tools (synth, check, predict, score).

The pipeline stages are ``stages/*.py``, run by ``dvc repro``; exit codes are those of
:mod:`brain_brr.stage`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from brain_brr.stage import exit_code, load_stage_params


def cmd_synth(args: argparse.Namespace) -> int:
    from brain_brr.config import parse_params
    from brain_brr.synth import run_synth

    given = {
        k: getattr(args, k)
        for k in ("patients", "minutes", "seed", "seizure_fraction", "difficulty", "format")
        if getattr(args, k) is not None
    }
    run_synth(Path(args.out), parse_params({"synth": given}, source="brain-brr synth").synth)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from brain_brr.guards import defences

    verdict = defences(load_stage_params(args.params))
    print(f"Configuration {args.params or 'params.yaml'}: valid")
    print("Three-defence verdict:")
    for d in verdict:
        print(f"  [{'OK ' if d.holds else 'BAD'}] {d.name:<18} {d.detail}")
    if all(d.holds for d in verdict):
        print("All three defences hold.")
        return 0
    print("At least one defence is off: training would raise a red flag.")
    return 1


def cmd_predict(args: argparse.Namespace) -> int:
    from brain_brr.eval.predict import run_predict

    return run_predict(Path(args.model), [Path(p) for p in args.inputs], Path(args.out), args.layout)


def cmd_score(args: argparse.Namespace) -> int:
    from brain_brr.eval.score_files import run_score

    return run_score(Path(args.ref), Path(args.hyp), Path(args.json) if args.json else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brain-brr",
        description="Seizure-detection tools. The pipeline stages are stages/*.py, run by `dvc repro`.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write a synthetic corpus (TUSZ v2 layout, or BIDS with --format bids)")
    p.add_argument("out", help="corpus root to write")
    p.add_argument("--patients", type=int, help="number of patients (default: synth.patients of the schema, 24)")
    p.add_argument("--minutes", type=float, help="minutes of EEG per patient (default 60)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--seizure-fraction", type=float, help="target fraction of seizure time (default 0.08)")
    p.add_argument(
        "--difficulty",
        choices=("standard", "hard"),
        help="standard (default) or hard: fainter, shorter seizures of more kinds, and confounders",
    )
    p.add_argument(
        "--format", choices=("tusz", "bids"), help="tusz (default): edf/<split>/...; bids: sub-<id>/... as SzCORE"
    )
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("check", help="validate params and print the three-defence verdict")
    p.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("predict", help="run a trained model on EDF files")
    p.add_argument("--model", required=True, help="model directory (models/detector)")
    p.add_argument("inputs", nargs="+", metavar="EDF_OR_DIR")
    p.add_argument("--out", required=True, help="output folder for .csv_bi and .probs.parquet")
    p.add_argument(
        "--layout",
        choices=("auto", "flat", "bids"),
        default="auto",
        help="flat: every file in --out; bids: <stem>_events.tsv at each recording's path in the BIDS dataset "
        "(the tree szcore_evaluation reads); auto (default): bids when every input is a BIDS dataset",
    )
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("score", help="score hypothesis .csv_bi files against references (OVLP, SzCORE)")
    p.add_argument("--ref", required=True)
    p.add_argument("--hyp", required=True)
    p.add_argument("--json", help="write the scores as JSON here")
    p.set_defaults(func=cmd_score)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return exit_code(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
