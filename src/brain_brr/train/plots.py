"""The training history as a picture: loss and validation AUROC per epoch (``reports/train/history.png``).

``history.csv`` feeds DVC's interactive plot, which needs a CDN to render; the PNG renders offline
(`dvc plots show`, the MLflow UI, an image viewer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brain_brr.atomic import atomic_path


def plot_history(path: Path, history: list[dict[str, Any]]) -> None:
    """Two panels over epochs: the mean training loss, and the validation AUROC with the best epoch marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [int(h["epoch"]) for h in history]
    auroc = [float(h["val_auroc"]) for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    left.plot(epochs, [float(h["loss"]) for h in history], marker="o", color="tab:red")
    left.set(xlabel="epoch", ylabel="training loss (mean over the epoch)", title="Loss")
    right.plot(epochs, auroc, marker="o", color="tab:blue")
    right.axhline(0.5, ls=":", color="grey", lw=0.8)
    if history:
        best = max(range(len(auroc)), key=lambda i: auroc[i] if auroc[i] == auroc[i] else -1.0)
        right.plot([epochs[best]], [auroc[best]], marker="*", ms=14, color="tab:orange", label="best (kept)")
        right.legend(loc="lower right")
    right.set(xlabel="epoch", ylabel="AUROC (dev, label steps)", title="Validation AUROC", ylim=(0.4, 1.0))
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.set_xticks(epochs)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
