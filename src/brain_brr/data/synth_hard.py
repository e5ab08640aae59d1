"""Hard mode of the synthetic corpus (``synth.difficulty: hard``): what fools detectors on real EEG.

Same patients, sessions and files as the standard corpus of the same seed; other seizures,
and confounders rendered on top of the standard background and artifacts.

Seizures are fainter (peaks mostly 0.5-2.5x the background RMS, against up to 5x) and shorter (8-90 s, median 20 s):

* ``focal``: a rhythmic discharge that slows down and spreads (the standard model, fainter);
* ``lvfa``: low-voltage fast onset: the background flattens under 12-30 Hz activity for
  3-10 s, then a rhythmic theta discharge evolves and spreads;
* ``confined``: sharp rhythmic discharges on one or two electrodes that never spread;
* ``absence``: generalised 2.5-4 Hz spike-and-wave; ``generalized``: generalised rhythmic
  activity; ``tonic_clonic``: tonic fast activity, clonic spike-wave and muscle.

Confounders, all outside the seizure labels (a recording rendered without its seizures
differs from the full one only inside the seizures and their post-ictal stretches):

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

from brain_brr.data.synth import (
    _E,
    _POS,
    ELECTRODES,
    FOCAL_KINDS,
    MUSCLE_SIDES,
    POS,
    Recording,
    Regime,
    Seizure,
    _event_times,
    _narrowband,
    _per_second_to_samples,
    _tukey,
    _weights,
    log_uniform,
    seizure_wave,
)

CENTRAL_W = _weights(
    {
        "C3": 1.0,
        "CZ": 1.0,
        "C4": 1.0,
        "FZ": 0.7,
        "F3": 0.7,
        "F4": 0.7,
        "PZ": 0.6,
        "P3": 0.5,
        "P4": 0.5,
        "FP1": 0.2,
        "FP2": 0.2,
    }
)
FRONTAL_W = _weights(
    {
        "FP1": 1.0,
        "FP2": 1.0,
        "F3": 0.9,
        "F4": 0.9,
        "FZ": 0.9,
        "F7": 0.7,
        "F8": 0.7,
        "C3": 0.5,
        "C4": 0.5,
        "CZ": 0.5,
        "T3": 0.3,
        "T4": 0.3,
    }
)
LATERAL_W = _weights({"F7": 1.0, "F8": -1.0, "FP1": 0.5, "FP2": -0.5, "T3": 0.3, "T4": -0.3, "F3": 0.2, "F4": -0.2})
TEMPORAL = [_E[e] for side in MUSCLE_SIDES for e in side]
HARD_GENERAL_P = (0.45, 0.40, 0.15)  # gnsz, absz, tcsz


def draw_seizure(rng: np.random.Generator, onset: float, duration: float, profile: str, foci: list[str]) -> Seizure:
    """One hard-mode seizure (shape fixed here, so labels follow from the plan alone)."""
    if profile == "focal" and rng.random() < 0.9:
        kind = str(rng.choice(("focal", "lvfa", "confined"), p=(0.35, 0.35, 0.30)))
        label = "spsz" if kind == "confined" else str(rng.choice(("fnsz", "cpsz"), p=(0.65, 0.35)))
        # near an electrode, so that even a confined field reaches at least one
        centre = np.array(_POS[str(rng.choice(foci))]) + np.clip(rng.normal(0, 0.05, 2), -0.08, 0.08)
        if kind == "confined":  # on one or two electrodes only: larger there
            r0 = r1 = float(rng.uniform(0.14, 0.2))
            snr = log_uniform(rng, 1.2, 3.0)
        else:
            r0 = float(rng.uniform(0.25, 0.38))
            r1 = r0 * float(rng.uniform(1.2, 2.0))
            snr = log_uniform(rng, 0.7, 2.5)
        f0, f1 = float(rng.uniform(5.0, 8.0)), float(rng.uniform(2.5, 4.5))
    else:
        label = "tcsz" if profile == "focal" else str(rng.choice(("gnsz", "absz", "tcsz"), p=HARD_GENERAL_P))
        kind = {"gnsz": "generalized", "absz": "absence", "tcsz": "tonic_clonic"}[label]
        centre = np.array([rng.normal(0, 0.1), rng.uniform(0.0, 0.5)])
        r0 = r1 = 0.6
        if kind == "absence":
            duration = min(duration, float(rng.uniform(8.0, 20.0)))
            f0, f1 = float(rng.uniform(2.5, 4.0)), float(rng.uniform(2.5, 3.0))
            snr = log_uniform(rng, 0.7, 2.5)
        else:
            f0, f1 = float(rng.uniform(2.5, 6.0)), float(rng.uniform(1.5, 3.0))
            snr = log_uniform(rng, 0.5, 2.0) if kind == "generalized" else log_uniform(rng, 0.8, 3.0)
    return Seizure(
        onset=round(onset, 4), duration=round(duration, 4), label=label, kind=kind, snr=snr, f0=f0, f1=f1,
        centre=(float(centre[0]), float(centre[1])), r0=r0, r1=r1,
        spread_at=duration * float(rng.uniform(0.15, 0.6)), spread_s=duration * float(rng.uniform(0.1, 0.3)),
    )  # fmt: skip


HARD = Regime(min_s=8.0, max_s=90.0, median_s=20.0, sigma=0.7, draw=draw_seizure)


# --------------------------------------------------------------------------- seizures


def _distance(sz: Seizure) -> np.ndarray:
    return np.hypot(*(POS - np.array(sz.centre)).T)


def _rhythmic(rng: np.random.Generator, sz: Seizure, t: np.ndarray, fs: int, f0: float, f1: float) -> np.ndarray:
    """Evolving rhythmic discharge over ``t``: slows from f0 to f1, sharpens, propagates; (E, len(t))."""
    frac = (t - t[0]) / max(t[-1] - t[0], 1e-9) if t.size else t
    freq = f0 * (f1 / f0) ** frac
    phase = 2 * np.pi * np.cumsum(freq) / fs
    lag = (_distance(sz) * rng.uniform(1.0, 2.5) + rng.uniform(0, 0.4, len(ELECTRODES)))[:, None]
    p = phase[None, :] + lag
    sharp = 0.15 + 0.6 * frac
    return np.sin(p) + sharp * (0.5 * np.sin(2 * p) + 0.25 * np.sin(3 * p))


def _fade(rng: np.random.Generator, t: np.ndarray, duration: float) -> np.ndarray:
    return np.clip((duration - t) / rng.uniform(0.5, 3.0), 0, 1)


def _lvfa(rng: np.random.Generator, x: np.ndarray, sz: Seizure, a: int, fs: int, bg: float) -> np.ndarray:
    """Low-voltage fast onset: flattens the background at ``x[:, a:]`` in place; returns the discharge."""
    L = int(round(sz.duration * fs))
    t = np.arange(L) / fs
    gain = np.exp(-(_distance(sz)[:, None] ** 2) / (2 * sz.radius(t)[None, :] ** 2))  # (E, L)
    n_fast = max(1, int(min(rng.uniform(3.0, 10.0), 0.5 * sz.duration) * fs))
    ramp = np.clip(np.minimum(t[:n_fast], t[n_fast - 1] - t[:n_fast]) / 0.5, 0, 1)  # 0.5 s in and out
    depth = rng.uniform(0.4, 0.65)
    seg = x[:, a : a + n_fast]
    seg *= (1 - depth * gain[:, : seg.shape[1]] * ramp[None, : seg.shape[1]]).astype(np.float32)

    out = np.zeros((len(ELECTRODES), L), dtype=np.float64)
    hi, lo = rng.uniform(18.0, 30.0), rng.uniform(12.0, 16.0)
    tf = t[:n_fast]
    fast_freq = hi + (lo - hi) * tf / max(tf[-1], 1e-9)
    fast = np.sin(2 * np.pi * np.cumsum(fast_freq) / fs) * np.clip(tf / (0.6 * tf[-1] + 1e-9), 0.2, 1)
    out[:, :n_fast] = bg * rng.uniform(0.35, 0.6) * max(sz.snr, 1.0) * gain[:, :n_fast] * fast
    rest = t[n_fast:]
    if rest.size:
        env = 0.2 + 0.8 * np.clip((rest - rest[0]) / (rng.uniform(0.2, 0.45) * sz.duration), 0, 1) ** 1.5
        out[:, n_fast:] = bg * sz.snr * env * gain[:, n_fast:] * _rhythmic(rng, sz, rest, fs, sz.f0, sz.f1)
    return (out * _fade(rng, t, sz.duration)).astype(np.float32)


def _confined(rng: np.random.Generator, sz: Seizure, fs: int, bg: float) -> np.ndarray:
    """Sharp rhythmic discharges confined to the electrodes next to the focus; no spread."""
    L = int(round(sz.duration * fs))
    t = np.arange(L) / fs
    gain = np.exp(-(_distance(sz) ** 2) / (2 * sz.r0**2))[:, None]
    env = (0.2 + 0.8 * np.clip(t / (rng.uniform(0.15, 0.4) * sz.duration), 0, 1)) * _fade(rng, t, sz.duration)
    wave = _rhythmic(rng, sz, t, fs, sz.f0, sz.f1)
    return (bg * sz.snr * env * gain * wave).astype(np.float32)


def add_seizure(rng: np.random.Generator, x: np.ndarray, sz: Seizure, a: int, fs: int, bg: float) -> None:
    """Add one seizure starting at sample ``a`` to ``x`` in place (an LVFA onset also flattens the background)."""
    if sz.kind == "lvfa":
        wave = _lvfa(rng, x, sz, a, fs, bg)
    elif sz.kind == "confined":
        wave = _confined(rng, sz, fs, bg)
    else:
        wave = seizure_wave(rng, sz, fs, bg)
    x[:, a : a + wave.shape[1]] += wave[:, : x.shape[1] - a]


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
        d = _distance(sz)
        if sz.kind in FOCAL_KINDS:
            gain = np.maximum(np.exp(-(d**2) / (2 * max(sz.r1, 0.35) ** 2)), 0.15)
        else:
            gain = 0.4 + 0.6 * np.exp(-(d**2) / (2 * 0.6**2))
        tt = np.arange(b - a) / fs
        supp_s = rng.uniform(2.0, 10.0)
        recover = np.clip(1 - (tt - supp_s) / 2.0, 0, 1)
        x[:, a:b] *= (1 - rng.uniform(0.3, 0.7) * gain[:, None] * recover[None, :]).astype(np.float32)
        delta = _narrowband(rng, b - a, fs, rng.uniform(0.8, 2.5), 0.6)
        delta *= np.exp(-tt / (length / 3)) * np.clip(tt / supp_s, 0, 1)
        x[:, a:b] += (bg * rng.uniform(1.0, 2.5) * gain[:, None] * delta[None, :]).astype(np.float32)
        arts.append((a / fs, b / fs, "postictal"))
    return arts


# --------------------------------------------------------------------------- confounders


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
    x *= _per_second_to_samples(level, fs, n)
    if sleep.any():
        delta = _narrowband(rng, n, fs, rng.uniform(0.8, 2.0), 0.5)
        env = _per_second_to_samples(_smooth(sleep, 20), fs, n)
        field = (0.4 + 0.6 * FRONTAL_W) * bg * rng.uniform(0.8, 2.0)
        x += np.outer(field.astype(np.float32), delta * env)


def _sleep_graphoelements(rng, x: np.ndarray, drowsy: np.ndarray, sleep: np.ndarray, fs: int, bg: float) -> list:
    """Spindles (11-15 Hz, 0.5-2 s) and vertex waves / K-complexes, central, in drowsiness and sleep."""
    n, arts = x.shape[1], []
    for t in _event_times(rng, np.where(sleep, 5.0, np.where(drowsy, 1.0, 0.0))):
        a = int(t * fs)
        b = min(n, a + int(rng.uniform(0.5, 2.0) * fs))
        if b - a < 8:
            continue
        wave = np.sin(2 * np.pi * rng.uniform(11.5, 15.0) * np.arange(b - a) / fs) * np.hanning(b - a)
        x[:, a:b] += np.outer(CENTRAL_W * bg * rng.uniform(0.7, 2.0), wave).astype(np.float32)
        arts.append((a / fs, b / fs, "spindle"))
    for t in _event_times(rng, np.where(sleep, 1.5, np.where(drowsy, 0.4, 0.0))):
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
    for t in _event_times(rng, per_min):
        a = int(t * fs)
        b = min(n, a + int(rng.uniform(10.0, 60.0) * fs))
        if b - a < 2 * fs:
            continue
        tt = np.arange(b - a) / fs
        if rng.random() < 0.65:
            f, name = rng.uniform(4.0, 7.0), "theta_run"
            gain = 0.4 + 0.6 * np.exp(-((POS - [0.0, 0.2]) ** 2).sum(1) / (2 * 0.5**2))
        else:
            f, name = rng.uniform(1.5, 3.0), "delta_run"
            gain = 0.1 + FRONTAL_W
        jitter = 1 + 0.03 * _narrowband(rng, b - a, fs, 0.1, 0.05)
        phase = 2 * np.pi * np.cumsum(f * jitter) / fs
        lag = rng.uniform(0, 0.3, len(ELECTRODES))[:, None]
        env = _tukey(b - a, 0.2) * (0.65 + 0.35 * np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * tt + rng.uniform(0, 6.3)))
        amp = bg * log_uniform(rng, 0.8, 2.5)
        x[:, a:b] += (amp * gain[:, None] * np.sin(phase[None, :] + lag) * env[None, :]).astype(np.float32)
        arts.append((a / fs, b / fs, name))
    return arts


def _broadband(rng: np.random.Generator, rows: int, length: int) -> np.ndarray:
    """Muscle-like noise: differentiated white noise (power rises with frequency), unit RMS."""
    return np.diff(rng.standard_normal((rows, length + 1), dtype=np.float32), axis=1) / np.float32(np.sqrt(2))


def _chewing(rng, x: np.ndarray, per_min: np.ndarray, fs: int) -> list:
    """3-20 s of 1-2 Hz bursts of bilateral temporal muscle."""
    n, arts = x.shape[1], []
    for t in _event_times(rng, per_min):
        a = int(t * fs)
        b = min(n, a + int(rng.uniform(3.0, 20.0) * fs))
        if b - a < fs:
            continue
        tt = np.arange(b - a) / fs
        bursts = (0.5 * (1 + np.cos(2 * np.pi * rng.uniform(1.0, 2.0) * tt + rng.uniform(0, 6.3)))) ** 6
        gains = rng.uniform(0.5, 1.0, (len(TEMPORAL), 1)).astype(np.float32)
        noise = _broadband(rng, len(TEMPORAL), b - a)
        x[TEMPORAL, a:b] += log_uniform(rng, 20, 120) * gains * noise * (bursts * _tukey(b - a, 0.1)).astype(np.float32)
        arts.append((a / fs, b / fs, "chewing"))
    return arts


def _muscle_runs(rng, x: np.ndarray, per_min: np.ndarray, fs: int) -> list:
    """2-30 s of muscle on one or both temporal sides."""
    n, arts = x.shape[1], []
    for t in _event_times(rng, per_min):
        a = int(t * fs)
        b = min(n, a + int(float(np.clip(rng.lognormal(np.log(6.0), 0.6), 2.0, 30.0)) * fs))
        if b - a < fs:
            continue
        side = int(rng.integers(0, 3))
        chans = [_E[e] for s in ((0, 1) if side == 2 else (side,)) for e in MUSCLE_SIDES[s]]
        gains = rng.uniform(0.5, 1.0, (len(chans), 1)).astype(np.float32)
        x[chans, a:b] += log_uniform(rng, 8, 60) * gains * _broadband(rng, len(chans), b - a) * _tukey(b - a)
        arts.append((a / fs, b / fs, "muscle_run"))
    return arts


def _eyes(rng, x: np.ndarray, eog: np.ndarray, awake: np.ndarray, fs: int) -> list:
    """Eye flutter (trains of 3-10 blinks at 2.5-4.5 Hz, into ``eog``) and lateral eye movements."""
    n, arts = x.shape[1], []
    for t in _event_times(rng, np.where(awake, 0.5, 0.05)):
        k, f, sigma = int(rng.integers(3, 11)), rng.uniform(2.5, 4.5), rng.uniform(0.05, 0.08)
        a, b = int(t * fs), int((t + k / f + 4 * sigma) * fs)
        if b > n:
            continue
        tt = np.arange(b - a) / fs
        centres = 2 * sigma + np.arange(k) / f
        bumps = np.exp(-0.5 * ((tt[None, :] - centres[:, None]) / sigma) ** 2).sum(0)
        eog[a:b] += log_uniform(rng, 40, 150) * bumps
        arts.append((a / fs, b / fs, "flutter"))
    for t in _event_times(rng, np.where(awake, 2.0, 1.0)):
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
    for t in _event_times(rng, per_min):
        e = int(rng.integers(0, len(ELECTRODES)))
        period, tau = rng.uniform(0.4, 2.0), rng.uniform(0.05, 0.3)
        amp = log_uniform(rng, 80, 500) * rng.choice([-1.0, 1.0])
        k = int(rng.integers(3, 13))
        for j in range(k):
            a = int((t + j * period * rng.uniform(0.9, 1.1)) * fs)
            b = min(n, a + int(5 * tau * fs))
            if b - a < 8:
                continue
            tt = np.arange(b - a) / fs
            x[e, a:b] += (amp * (1 - np.exp(-tt / 0.005)) * np.exp(-tt / tau)).astype(np.float32)
        end = min(n / fs, t + k * period * 1.1 + 5 * tau)
        if end > t:
            arts.append((float(t), float(end), "pop_train"))
    return arts


def _sweat(rng, x: np.ndarray, per_min: np.ndarray, fs: int) -> list:
    """20-120 s of slow (0.1-0.3 Hz) drift on an electrode and its neighbours."""
    n, arts = x.shape[1], []
    for t in _event_times(rng, per_min):
        a = int(t * fs)
        b = min(n, a + int(rng.uniform(20.0, 120.0) * fs))
        if b - a < 4 * fs:
            continue
        centre = POS[int(rng.integers(0, len(ELECTRODES)))]
        gain = np.exp(-((POS - centre) ** 2).sum(1) / (2 * 0.25**2))
        gain[gain < 0.1] = 0.0
        drift = _narrowband(rng, b - a, fs, rng.uniform(0.1, 0.3), 0.08) * _tukey(b - a, 0.2)
        x[:, a:b] += np.outer(gain * rng.uniform(40.0, 200.0), drift).astype(np.float32)
        arts.append((a / fs, b / fs, "sweat"))
    return arts
