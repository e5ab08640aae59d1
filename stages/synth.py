"""Stage synth: the embedded synthetic corpus, real EDF and annotation files in the TUSZ v2 layout.

Reads params.synth; writes data/synth (the default data.root) and logs the corpus summary.
"""

from __future__ import annotations

import sys

from brain_brr.config import Params
from brain_brr.stage import stage_main
from brain_brr.synth import run_synth
from brain_brr.tracking.run import StageRun, repo_root

CORPUS = "data/synth"


def run(params: Params) -> None:
    with StageRun("synth", params) as run:
        info = run_synth(repo_root() / CORPUS, params.synth)
        run.metrics({"splits": info["splits"], "total": info["total"]})
        run.artifact(repo_root() / CORPUS / "SYNTH_INFO.json")


def main(argv: list[str] | None = None) -> int:
    return stage_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
