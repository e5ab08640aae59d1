"""Label rasterisation and the window table of one recording.

A label step ``[t, t + 1/label_rate)`` is seizure when at least half of it is
covered by a seizure interval. Windows are ``window_s`` long, start every
``stride_s`` (on segment boundaries of the store) and lie entirely inside the
valid duration; ``seizure_frac`` is the fraction of a window's label steps that
are seizure.
"""

from __future__ import annotations

import numpy as np

from brain_brr.data.annotations import merge_intervals


def n_label_steps(n_samples: int, fs: int, label_rate: int) -> int:
    """Label steps covering ``n_samples`` (the last one may be partial), as ``store`` trims them."""
    return -(-n_samples * label_rate // fs)


def labels_from_intervals(intervals: list[tuple[float, float]], n_steps: int, label_rate: int) -> np.ndarray:
    """0/1 uint8 mask of ``n_steps`` steps; intervals may overlap and extend past either end."""
    covered = np.zeros(n_steps, dtype=np.float64)
    for start, stop in merge_intervals(list(intervals)):
        a, b = start * label_rate, stop * label_rate  # in units of steps
        lo, hi = max(int(np.floor(a)), 0), min(int(np.ceil(b)), n_steps)
        if hi <= lo:
            continue
        steps = np.arange(lo, hi, dtype=np.float64)
        covered[lo:hi] += np.clip(np.minimum(steps + 1, b) - np.maximum(steps, a), 0.0, 1.0)
    return (covered >= 0.5 - 1e-9).astype(np.uint8)


def window_starts(duration_s: float, window_s: int, stride_s: int) -> np.ndarray:
    """First segment of every window that fits entirely in ``duration_s`` (int32)."""
    if duration_s + 1e-9 < window_s:
        return np.zeros(0, dtype=np.int32)
    return np.arange(int((duration_s - window_s + 1e-9) // stride_s) + 1, dtype=np.int32)


def window_table(
    labels: np.ndarray, duration_s: float, *, window_s: int, stride_s: int, label_rate: int
) -> dict[str, np.ndarray]:
    """Columns ``seg0``, ``start_s``, ``seizure_frac``, ``is_pos`` of one recording's windows."""
    seg0 = window_starts(duration_s, window_s, stride_s)
    steps = window_s * label_rate
    lab = labels.astype(np.float64)
    csum = np.concatenate([[0.0], np.cumsum(lab)])
    first = seg0.astype(np.int64) * stride_s * label_rate
    last = np.minimum(first + steps, len(lab))
    frac = ((csum[last] - csum[first]) / steps).astype(np.float32)
    return {"seg0": seg0, "start_s": seg0.astype(np.float64) * stride_s, "seizure_frac": frac, "is_pos": frac > 0}
