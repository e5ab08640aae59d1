"""Stage evaluate: the trained detector and the line-length baseline on the eval split.

Reads data.processed and models/detector; writes metrics/eval.json and reports/eval/
(per-recording table, hypothesis .csv_bi files, DVC plot CSVs, example figure; sensitivity
per seizure type, read from the annotations under data.root, and the onset latency of
detected seizures with its histogram). The
metrics, figures and red flags are also copied into the training run, so MLflow shows a
model's params beside its eval scores, and the registered model version is tagged with
them. Red flags: trained_without_defences,
no_eval_seizures, eval_auroc_collapse, all_predictions_below_threshold.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd

from brain_brr import guards
from brain_brr.atomic import write_json_atomic
from brain_brr.config import Params
from brain_brr.data.annotations import write_csv_bi
from brain_brr.data.checks import check_processed
from brain_brr.device import resolve_device
from brain_brr.errors import InputError
from brain_brr.eval.breakdown import latency_table, plot_delays, recording_types, type_table
from brain_brr.eval.evaluate import (
    file_stem,
    line_length_baseline,
    recordings_table,
    score_operating_points,
    score_predictions,
    subject_of,
    subjects_table,
    train_params_of,
)
from brain_brr.eval.inference import infer_split
from brain_brr.eval.plots import plot_examples, write_curves
from brain_brr.eval.postprocess import thresholds_from_config
from brain_brr.eval.scoring import format_table
from brain_brr.stage import stage_main
from brain_brr.tracking.model import tag_versions_of_run
from brain_brr.tracking.run import StageRun, copy_into_run, repo_root, training_run_of
from brain_brr.train.model import load_detector

DETECTOR = "models/detector"
METRICS = "metrics/eval.json"
REPORTS = "reports/eval"
FIGURES = (
    *("examples.png", "roc.png", "pr.png", "sens_fa.png", "roc.csv", "pr.csv", "sens_fa.csv", "recordings.csv"),
    *("subjects.csv", "seizure_types.csv", "latency.csv", "latency.png"),
)


def run(params: Params) -> None:
    root = repo_root()
    model, config = load_detector(root / DETECTOR)
    train_params = train_params_of(config, root / DETECTOR)
    thresholds = thresholds_from_config(config, root / DETECTOR)
    fs, label_rate, window_s = (
        int(config["data"]["sampling_rate"]),
        int(config["label_rate"]),
        float(config["data"]["window_s"]),
    )
    processed = params.resolve(params.data.processed, root)
    check_processed(processed, windows=False)
    device = resolve_device("auto")

    with StageRun("evaluate", params) as run:
        train_run = training_run_of(root / DETECTOR, params.mlflow.experiment)
        run.set_tags({"brain_brr.train_run_id": train_run or ""})
        print(f"[EVAL] inference on the eval split ({device})", flush=True)
        preds = infer_split(model, processed, "eval", fs=fs, label_rate=label_rate, window_s=window_s, device=device)
        if not preds:
            raise InputError(
                f"{processed / 'recordings.parquet'}: no recording in the eval "
                "split; check data.root's edf/eval folder and rerun ingest"
            )
        result = score_predictions(preds, thresholds, label_rate)
        flags = guards.evaluation_flags(
            train_params,
            params.guards,
            n_recordings=len(preds),
            has_seizures=any(p.ref_events for p in preds) and any(p.labels.any() for p in preds),
            auroc=result["auroc"],
            pred_pos_rate=result["pred_pos_rate"],
            tau_on=thresholds["tau_on"],
            max_probability=max(float(p.probs.max()) for p in preds),
        )
        for name, reason in flags:
            run.flag(name, reason)

        print("[EVAL] line-length baseline (threshold chosen on dev)", flush=True)
        baseline = line_length_baseline(processed, fs=fs, label_rate=label_rate, eval_cfg=params.eval)
        out = {
            **{k: result[k] for k in ("auroc", "pr_auc", "pred_pos_rate", "sens_at_fa", "szcore", "ovlp")},
            "taes": result["taes"],
            "scores": result["scores"],  # every scorer, pooled and averaged per subject
            "operating_points": score_operating_points(preds, config["thresholds"], label_rate),
            "red_flags": list(run.red_flags),
            "baseline": baseline,
            "thresholds": {**thresholds, "criterion": config["thresholds"].get("criterion", "")},
            "counts": {**result["counts"], "steps": int(sum(len(p.probs) for p in preds))},
            **breakdown(preds, result["_hyps"], processed, params.resolve(params.data.root, root)),
        }
        write_reports(root / REPORTS, preds, result, thresholds, label_rate, params, processed)
        write_breakdown(root / REPORTS, out)
        write_json_atomic(root / METRICS, out)

        logged = {k: v for k, v in out.items() if k not in ("red_flags", "thresholds")}
        run.metrics(logged)
        figures = [root / REPORTS / n for n in FIGURES]
        for f in [*figures, root / METRICS]:
            run.artifact(f, "eval")
        copy_into_run(train_run, logged, [*figures, root / METRICS], run.red_flags)  # params beside eval scores
        copy_into_run(run.parent_id, logged, [], [])  # the pipeline's parent run shows the headline scores
        tag_versions_of_run(params.mlflow.registered_model, train_run, eval_tags(out))
        print_summary(out, baseline)
        print(f"[EVAL] wrote {METRICS} and {REPORTS}/", flush=True)


def write_reports(reports: Path, preds, result, thresholds, label_rate, params, processed) -> None:
    """Hypothesis files, the per-recording table, DVC plot CSVs and the example figure."""
    if reports.exists():
        shutil.rmtree(reports)  # stale hypothesis files of recordings no longer in the split would mislead `score`
    for p, hyp in zip(preds, result["_hyps"]):
        write_csv_bi(reports / "hyp" / f"{file_stem(p.rec_id, processed)}.csv_bi", hyp, p.duration_s)
    table = recordings_table(preds, result["_scores"], thresholds["tau_on"])
    table.to_csv(reports / "recordings.csv", index=False, float_format="%.6g")
    subjects_table(preds, result["_scores"]).to_csv(reports / "subjects.csv", index=False, float_format="%.6g")
    write_curves(reports, [p.probs for p in preds], [p.labels for p in preds], result["_sweep"])
    plot_examples(reports / "examples.png", preds, result["_hyps"], thresholds, label_rate, params.eval.plot_recordings)


def breakdown(preds, hyps, processed: Path, data_root: Path) -> dict:
    """``seizure_types`` and ``latency`` of ``metrics/eval.json`` (the delays themselves go to latency.csv)."""
    refs = [p.ref_events for p in preds]
    types = recording_types([p.rec_id for p in preds], refs, processed, data_root)
    durations = [p.duration_s for p in preds]
    return {
        "seizure_types": type_table(refs, types, hyps, durations),
        "latency": latency_table(refs, hyps, [subject_of(p) for p in preds]),
    }


def write_breakdown(reports: Path, out: dict) -> None:
    """``seizure_types.csv``, ``latency.csv`` and ``latency.png``; the delays leave ``out`` for the CSV."""
    rows = [{"type": t, **v} for t, v in out["seizure_types"].items()]
    cols = ["type", "n_ref", "ovlp_sensitivity", "szcore_sensitivity"]
    pd.DataFrame(rows, columns=cols).to_csv(reports / "seizure_types.csv", index=False, float_format="%.6g")
    delays = out["latency"].pop("delays_s")
    pd.DataFrame({"delay_s": delays}).to_csv(reports / "latency.csv", index=False, float_format="%.6g")
    plot_delays(reports / "latency.png", delays)


def eval_tags(out: dict) -> dict[str, str]:
    """What a registered model version says about itself: its eval scores and red flags."""
    auroc = "n/a" if out["auroc"] is None else f"{out['auroc']:.4f}"
    return {
        "eval.auroc": auroc,
        "eval.sens_at_10fa": f"{out['sens_at_fa']['10']:.4f}",
        "eval.szcore_f1": "n/a" if out["szcore"]["f1"] is None else f"{out['szcore']['f1']:.4f}",  # subject-averaged
        "eval.ovlp_sensitivity": f"{out['ovlp']['sensitivity']:.4f}",
        "eval.ovlp_fa_per_24h": f"{out['ovlp']['fa_per_24h']:.4f}",
        "red_flags": ",".join(out["red_flags"]),
    }


def print_summary(out: dict, baseline: dict) -> None:
    o, z = out["ovlp"], out["szcore"]
    auroc = "n/a" if out["auroc"] is None else f"{out['auroc']:.3f}"
    f1 = "n/a" if z["f1"] is None else f"{z['f1']:.3f}"
    print(
        f"[EVAL] AUROC {auroc}  OVLP sensitivity {o['sensitivity']:.3f} at {o['fa_per_24h']:.2f} FA/24h  "
        f"SzCORE F1 {f1}  sens@10FA {out['sens_at_fa']['10']:.3f} "
        f" (baseline sens@10FA {baseline['sens_at_fa']['10']:.3f})",
        flush=True,
    )
    print(f"[EVAL] scores at the default operating point:\n{format_table(out['scores'])}", flush=True)


def main(argv: list[str] | None = None) -> int:
    return stage_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
