"""Confounders of the hard corpus: what fools detectors on real EEG, always outside the seizure labels.

A recording rendered without its seizures differs from the full one only inside the seizures
and their post-ictal stretches:

* vigilance: awake, drowsy and sleep stretches; the background amplitude follows the state
  and sleep adds slow delta, spindles and vertex waves / K-complexes;
* chewing (1-2 Hz bursts of bilateral temporal muscle) and long muscle runs;
* long rhythmic drowsy runs: 10-60 s of theta or frontal delta at a steady frequency;
* eye flutter (blink trains) and lateral eye movements;
* trains of electrode pops on one electrode, and slow sweat drifts on a few neighbours;
* post-ictal slowing: suppression, then polymorphic delta fading over 20-120 s in the
  seizure's field.
"""

from __future__ import annotations

import numpy as np

from brain_brr.synth.plan import Recording
from brain_brr.synth.scalp import (
    CENTRAL_W,
    ELECTRODES,
    FRONTAL_W,
    LATERAL_W,
    POS,
    TEMPORAL,
    THETA_GAIN,
    muscle_channels,
)
from brain_brr.synth.seizures import FOCAL_KINDS
from brain_brr.synth.signals import (
    broadband,
    event_times,
    log_uniform,
    narrowband,
    per_second_to_samples,
    pop,
    tukey,
)


def add_confounders(
    rng: np.random.Generator, x: np.ndarray, eog: np.ndarray, rec: Recording, drowsy: np.ndarray, bg: float
) -> list:
    """Every hard-mode confounder, added to ``x`` (and blinks to ``eog``) in place; returns their intervals."""
    sleep = _sleep_seconds(rng, drowsy)
    awake = ~drowsy
    rate = rec.traits.artifact_rate
    _vigilance(rng, x, drowsy, sleep, rec.fs, bg)
    arts = _sleep_graphoelements(rng, x, drowsy, sleep, rec.fs, bg)
    arts += _rhythmic_runs(rng, x, np.where(sleep, 0.3, np.where(drowsy, 0.6, 0.04)), rec.fs, bg)
    arts += _chewing(rng, x, np.where(awake, 0.35, 0.03) * rate, rec.fs)
    arts += _muscle_runs(rng, x, np.where(awake, 0.3, 0.08) * rate, rec.fs)
    arts += _eyes(rng, x, eog, awake, rec.fs)
    arts += _pop_trains(rng, x, np.full(drowsy.size, 0.25 * rate), rec.fs)
    arts += _sweat(rng, x, np.full(drowsy.size, 0.1), rec.fs)
    return arts


def _sleep_seconds(rng: np.random.Generator, drowsy: np.ndarray) -> np.ndarray:
    """Light sleep at the end of some drowsy stretches longer than a minute."""
    sleep = np.zeros_like(drowsy)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], drowsy.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2]):
        if stop - start >= 60 and rng.random() < 0.6:
            sleep[start + int(rng.uniform(0.3, 0.6) * (stop - start)) : stop] = True
    return sleep


def _smooth(values: np.ndarray, k: int) -> np.ndarray:
    pad = np.pad(values.astype(np.float64), k // 2, mode="edge")
    return np.convolve(pad, np.ones(k) / k, mode="valid")[: values.size]


def _vigilance(rng, x: np.ndarray, drowsy: np.ndarray, sleep: np.ndarray, fs: int, bg: float) -> None:
    """Background amplitude follows the state; sleep adds slow frontal-central delta."""
    n = x.shape[1]
    level = _smooth(1.0 + drowsy * rng.uniform(0.0, 0.3) + sleep * rng.uniform(0.3, 0.8), 15)
    x *= per_second_to_samples(level, fs, n)
    if sleep.any():
        delta = narrowband(rng, n, fs, rng.uniform(0.8, 2.0), 0.5)
        env = per_second_to_samples(_smooth(sleep, 20), fs, n)
        field = (0.4 + 0.6 * FRONTAL_W) * bg * rng.uniform(0.8, 2.0)
        x += np.outer(field.astype(np.float32), delta * env)


def _sleep_graphoelements(rng, x: np.ndarray, drowsy: np.ndarray, sleep: np.ndarray, fs: int, bg: float) -> list:
    """Spindles (11-15 Hz, 0.5-2 s) and vertex waves / K-complexes, central, in drowsiness and sleep."""
    n, arts = x.shape[1], []
    for t in event_times(rng, np.where(sleep, 5.0, np.where(drowsy, 1.0, 0.0))):
        a = int(t * fs)
        b = min(n, a + int(rng.uniform(0.5, 2.0) * fs))
        if b - a < 8:
            continue
        wave = np.sin(2 * np.pi * rng.uniform(11.5, 15.0) * np.arange(b - a) / fs) * np.hanning(b - a)
        x[:, a:b] += np.outer(CENTRAL_W * bg * rng.uniform(0.7, 2.0), wave).astype(np.float32)
        arts.append((a / fs, b / fs, "spindle"))
    for t in event_times(rng, np.where(sleep, 1.5, np.where(drowsy, 0.4, 0.0))):
        a = int(t * fs)
        b = min(n, a + int(1.2 * fs))
        if b - a < fs:
            continue
        tt = np.arange(b - a) / fs
        wave = -np.exp(-(((tt - 0.15) / 0.06) ** 2)) + 0.6 * np.exp(-(((tt - 0.5) / 0.15) ** 2))
        x[:, a:b] += np.outer(CENTRAL_W * bg * rng.uniform(2.0, 5.0), wave).astype(np.float32)
        arts.append((a / fs, b / fs, "kcomplex"))
    return arts


def _rhythmic_runs(rng, x: np.ndarray, per_min: np.ndarray, fs: int, bg: float) -> list:
    """10-60 s of drowsy theta (4-7 Hz, fronto-central) or frontal delta (1.5-3 Hz): steady, waxing and waning."""
    n, arts = x.shape[1], []
    for t in event_times(rng, per_min):
        a = int(t * fs)
        b = min(n, a + int(rng.uniform(10.0, 60.0) * fs))
        if b - a < 2 * fs:
            continue
        tt = np.arange(b - a) / fs
        if rng.random() < 0.65:
            f, name = rng.uniform(4.0, 7.0), "theta_run"
            gain = THETA_GAIN
        else:
            f, name = rng.uniform(1.5, 3.0), "delta_run"
            gain = 0.1 + FRONTAL_W
        jitter = 1 + 0.03 * narrowband(rng, b - a, fs, 0.1, 0.05)
        phase = 2 * np.pi * np.cumsum(f * jitter) / fs
        lag = rng.uniform(0, 0.3, len(ELECTRODES))[:, None]
        env = tukey(b - a, 0.2) * (0.65 + 0.35 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * tt + rng.uniform(0, 6.3)))
        amp = bg * log_uniform(rng, 0.8, 2.5)
        x[:, a:b] += (amp * gain[:, None] * np.sin(phase[None, :] + lag) * env[None, :]).astype(np.float32)
        arts.append((a / fs, b / fs, name))
    return arts


def _chewing(rng, x: np.ndarray, per_min: np.ndarray, fs: int) -> list:
    """3-20 s of 1-2 Hz bursts of bilateral temporal muscle."""
    n, arts = x.shape[1], []
    for t in event_times(rng, per_min):
        a = int(t * fs)
        b = min(n, a + int(rng.uniform(3.0, 20.0) * fs))
        if b - a < fs:
            continue
        tt = np.arange(b - a) / fs
        bursts = (0.5 * (1 + np.cos(2 * np.pi * rng.uniform(1.0, 2.0) * tt + rng.uniform(0, 6.3)))) ** 6
        gains = rng.uniform(0.5, 1.0, (len(TEMPORAL), 1)).astype(np.float32)
        noise = broadband(rng, len(TEMPORAL), b - a)
        x[TEMPORAL, a:b] += log_uniform(rng, 20, 120) * gains * noise * (bursts * tukey(b - a, 0.1)).astype(np.float32)
        arts.append((a / fs, b / fs, "chewing"))
    return arts


def _muscle_runs(rng, x: np.ndarray, per_min: np.ndarray, fs: int) -> list:
    """2-30 s of muscle on one or both temporal sides."""
    n, arts = x.shape[1], []
    for t in event_times(rng, per_min):
        a = int(t * fs)
        b = min(n, a + int(float(np.clip(rng.lognormal(np.log(6.0), 0.6), 2.0, 30.0)) * fs))
        if b - a < fs:
            continue
        chans = muscle_channels(int(rng.integers(0, 3)))
        gains = rng.uniform(0.5, 1.0, (len(chans), 1)).astype(np.float32)
        x[chans, a:b] += log_uniform(rng, 8, 60) * gains * broadband(rng, len(chans), b - a) * tukey(b - a)
        arts.append((a / fs, b / fs, "muscle_run"))
    return arts


def _eyes(rng, x: np.ndarray, eog: np.ndarray, awake: np.ndarray, fs: int) -> list:
    """Eye flutter (trains of 3-10 blinks at 2.5-4.5 Hz, into ``eog``) and lateral eye movements."""
    n, arts = x.shape[1], []
    for t in event_times(rng, np.where(awake, 0.5, 0.05)):
        k, f, sigma = int(rng.integers(3, 11)), rng.uniform(2.5, 4.5), rng.uniform(0.05, 0.08)
        a, b = int(t * fs), int((t + k / f + 4 * sigma) * fs)
        if b > n:
            continue
        tt = np.arange(b - a) / fs
        centres = 2 * sigma + np.arange(k) / f
        bumps = np.exp(-0.5 * ((tt[None, :] - centres[:, None]) / sigma) ** 2).sum(0)
        eog[a:b] += log_uniform(rng, 40, 150) * bumps
        arts.append((a / fs, b / fs, "flutter"))
    for t in event_times(rng, np.where(awake, 2.0, 1.0)):
        dur = rng.uniform(0.5, 3.0)
        a, b = int(t * fs), int((t + dur) * fs)
        if b > n:
            continue
        tt = np.arange(b - a) / fs
        shape = np.clip(tt / 0.1, 0, 1) * np.clip((dur - tt) / 0.3, 0, 1)  # quick saccade, slower return
        amp = log_uniform(rng, 40, 150) * rng.choice([-1.0, 1.0])
        x[:, a:b] += np.outer(LATERAL_W * amp, shape).astype(np.float32)
        arts.append((a / fs, b / fs, "eye_move"))
    return arts


def _pop_trains(rng, x: np.ndarray, per_min: np.ndarray, fs: int) -> list:
    """3-12 pops on one electrode every 0.4-2 s: periodic, sharp, large, and not a seizure."""
    n, arts = x.shape[1], []
    for t in event_times(rng, per_min):
        e = int(rng.integers(0, len(ELECTRODES)))
        period, tau = rng.uniform(0.4, 2.0), rng.uniform(0.05, 0.3)
        amp = log_uniform(rng, 80, 500) * rng.choice([-1.0, 1.0])
        k = int(rng.integers(3, 13))
        for j in range(k):
            a = int((t + j * period * rng.uniform(0.9, 1.1)) * fs)
            b = min(n, a + int(5 * tau * fs))
            if b - a < 8:
                continue
            x[e, a:b] += pop(np.arange(b - a) / fs, amp, tau)
        end = min(n / fs, t + k * period * 1.1 + 5 * tau)
        if end > t:
            arts.append((float(t), float(end), "pop_train"))
    return arts


def _sweat(rng, x: np.ndarray, per_min: np.ndarray, fs: int) -> list:
    """20-120 s of slow (0.1-0.3 Hz) drift on an electrode and its neighbours."""
    n, arts = x.shape[1], []
    for t in event_times(rng, per_min):
        a = int(t * fs)
        b = min(n, a + int(rng.uniform(20.0, 120.0) * fs))
        if b - a < 4 * fs:
            continue
        centre = POS[int(rng.integers(0, len(ELECTRODES)))]
        gain = np.exp(-((POS - centre) ** 2).sum(1) / (2 * 0.25**2))
        gain[gain < 0.1] = 0.0
        drift = narrowband(rng, b - a, fs, rng.uniform(0.1, 0.3), 0.08) * tukey(b - a, 0.2)
        x[:, a:b] += np.outer(gain * rng.uniform(40.0, 200.0), drift).astype(np.float32)
        arts.append((a / fs, b / fs, "sweat"))
    return arts


def add_postictal(rng: np.random.Generator, x: np.ndarray, rec: Recording, bg: float) -> list:
    """Suppression, then fading polymorphic delta after each seizure (not after absences), up to the next one."""
    fs, n = rec.fs, x.shape[1]
    arts = []
    onsets = sorted(s.onset for s in rec.seizures)
    for sz in rec.seizures:
        if sz.kind == "absence":
            continue
        nxt = min([o for o in onsets if o >= sz.stop] + [rec.duration])
        length = min(rng.uniform(20.0, 120.0), nxt - sz.stop - 1.0)
        a = int(round(sz.stop * fs))
        b = min(n, a + int(length * fs))
        if b - a < 3 * fs:
            continue
        d = sz.distances()
        if sz.kind in FOCAL_KINDS:
            gain = np.maximum(np.exp(-(d**2) / (2 * max(sz.r1, 0.35) ** 2)), 0.15)
        else:
            gain = 0.4 + 0.6 * np.exp(-(d**2) / (2 * 0.6**2))
        tt = np.arange(b - a) / fs
        supp_s = rng.uniform(2.0, 10.0)
        recover = np.clip(1 - (tt - supp_s) / 2.0, 0, 1)
        x[:, a:b] *= (1 - rng.uniform(0.3, 0.7) * gain[:, None] * recover[None, :]).astype(np.float32)
        delta = narrowband(rng, b - a, fs, rng.uniform(0.8, 2.5), 0.6)
        delta *= np.exp(-tt / (length / 3)) * np.clip(tt / supp_s, 0, 1)
        x[:, a:b] += (bg * rng.uniform(1.0, 2.5) * gain[:, None] * delta[None, :]).astype(np.float32)
        arts.append((a / fs, b / fs, "postictal"))
    return arts
