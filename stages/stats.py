"""Stage stats: class statistics and pos_weight per split -> metrics/stats.json.

Reads data.processed. Red flags, on the tables as they are on disk: no_train_seizures,
patient_leakage.
"""

from __future__ import annotations

import sys

from brain_brr import guards
from brain_brr.atomic import write_json_atomic
from brain_brr.config import Params
from brain_brr.data.checks import check_processed
from brain_brr.data.splits import SPLITS, leaking_patients
from brain_brr.data.stats import table_stats
from brain_brr.stage import stage_main
from brain_brr.tracking.run import StageRun, repo_root

STATS = "metrics/stats.json"


def run(params: Params) -> None:
    root = repo_root()
    processed = params.resolve(params.data.processed, root)
    check_processed(processed, segments=False)
    stats, recordings = table_stats(processed)
    with StageRun("stats", params) as run:
        train = stats["train"]
        leaks = leaking_patients([(r["patient"], r["split"]) for r in recordings])
        flags = guards.corpus_flags(
            leaks, train["n_recordings"], train["seizure_ratio"] * train["hours"] * 3600, train["hours"]
        )
        write_json_atomic(root / STATS, {**stats, "red_flags": [name for name, _ in flags]})
        run.metrics({s: stats[s] for s in SPLITS})
        run.check("train_has_seizures", train["seizure_ratio"] > 0)
        run.check("patient_disjoint", not leaks)
        run.artifact(root / STATS)
        for split in SPLITS:
            s = stats[split]
            pw = "n/a" if s["pos_weight"] is None else f"{s['pos_weight']:.2f}"
            print(
                f"[STATS] {split}: {s['hours']:.2f} h, {s['n_recordings']} "
                f"recordings, {s['n_pos_windows']}/{s['n_windows']} "
                f"positive windows, seizure ratio {s['seizure_ratio']:.2%}, pos_weight {pw}",
                flush=True,
            )
        for name, reason in flags:
            run.flag(name, reason)


def main(argv: list[str] | None = None) -> int:
    return stage_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
