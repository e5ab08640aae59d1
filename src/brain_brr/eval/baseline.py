"""Classical line-length detector: the floor a trained model has to clear.

Per channel, the line length ``sum |x[t+1] - x[t]|`` over each label step,
divided by that channel's median over the recording (so amplitude and
montage differences cancel), averaged over channels and smoothed with a
moving average of :data:`SMOOTH_S` seconds. The ratio ``r`` (1 = typical
activity) becomes a score in ``(0, 1)`` as ``r / (1 + r)``: 0.5 at the median,
0.75 at three times the usual line length. Same post-processing and scoring as
the model; its ``tau_on`` is chosen on dev by the model's own criterion.
"""

from __future__ import annotations

import numpy as np

from brain_brr.data.windows import n_label_steps

SMOOTH_S = 5.0


def line_length_score(signal: np.ndarray, fs: int, label_rate: int) -> np.ndarray:
    """Score per label step, shape ``(ceil(n * label_rate / fs),)``, for ``signal`` ``(19, n)``."""
    factor = fs // label_rate
    n_steps = n_label_steps(signal.shape[1], fs, label_rate)
    x = np.zeros((signal.shape[0], n_steps * factor + 1), dtype=np.float32)
    x[:, : signal.shape[1]] = signal
    x[:, signal.shape[1] :] = signal[:, -1:] if signal.shape[1] else 0  # padding adds no line length
    ll = np.abs(np.diff(x, axis=1)).reshape(signal.shape[0], n_steps, factor).sum(axis=2)  # (19, n_steps)
    med = np.median(ll, axis=1, keepdims=True)
    live = med[:, 0] > 1e-8  # flat (missing, zero-filled) channels carry no information
    if not live.any():
        return np.full(n_steps, 0.5, dtype=np.float32)
    ratio = (ll[live] / med[live]).mean(axis=0)  # (n_steps,)
    k = max(1, int(round(SMOOTH_S * label_rate)))
    ratio = np.convolve(ratio, np.ones(k) / k, mode="same")
    return (ratio / (1.0 + ratio)).astype(np.float32)
