"""Stage ingest: EDF corpus -> windowed Parquet with labels, and the ingest report.

Reads data.root (a corpus in the TUSZ layout); writes data.processed (segment files,
recordings and windows tables) and reports/ingest_report.json. Red flags:
patient_leakage, all_zero_labels, no_train_seizures, too_many_skipped.
"""

from __future__ import annotations

import sys

from brain_brr import guards
from brain_brr.atomic import write_json_atomic
from brain_brr.config import Params
from brain_brr.data.ingest import IngestJob
from brain_brr.data.splits import SPLITS
from brain_brr.stage import stage_main
from brain_brr.tracking.run import StageRun, repo_root

REPORT = "reports/ingest_report.json"


def run(params: Params) -> None:
    root = repo_root()
    data_root = params.resolve(params.data.root, root).resolve()
    (root / REPORT).unlink(missing_ok=True)  # no report outlives an unfinished run
    # The workers start (and import) while MLflow opens the run; they get work once it is open.
    with (
        IngestJob(params.data, data_root, params.resolve(params.data.processed, root)) as job,
        StageRun("ingest", params) as run,
    ):
        outcome = job.result()
        report = outcome.report()
        write_json_atomic(root / REPORT, report)
        run.artifact(root / REPORT)

        n_skipped, n_total = len(report["skipped"]), len(outcome.results) + len(outcome.stray)
        n_reused = sum(r.status == "reused" for r in outcome.results)
        n_train = sum(r.row["split"] == "train" for r in outcome.ok)
        flags = guards.corpus_flags(outcome.leaks, n_train, outcome.seizure_s("train"), outcome.hours("train"))
        flags += guards.ingest_flags(outcome.all_zero, n_skipped, n_total, params.guards, REPORT)
        run.metrics(
            {
                "ingested": report["ingested"],
                "skipped": n_skipped,
                "skipped_fraction": n_skipped / n_total,
                "reused": n_reused,
                "hours": {s: outcome.hours(s) for s in SPLITS},
                "windows": outcome.n_windows,
                "warnings": len(report["warnings"]),
            }
        )
        raised = {name for name, _ in flags}
        run.check("skipped_fraction_ok", "too_many_skipped" not in raised)
        run.check("train_has_seizures", "no_train_seizures" not in raised)
        run.check("patient_disjoint", "patient_leakage" not in raised)
        run.check("labels_nonzero", "all_zero_labels" not in raised)
        print(
            f"[INGEST] {report['ingested']} ingested ({n_reused} reused), {n_skipped} skipped, "
            f"{len(report['warnings'])} warnings -> {root / REPORT}",
            flush=True,
        )
        for name, reason in flags:
            run.flag(name, reason)


def main(argv: list[str] | None = None) -> int:
    return stage_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
