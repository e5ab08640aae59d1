"""Stage external: the trained detector scored on one other corpus of eval.external (a test set).

``python stages/external.py --corpus NAME``; dvc.yaml runs one such stage per entry
``{name, root}`` of eval.external (``foreach``), the root a dependency, so adding a corpus
reruns only its scoring. Writes metrics/external/<name>.json (every operating point, every scorer, pooled and
per subject) and logs it as ``external.<name>.*`` in its own run and in the pipeline's parent run.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial

from brain_brr.atomic import write_json_atomic
from brain_brr.config import Params
from brain_brr.device import resolve_device
from brain_brr.errors import InputError
from brain_brr.eval.external import score_corpus
from brain_brr.eval.predict import load_model_dir
from brain_brr.stage import stage_main
from brain_brr.tracking.run import StageRun, copy_into_run, repo_root
from brain_brr.train.model import THRESHOLDS_FILE

DETECTOR = "models/detector"
METRICS = "metrics/external"


def run(params: Params, corpus: str) -> None:
    root = repo_root()
    entry = next((c for c in params.eval.external if c.name == corpus), None)
    if entry is None:
        names = ", ".join(c.name for c in params.eval.external) or "none"
        raise InputError(f"--corpus {corpus}: not a name of eval.external in params.yaml (names: {names})")
    path = params.resolve(entry.root, root)
    if not path.is_dir():
        raise InputError(f"eval.external {corpus}: root {path} is not a folder; name a TUSZ tree or a BIDS dataset")
    det = load_model_dir(root / DETECTOR)
    thresholds = json.loads((root / DETECTOR / THRESHOLDS_FILE).read_text())  # every operating point chosen on dev
    name = corpus
    with StageRun("external", params, extra_tags={"brain_brr.external": name}) as run:
        print(f"[EXTERNAL] {name}: scoring every recording of {path}", flush=True)
        out = score_corpus(det, path, thresholds, resolve_device("auto"))
        write_json_atomic(root / METRICS / f"{name}.json", out)
        logged = {"external": {name: out}}
        run.metrics(logged)
        run.artifact(root / METRICS / f"{name}.json", "external")
        copy_into_run(run.parent_id, logged, [], [])
        for key, table in out["operating_points"].items():
            o, z = table["ovlp"]["pooled"], table["szcore_event"]["subject_avg"]
            print(
                f"[EXTERNAL] {name} ({out['recordings']} recordings, {out['hours']:.2f} h) at {key}: OVLP sensitivity "
                f"{o['sensitivity']:.3f} at {o['fa_per_24h']:.2f} FA/24h; SzCORE event F1 {z['f1']}",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--corpus", required=True, help="name of one entry of eval.external")
    known, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return stage_main(partial(run, corpus=known.corpus), __doc__, rest)


if __name__ == "__main__":
    sys.exit(main())
