"""The signals of one recording: background, artifacts, seizures, and in hard mode the confounders.

Microvolts that an amplitude threshold cannot solve: spatially correlated pink background with
a waxing and waning posterior alpha rhythm, awake/drowsy states, ECG leak, line noise, and
artifacts as large as or larger than seizures (eye blinks, muscle bursts, drowsy theta runs,
electrode pops). Each recording is drawn from its own random stream (seed, index), so
recordings can be rendered in any order and the same seed gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from brain_brr.synth import confounders
from brain_brr.synth.plan import Recording
from brain_brr.synth.scalp import ALPHA_W, BLINK_W, ECG_W, ELECTRODES, POS, THETA_GAIN, muscle_channels
from brain_brr.synth.seizures import add_seizure
from brain_brr.synth.signals import event_times, log_uniform, narrowband, per_second_to_samples, pop, tukey


@dataclass
class Rendered:
    """Referential EEG of one recording plus what went into it (for tests and the extras)."""

    eeg: np.ndarray  # (len(ELECTRODES), n) float32, microvolts
    ecg: np.ndarray  # (n,) EKG channel
    eog: np.ndarray  # (n,) eye source
    artifacts: list[tuple[float, float, str]] = field(default_factory=list)


def _volume_conduction() -> np.ndarray:
    """Neighbouring electrodes see overlapping sources: Gaussian spatial mixing, unit row norm."""
    d2 = ((POS[:, None, :] - POS[None, :, :]) ** 2).sum(-1)
    m = np.exp(-d2 / (2 * 0.3**2))
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.complex64)


_MIX = _volume_conduction()


def _pink(rng: np.random.Generator, n: int, fs: int, rms: float, slope: float) -> np.ndarray:
    """Spatially correlated 1/f^slope noise, (len(ELECTRODES), n) float32, each channel at ``rms``.

    Shaped in the frequency domain (one inverse FFT for all channels, at a fast FFT length, then
    cut to ``n``); bins above 140 Hz are left empty (the EEG band ends well below, and it saves
    random numbers at 400/512 Hz).
    """
    import scipy.fft

    m = scipy.fft.next_fast_len(n, real=True)  # n = seconds * fs can hold a large prime factor
    f = np.fft.rfftfreq(m, 1.0 / fs)
    k = int(np.searchsorted(f, min(fs / 2, 140.0), side="right"))
    w = np.zeros(k)
    band = f[:k] >= 0.3
    w[band] = f[:k][band] ** (-slope / 2) / np.sqrt(1 + (f[:k][band] / (0.42 * fs)) ** 8)
    w *= rms * m / (2 * np.sqrt(np.sum(w**2)))  # irfft variance is 4/m^2 * sum(|W|^2)
    z = rng.standard_normal((len(ELECTRODES), 2 * k), dtype=np.float32).view(np.complex64)
    z *= w.astype(np.float32)
    return scipy.fft.irfft(_MIX @ z, n=m, axis=1)[:, :n]


def _drowsy_seconds(rng: np.random.Generator, secs: int, drowsiness: float) -> np.ndarray:
    """Alternating awake/drowsy stretches of minutes, drowsy for about ``drowsiness`` of the time."""
    out = np.zeros(secs, dtype=bool)
    t, drowsy = 0, bool(rng.random() < drowsiness)
    while t < secs:
        mean = 180 * (drowsiness if drowsy else 1 - drowsiness)
        length = max(10, int(rng.exponential(mean)))
        out[t : t + length] = drowsy
        t += length
        drowsy = not drowsy
    return out


def _ecg(rng: np.random.Generator, n: int, fs: int, uv: float) -> np.ndarray:
    t = np.arange(int(0.6 * fs)) / fs
    beat = (
        np.exp(-0.5 * ((t - 0.05) / 0.012) ** 2)
        - 0.3 * np.exp(-0.5 * ((t - 0.075) / 0.01) ** 2)
        + 0.25 * np.exp(-0.5 * ((t - 0.3) / 0.05) ** 2)
    )
    rr = 60.0 / rng.uniform(55, 95)
    beats = np.cumsum(rr * (1 + 0.04 * rng.standard_normal(int(n / fs / rr) + 2))) - rr * rng.random()
    x = np.zeros(n + beat.size, dtype=np.float32)
    for i in (beats[beats >= 0] * fs).astype(int):
        if i < n:
            x[i : i + beat.size] += beat
    return uv * x[:n]


def _add_artifacts(
    rng: np.random.Generator, x: np.ndarray, eog: np.ndarray, rec: Recording, drowsy: np.ndarray, bg: float
) -> list:
    """Blinks, muscle, drowsy theta runs and electrode pops, added in place; returns their intervals."""
    fs, n, tr = rec.fs, x.shape[1], rec.traits
    arts: list[tuple[float, float, str]] = []
    rate = tr.artifact_rate

    for t in event_times(rng, np.where(drowsy, 1.0, 10.0) * rate):  # blinks: large slow frontal bumps
        sigma = rng.uniform(0.07, 0.12)
        amp = log_uniform(rng, 50, 250)
        a, b = int((t - 4 * sigma) * fs), int((t + 4 * sigma) * fs)
        if a < 0 or b > n:
            continue
        tt = np.arange(a, b) / fs
        eog[a:b] += amp * np.exp(-0.5 * ((tt - t) / sigma) ** 2)
        arts.append((a / fs, b / fs, "blink"))

    for t in event_times(rng, np.where(drowsy, 0.3, 1.5) * rate):  # muscle: broadband, temporal
        dur = float(np.clip(rng.lognormal(np.log(1.5), 0.7), 0.3, 8.0))
        a, b = int(t * fs), min(n, int((t + dur) * fs))
        if b - a < 8:
            continue
        chans = muscle_channels(int(rng.integers(0, 3)))
        amp = log_uniform(rng, 8, 80)
        noise = np.diff(rng.standard_normal((len(chans), b - a + 1), dtype=np.float32), axis=1) / np.sqrt(2)
        x[chans, a:b] += amp * rng.uniform(0.5, 1.0, (len(chans), 1)).astype(np.float32) * noise * tukey(b - a)
        arts.append((a / fs, b / fs, "muscle"))

    for t in event_times(rng, np.where(drowsy, 3.0, 0.1) * rate):  # drowsy theta runs: rhythmic, generalised
        dur = rng.uniform(1.5, 6.0)
        a, b = int(t * fs), min(n, int((t + dur) * fs))
        if b - a < 8:
            continue
        lag = rng.uniform(0, 0.4, len(ELECTRODES))
        phase = 2 * np.pi * rng.uniform(4.0, 7.0) * np.arange(b - a) / fs
        wave = np.sin(phase[None, :] + lag[:, None]) * np.hanning(b - a)[None, :]
        x[:, a:b] += (bg * log_uniform(rng, 0.8, 3.5) * THETA_GAIN[:, None] * wave).astype(np.float32)
        arts.append((a / fs, b / fs, "theta"))

    for t in event_times(rng, np.full(drowsy.size, 0.3 * rate)):  # electrode pops: one channel
        e = int(rng.integers(0, len(ELECTRODES)))
        tau = rng.uniform(0.1, 0.6)
        amp = log_uniform(rng, 80, 700) * rng.choice([-1, 1])
        for k in range(int(rng.integers(1, 4))):
            a = int((t + 0.7 * k) * fs)
            b = min(n, a + int(5 * tau * fs))
            if b - a < 8:
                continue
            x[e, a:b] += pop(np.arange(b - a) / fs, amp, tau)
            arts.append((a / fs, min(b, a + int(3 * tau * fs)) / fs, "pop"))
    return arts


def _add_field(x: np.ndarray, weights: np.ndarray, source: np.ndarray) -> None:
    """Add one source to the electrodes it reaches (``weights`` per electrode), in place."""
    for i in np.flatnonzero(weights):
        x[i] += weights[i] * source


def render(rec: Recording) -> Rendered:
    """The referential EEG of one recording, from its own random stream."""
    rng = np.random.default_rng([rec.seed, rec.index])
    fs, secs, tr = rec.fs, rec.duration, rec.traits
    n = secs * fs
    bg = tr.bg_rms * rec.gain

    x = _pink(rng, n, fs, bg, tr.slope)
    drowsy = _drowsy_seconds(rng, secs, tr.drowsiness)
    knots = np.clip(1 + 0.12 * rng.standard_normal(secs // 20 + 2), 0.7, 1.4)  # slow drift, one knot per 20 s
    x *= per_second_to_samples(np.interp(np.arange(secs), 20 * np.arange(knots.size), knots) + 0.1 * drowsy, fs, n)

    # posterior alpha: slow random waxing and waning while awake, nearly gone when drowsy
    wax = np.abs(np.convolve(rng.standard_normal(secs + 10), np.hanning(10), "same")[:secs])
    env = np.where(drowsy, 0.1, 0.25 + wax / (wax.max() + 1e-9))
    alpha = narrowband(rng, n, fs, tr.alpha_hz, 0.4) * per_second_to_samples(env, fs, n)
    _add_field(x, ALPHA_W * (bg * tr.alpha_gain), alpha)

    ecg = _ecg(rng, n, fs, tr.ekg_uv)
    _add_field(x, ECG_W * tr.ecg_leak, ecg)
    if rng.random() < 0.4:  # mains interference
        mains = np.sin(2 * np.pi * 60.0 * np.arange(n) / fs).astype(np.float32)
        x += np.outer(rng.uniform(0.5, 4.0, len(ELECTRODES)).astype(np.float32), mains)

    eog = np.zeros(n, dtype=np.float32)
    artifacts = _add_artifacts(rng, x, eog, rec, drowsy, bg)
    if rec.difficulty == "hard":  # the confounders never depend on the seizures: labels stay exact
        artifacts += confounders.add_confounders(rng, x, eog, rec, drowsy, bg)
    _add_field(x, BLINK_W, eog)

    for sz in rec.seizures:
        add_seizure(rng, x, sz, int(round(sz.onset * fs)), fs, bg)
    if rec.difficulty == "hard":  # after each seizure, outside its label
        artifacts += confounders.add_postictal(rng, x, rec, bg)
    return Rendered(eeg=x, ecg=ecg, eog=eog, artifacts=artifacts)
