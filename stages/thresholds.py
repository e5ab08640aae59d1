"""Stage thresholds: the operating points, chosen on the dev split, one per ``eval.fa_targets``.

Reads data.processed (dev split), models/detector/{model.pt,config.json} and metrics/train.json;
writes models/detector/thresholds.json (the first target's point is the default of ``predict``,
the SzCORE entry point and the MLflow model). Its own stage, so that changing post-processing
(``eval.min_duration_s``, ...) or a false-alarm target reruns this and evaluate, never training.
Then the detector, thresholds included, is logged to the training's MLflow run and registered
as a model version, unless the training raised a red flag.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from brain_brr.config import DataConfig, Params
from brain_brr.data.checks import check_processed
from brain_brr.device import resolve_device
from brain_brr.errors import InputError
from brain_brr.eval.operating_point import select_operating_point, write_thresholds
from brain_brr.stage import stage_main
from brain_brr.tracking.model import log_detector_to_run
from brain_brr.tracking.run import StageRun, repo_root, training_run_of
from brain_brr.train.model import load_detector

DETECTOR = "models/detector"
TRAIN_METRICS = "metrics/train.json"


def run(params: Params) -> None:
    root = repo_root()
    model, config = load_detector(root / DETECTOR)
    processed = params.resolve(params.data.processed, root)
    check_processed(processed, windows=False)
    # The dev recordings are read as the model was trained to read them (its own data settings).
    as_trained = params.model_copy(update={"data": DataConfig(**config["data"])})
    with StageRun("thresholds", params) as run:
        thresholds = select_operating_point(model, as_trained, processed, resolve_device("auto"))
        write_thresholds(root / DETECTOR, thresholds)
        run.metrics(
            {
                f"dev.{target}.{key}": op[key]
                for target, op in thresholds.get("operating_points", {}).items()
                for key in ("tau_on", "dev_sensitivity", "dev_fa_per_24h")
            }
        )
        run.artifact(root / DETECTOR / "thresholds.json")
        train_flags = training_red_flags(root / TRAIN_METRICS)
        train_run = training_run_of(root / DETECTOR, params.mlflow.experiment)
        log_detector_to_run(train_run, root / DETECTOR, params.mlflow.registered_model, train_flags)
        print(f"[THRESHOLDS] default tau_on={thresholds['tau_on']:.3f} ({thresholds['criterion']})", flush=True)


def training_red_flags(path: Path) -> list[str]:
    """The red flags of the training that wrote the detector: a flagged training is logged, never registered."""
    try:
        return list(json.loads(path.read_text()).get("red_flags", []))
    except (OSError, ValueError, AttributeError):
        raise InputError(
            f"{path}: missing or not a JSON object; run the train stage first (`dvc repro train`)"
        ) from None


def main(argv: list[str] | None = None) -> int:
    return stage_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
