"""Random building blocks shared by the background, the seizures and the confounders.

Each takes the caller's random stream, so the order of calls decides every byte of a recording.
"""

from __future__ import annotations

import numpy as np


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Scale-free draw: as many values in 1-2 as in 2-4."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def event_times(rng: np.random.Generator, per_min: np.ndarray) -> np.ndarray:
    """Poisson event times (s) for a per-second rate given in events per minute."""
    counts = rng.poisson(per_min / 60.0)
    return np.repeat(np.arange(per_min.size), counts) + rng.random(int(counts.sum()))


def narrowband(rng: np.random.Generator, n: int, fs: int, centre: float, width: float) -> np.ndarray:
    """Unit-RMS noise concentrated around ``centre`` Hz: a rhythm that waxes and wanes by itself."""
    import scipy.fft

    m = scipy.fft.next_fast_len(n, real=True)
    f = np.fft.rfftfreq(m, 1.0 / fs)
    k = int(np.searchsorted(f, centre + 4 * width))
    w = np.exp(-0.5 * ((f[:k] - centre) / width) ** 2)
    z = rng.standard_normal(2 * k).view(np.complex128) * w
    x = scipy.fft.irfft(z, n=m)[:n]
    return (x / (x.std() + 1e-12)).astype(np.float32)


def broadband(rng: np.random.Generator, rows: int, length: int) -> np.ndarray:
    """Muscle-like noise: differentiated white noise (power rises with frequency), unit RMS."""
    return np.diff(rng.standard_normal((rows, length + 1), dtype=np.float32), axis=1) / np.float32(np.sqrt(2))


def per_second_to_samples(values: np.ndarray, fs: int, n: int) -> np.ndarray:
    """A per-second envelope interpolated to ``n`` samples at ``fs`` (float32)."""
    t = (np.arange(values.size) + 0.5) * fs
    return np.interp(np.arange(n), t, values).astype(np.float32)


def tukey(length: int, frac: float = 0.3) -> np.ndarray:
    """Tapered window (float32): flat middle, cosine edges over ``frac`` of it."""
    import scipy.signal

    return scipy.signal.windows.tukey(length, frac).astype(np.float32)


def pop(t: np.ndarray, amp: float, tau: float) -> np.ndarray:
    """An electrode pop over ``t`` seconds: a 5 ms jump, then exponential decay with ``tau`` (float32)."""
    return (amp * (1 - np.exp(-t / 0.005)) * np.exp(-t / tau)).astype(np.float32)
