"""SzCORE entry point: ``python -m brain_brr.szcore INPUT_EDF OUTPUT_TSV``.

What the SzCORE benchmark's container runs for each recording (``/data/$INPUT`` ->
``/output/$OUTPUT``), offline. The model directory is ``$BRAIN_BRR_MODEL`` (default:
``models/detector`` under the current directory).

Every EDF whose header can be read gets a valid annotation TSV, however short: its
``recordingDuration`` is the EDF's own duration (SzCORE scores a file whose duration
differs from the reference's as an empty hypothesis, silently). When the signal cannot
be used (shorter than the filters need, too many channels missing, unreadable samples)
the TSV holds one ``bckg`` row and stderr says why; exit 0. An EDF whose header cannot
be read, or a missing model, is an error: one line on stderr, exit 2, no file written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

MODEL_ENV = "BRAIN_BRR_MODEL"
DEFAULT_MODEL = "models/detector"


def model_dir() -> Path:
    return Path(os.environ.get(MODEL_ENV) or DEFAULT_MODEL)


def annotate(edf: Path, out: Path, models: Path) -> int:
    """Write the SzCORE TSV of ``edf`` to ``out``; the number of seizure events."""
    from brain_brr.data.edf import edf_info
    from brain_brr.data.events_tsv import write_events_tsv
    from brain_brr.device import resolve_device
    from brain_brr.errors import InputError
    from brain_brr.eval.predict import load_model_dir, predict_edf

    if not edf.is_file():
        raise InputError(f"{edf}: no such EDF file")
    info = edf_info(edf)  # an unreadable header raises: exit 2, nothing written
    if not (models / "config.json").is_file():
        raise InputError(f"{models}: no model directory (config.json missing); set ${MODEL_ENV} to a trained detector")
    det = load_model_dir(models)
    events, confidences, warnings = [], [], []
    try:
        pred = predict_edf(det.model, edf, det.data, det.label_rate, det.thresholds, resolve_device("auto"))
        events, confidences, warnings = pred.events, pred.confidences, pred.warnings
    except InputError as exc:  # the header is fine but the signal is not usable: background, said aloud
        warnings = [f"{' '.join(exc.lines)}; written as background"]
    except Exception as exc:  # any other failure on a readable file: still a valid annotation, and why not more
        first = str(exc).splitlines()[0] if str(exc) else ""
        warnings = [f"{type(exc).__name__}: {first}; written as background"]
    for line in warnings:
        print(f"{edf}: {line}", file=sys.stderr, flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_events_tsv(out, events, info.duration_s, info.start, confidences=confidences)
    return len(events)


def main(argv: list[str] | None = None) -> int:
    from brain_brr.stage import exit_code

    parser = argparse.ArgumentParser(
        prog="python -m brain_brr.szcore",
        description=f"Annotate one EDF in the SzCORE TSV format (model: ${MODEL_ENV}, default {DEFAULT_MODEL}).",
    )
    parser.add_argument("input", type=Path, help="EDF file to annotate")
    parser.add_argument("output", type=Path, help="TSV file to write")
    args = parser.parse_args(argv)

    def run() -> int:
        n = annotate(args.input, args.output, model_dir())
        print(f"{args.input}: {n} seizure event(s) -> {args.output}", flush=True)
        return 0

    return exit_code(run)


if __name__ == "__main__":
    sys.exit(main())
