"""Evaluation figures: ROC, PR and sensitivity-vs-false-alarms as DVC plot CSVs and PNG images; example traces.

The PNGs render anywhere (`dvc plots show` offline, the MLflow UI); the CSVs feed DVC's
interactive plots and `dvc plots diff`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brain_brr.data.channels import CHANNELS
from brain_brr.data.store import read_recording
from brain_brr.eval.inference import RecordingPrediction

MAX_CURVE_POINTS = 500
PLOT_CHANNELS = ("FP1", "T3", "C3", "O1")


def _thin(df: pd.DataFrame, n: int = MAX_CURVE_POINTS) -> pd.DataFrame:
    """At most ``n`` rows, keeping the first and last (DVC renders every row)."""
    if len(df) <= n:
        return df
    idx = np.unique(np.round(np.linspace(0, len(df) - 1, n)).astype(int))
    return df.iloc[idx]


def write_curves(out_dir: Path, probs: list[np.ndarray], labels: list[np.ndarray], sweep: list[dict]) -> None:
    """``roc.csv`` (fpr,tpr), ``pr.csv`` (recall,precision), ``sens_fa.csv`` (fa_per_24h,sensitivity)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    out_dir.mkdir(parents=True, exist_ok=True)
    p, y = np.concatenate(probs), np.concatenate(labels)
    if len(np.unique(y)) == 2:
        fpr, tpr, _ = roc_curve(y, p)
        prec, rec, _ = precision_recall_curve(y, p)
    else:  # single class: the curves are undefined; write the chance diagonal's end points so DVC still renders
        fpr, tpr, prec, rec = np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([0.0, 0.0]), np.array([0.0, 1.0])
    _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr})).to_csv(out_dir / "roc.csv", index=False, float_format="%.6g")
    _thin(pd.DataFrame({"recall": rec, "precision": prec})).to_csv(out_dir / "pr.csv", index=False, float_format="%.6g")
    sf = pd.DataFrame(sweep)[["fa_per_24h", "sensitivity", "tau_on"]].sort_values(["fa_per_24h", "sensitivity"])
    sf.to_csv(out_dir / "sens_fa.csv", index=False, float_format="%.6g")
    _curve_png(
        out_dir / "roc.png",
        fpr,
        tpr,
        "false positive rate (label steps)",
        "true positive rate",
        "ROC (eval split)",
        diagonal=True,
    )
    _curve_png(out_dir / "pr.png", rec, prec, "recall", "precision", "Precision-recall (eval split)")
    _curve_png(
        out_dir / "sens_fa.png",
        sf["fa_per_24h"].to_numpy(),
        np.maximum.accumulate(sf["sensitivity"].to_numpy()),  # best sensitivity within each FA budget
        "false alarms per 24 h (OVLP)",
        "sensitivity (OVLP)",
        "Sensitivity vs false alarms (eval split)",
        step=True,
    )


def _curve_png(
    path: Path,
    x: np.ndarray,
    y: np.ndarray,
    xlabel: str,
    ylabel: str,
    title: str,
    *,
    diagonal: bool = False,
    step: bool = False,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    if step:
        ax.step(x, y, where="post", color="tab:blue")
    else:
        ax.plot(x, y, color="tab:blue")
    if diagonal:
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=0.8)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_examples(
    path: Path,
    preds: list[RecordingPrediction],
    hyps: list[list[tuple[float, float]]],
    thresholds: dict,
    label_rate: int,
    n: int,
) -> None:
    """A few recordings (those with seizures first): EEG channels, probability trace, reference and detections."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = sorted(range(len(preds)), key=lambda i: (not preds[i].ref_events, preds[i].rec_id))[:n]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not order:
        fig, ax = plt.subplots(figsize=(8, 2))
        ax.text(0.5, 0.5, "no eval recordings to show", ha="center", va="center")
        ax.axis("off")
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return
    fig, axes = plt.subplots(
        2 * len(order),
        1,
        figsize=(14, 4.2 * len(order)),
        squeeze=False,
        gridspec_kw={"height_ratios": [2, 1] * len(order)},
    )
    for k, i in enumerate(order):
        pred = preds[i]
        signal, _, meta = read_recording(pred.segment_path)
        fs = int(meta["fs"])
        step = max(1, fs // 32)  # ~32 points per second is plenty at this width
        t = np.arange(0, signal.shape[1], step) / fs
        ax_eeg, ax_p = axes[2 * k, 0], axes[2 * k + 1, 0]
        for j, name in enumerate(PLOT_CHANNELS):
            ax_eeg.plot(t, signal[CHANNELS.index(name), ::step].astype(np.float32) - 8 * j, lw=0.4, color="k")
        ax_eeg.set_yticks([-8 * j for j in range(len(PLOT_CHANNELS))], PLOT_CHANNELS)
        ax_eeg.set_title(f"{pred.rec_id}: reference (red), detections (blue)")
        tp = np.arange(len(pred.probs)) / label_rate
        ax_p.plot(tp, pred.probs, lw=0.8, color="tab:blue")
        ax_p.axhline(
            thresholds["tau_on"], ls="--", color="tab:green", lw=0.8, label=f"tau_on={thresholds['tau_on']:.2f}"
        )
        ax_p.axhline(
            thresholds["tau_off"], ls=":", color="tab:olive", lw=0.8, label=f"tau_off={thresholds['tau_off']:.2f}"
        )
        for ax in (ax_eeg, ax_p):
            for s, e in pred.ref_events:
                ax.axvspan(s, e, color="tab:red", alpha=0.15)
            for s, e in hyps[i]:
                ax.axvspan(s, e, ymin=0.9 if ax is ax_p else 0.0, ymax=1.0, color="tab:blue", alpha=0.3)
            ax.set_xlim(0, pred.duration_s)
        ax_p.set_ylim(0, 1)
        ax_p.set_ylabel("p(seizure)")
        ax_p.set_xlabel("time (s)")
        ax_p.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
