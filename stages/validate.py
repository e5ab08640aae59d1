"""Stage validate: params.yaml checked against the schema before any other stage runs.

Depends on the whole params.yaml, so any change (an added key such as
`dvc exp run -S +focal_alfa=0.5` included) is validated first: an unknown key fails with
"did you mean ...?" and a bad value names the key and what is allowed (exit 2). Prints the
three-defence verdict (training raises the red flags) and logs it as check.* metrics.
Writes reports/params_check.json, whose content does not depend on the params, so that
a valid change re-runs only the stages that read the changed keys.
"""

from __future__ import annotations

import sys

from brain_brr.atomic import write_json_atomic
from brain_brr.config import Params
from brain_brr.guards import defences
from brain_brr.stage import stage_main
from brain_brr.tracking.run import StageRun, repo_root

CHECK = "reports/params_check.json"


def run(params: Params) -> None:
    with StageRun("validate", params) as run:
        print("[VALIDATE] params.yaml: valid; three-defence verdict:", flush=True)
        for d in defences(params):
            print(f"[VALIDATE]   [{'OK ' if d.holds else 'BAD'}] {d.name:<18} {d.detail}", flush=True)
            run.check(d.name, d.holds)
        write_json_atomic(repo_root() / CHECK, {"params.yaml": "valid"})


def main(argv: list[str] | None = None) -> int:
    return stage_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
