"""Evaluate stage: the trained detector and the line-length baseline on the eval split.

Writes ``metrics/eval.json`` (CONTRACT keys plus ``baseline``, ``thresholds``,
``counts``), ``reports/eval/`` (per-recording table, hypothesis ``.csv_bi``
files, DVC plot CSVs, example figure), logs an ``evaluate`` MLflow run and
copies the metrics, figures and red flags into the training run.
"""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from brain_brr.config import Params, parse_params
from brain_brr.data.annotations import write_csv_bi
from brain_brr.errors import InputError, RedFlagStop
from brain_brr.eval.baseline import line_length_score
from brain_brr.eval.inference import (
    RecordingPrediction,
    infer_split,
    predict_split,
    resolve_device,
)
from brain_brr.eval.operating_point import ovlp_curve, thresholds_on_dev
from brain_brr.eval.plots import plot_examples, write_curves
from brain_brr.eval.postprocess import (
    events_for,
    thresholds_from_config,
    thresholds_from_params,
)
from brain_brr.eval.scoring import (
    RecordingScore,
    sample_metrics,
    score_recording,
    sens_at_fa,
    summarise,
)
from brain_brr.tracking.run import (
    StageRun,
    _flatten_numbers,
    repo_root,
    write_json_atomic,
)


def score_predictions(preds: list[RecordingPrediction], thresholds: dict, label_rate: int) -> dict[str, Any]:
    """Every metric of ``metrics/eval.json`` for one detector's traces; ``hyps`` and ``scores`` per recording."""
    probs, labels = [p.probs for p in preds], [p.labels for p in preds]
    hyps = [events_for(p.probs, label_rate, thresholds) for p in preds]
    scores = [score_recording(p.ref_events, h, p.duration_s) for p, h in zip(preds, hyps)]
    sweep = ovlp_curve(probs, [p.ref_events for p in preds], [p.duration_s for p in preds], label_rate, thresholds)
    summary = summarise(scores)
    return {
        **sample_metrics(probs, labels, thresholds["tau_on"]),
        "sens_at_fa": sens_at_fa(sweep),
        "szcore": summary["szcore"],
        "ovlp": summary["ovlp"],
        "counts": summary["counts"],
        "_hyps": hyps,
        "_scores": scores,
        "_sweep": sweep,
    }


def _public(result: dict) -> dict:
    return {k: v for k, v in result.items() if not k.startswith("_")}


def recordings_table(preds: list[RecordingPrediction], scores: list[RecordingScore], tau_on: float) -> pd.DataFrame:
    rows = []
    for p, s in zip(preds, scores):
        rec = sample_metrics([p.probs], [p.labels], tau_on)
        rows.append(
            {
                "rec_id": p.rec_id,
                "duration_s": p.duration_s,
                "n_ref": s.targets,
                "n_hyp": s.n_hyp,
                "hits": s.hits,
                "misses": s.misses,
                "false_alarms": s.false_alarms,
                "szcore_tp": s.sz_tp,
                "szcore_fp": s.sz_fp,
                "auroc": rec["auroc"],
                "max_prob": float(p.probs.max()) if len(p.probs) else 0.0,
                "pred_pos_rate": rec["pred_pos_rate"],
            }
        )
    return pd.DataFrame(rows)


def _train_params(config: dict, model_dir: Path) -> Params:
    if "train_params" not in config:
        raise InputError(f"{model_dir / 'config.json'}: key 'train_params' missing; retrain with `brain-brr train`")
    return parse_params(config["train_params"], source=f"{model_dir / 'config.json'} train_params")


def log_into_train_run(run_id: str | None, metrics: dict, artifacts: list[Path], red_flags: list[str]) -> None:
    """Eval metrics, figures and red flags into the training run, for side-by-side comparison.

    Metric names are those of ``metrics/eval.json`` (``auroc``, ``ovlp.sensitivity``, ...): the
    training run's own metrics are all ``val_*``/loss/batch names, so nothing collides.
    """
    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if not run_id:
        print("[EVAL] model config has no mlflow_run_id: eval metrics not copied into a training run", flush=True)
        return
    client = MlflowClient()
    try:
        run = client.get_run(run_id)
    except MlflowException:
        print(f"[EVAL] training run {run_id} not in this MLflow store: eval metrics not copied into it", flush=True)
        return
    now = int(pd.Timestamp.now().timestamp() * 1000)
    flat = _flatten_numbers(metrics)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in flat.items()])
    for path in artifacts:
        if path.is_file():
            client.log_artifact(run_id, str(path), artifact_path="eval")
    if red_flags:
        old = [f for f in run.data.tags.get("red_flags", "").split(",") if f]
        client.set_tag(run_id, "red_flags", ",".join(dict.fromkeys(old + red_flags)))
        client.set_terminated(run_id, "FAILED")


def _file_stem(rec_id: str, processed: Path) -> str:
    """``rec_id`` comes from the tables on disk: never let it name a path outside the output folder."""
    if not rec_id or rec_id != Path(rec_id).name or rec_id.startswith("."):
        raise InputError(f"{processed / 'recordings.parquet'}: rec_id {rec_id!r} is not a plain file name; re-run ingest")
    return rec_id


def run_evaluate(params: Params) -> int:
    from brain_brr.train.model import load_detector

    root = repo_root()
    model_dir = root / "models" / "detector"
    model, config = load_detector(model_dir)
    train_params = _train_params(config, model_dir)
    thresholds = thresholds_from_config(config, model_dir)
    fs, label_rate, window_s = int(config["data"]["sampling_rate"]), int(config["label_rate"]), float(config["data"]["window_s"])
    processed = params.resolve(params.data.processed, root)
    reports, metrics_path = root / "reports" / "eval", root / "metrics" / "eval.json"
    device = resolve_device("auto")

    with StageRun("evaluate", params, group=config.get("group"), extra_tags={"brain_brr.train_run_id": str(config.get("mlflow_run_id", ""))}) as run:
        bad = {name: msg for name, (ok, msg) in train_params.defences().items() if not ok}
        if bad:
            run.flag("trained_without_defences", "; ".join(f"{k}: {v}" for k, v in bad.items()), stop=False)

        print(f"[EVAL] inference on the eval split ({device})", flush=True)
        preds = infer_split(model, processed, "eval", fs=fs, label_rate=label_rate, window_s=window_s, device=device)
        if not preds:
            raise InputError(f"{processed / 'recordings.parquet'}: no recording in the eval split; check data.root's edf/eval folder and re-run ingest")
        result = score_predictions(preds, thresholds, label_rate)

        n_ref = sum(len(p.ref_events) for p in preds)
        if n_ref == 0 or not any(p.labels.any() for p in preds):
            run.flag("no_eval_seizures", f"the {len(preds)} eval recording(s) hold no seizure: sensitivity and AUROC are undefined", stop=False)
        elif result["auroc"] is not None and result["auroc"] <= 0.5 + params.guards.auroc_margin:
            run.flag("eval_auroc_collapse", f"eval AUROC {result['auroc']:.3f} <= 0.5 + guards.auroc_margin ({params.guards.auroc_margin})", stop=False)
        if result["pred_pos_rate"] == 0.0:
            top = max(float(p.probs.max()) for p in preds)
            run.flag("all_predictions_below_threshold", f"no eval step reaches tau_on={thresholds['tau_on']:.3f} (max probability {top:.3f})", stop=False)

        print("[EVAL] line-length baseline (threshold chosen on dev)", flush=True)
        ll = partial(line_length_score, fs=fs, label_rate=label_rate)
        base_dev = predict_split(processed, "dev", fs=fs, label_rate=label_rate, score=ll)
        base_eval = predict_split(processed, "eval", fs=fs, label_rate=label_rate, score=ll)
        base_th = (
            thresholds_on_dev([p.probs for p in base_dev], [p.ref_events for p in base_dev], [p.duration_s for p in base_dev], label_rate, params.eval)
            if any(p.ref_events for p in base_dev)
            else thresholds_from_params(params.eval)
        )
        baseline = score_predictions(base_eval, base_th, label_rate)

        out = {
            **{k: result[k] for k in ("auroc", "pr_auc", "pred_pos_rate", "sens_at_fa", "szcore", "ovlp")},
            "red_flags": list(run.red_flags),
            "baseline": {**_public(baseline), "thresholds": base_th},
            "thresholds": {**thresholds, "criterion": config["thresholds"].get("criterion", "")},
            "counts": {**result["counts"], "steps": int(sum(len(p.probs) for p in preds))},
        }

        if reports.exists():
            shutil.rmtree(reports)  # stale hypothesis files of recordings no longer in the split would mislead `score`
        for p, hyp in zip(preds, result["_hyps"]):
            write_csv_bi(reports / "hyp" / f"{_file_stem(p.rec_id, processed)}.csv_bi", hyp, p.duration_s)
        recordings_table(preds, result["_scores"], thresholds["tau_on"]).to_csv(reports / "recordings.csv", index=False, float_format="%.6g")
        write_curves(reports, [p.probs for p in preds], [p.labels for p in preds], result["_sweep"])
        plot_examples(reports / "examples.png", preds, result["_hyps"], thresholds, label_rate, params.eval.plot_recordings)
        write_json_atomic(metrics_path, out)

        logged = {k: v for k, v in out.items() if k not in ("red_flags", "thresholds")}
        run.metrics(logged)
        figures = [reports / n for n in ("examples.png", "roc.csv", "pr.csv", "sens_fa.csv", "recordings.csv")]
        for f in figures:
            run.artifact(f, "eval")
        run.artifact(metrics_path, "eval")
        log_into_train_run(config.get("mlflow_run_id"), logged, figures + [metrics_path], run.red_flags)

        o, z = out["ovlp"], out["szcore"]
        auroc = "n/a" if out["auroc"] is None else f"{out['auroc']:.3f}"
        print(
            f"[EVAL] AUROC {auroc}  OVLP sensitivity {o['sensitivity']:.3f} at {o['fa_per_24h']:.2f} FA/24h  "
            f"SzCORE F1 {z['f1']:.3f}  sens@10FA {out['sens_at_fa']['10']:.3f}  (baseline sens@10FA {baseline['sens_at_fa']['10']:.3f})",
            flush=True,
        )
        print(f"[EVAL] wrote {metrics_path.relative_to(root)} and {reports.relative_to(root)}/", flush=True)
        if run.red_flags and run.strict:
            raise RedFlagStop(f"evaluate ended by red flag(s): {', '.join(run.red_flags)}")
    return 0

