"""Seizure kinds: how each difficulty draws them (the plan) and what each looks like on the scalp.

Standard kinds: ``focal`` (an evolving rhythmic discharge that slows down and spreads),
``absence`` (generalised 3 Hz spike-wave), ``generalized`` (generalised rhythmic activity) and
``tonic_clonic`` (tonic fast activity, clonic spike-wave, muscle). The hard difficulty draws
them fainter (peaks mostly 0.5-2.5x the background RMS, against up to 5x) and shorter (8-90 s,
median 20 s), and adds ``lvfa`` (low-voltage fast onset: the background flattens under 12-30 Hz
activity for 3-10 s, then a theta discharge evolves and spreads) and ``confined`` (sharp
rhythmic discharges on one or two electrodes that never spread).

Every shape parameter is fixed when a seizure is drawn, so labels follow from the plan alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from brain_brr.synth.scalp import ELECTRODES, POS, POSITIONS, tcp_channels
from brain_brr.synth.signals import log_uniform

FOCAL_LABELS, FOCAL_P = ("fnsz", "cpsz", "spsz"), (0.55, 0.30, 0.15)
GENERAL_LABELS, GENERAL_P = ("gnsz", "absz", "tcsz"), (0.50, 0.30, 0.20)
HARD_GENERAL_P = (0.45, 0.40, 0.15)  # gnsz, absz, tcsz
GENERAL_KINDS = {"gnsz": "generalized", "absz": "absence", "tcsz": "tonic_clonic"}
MIN_SEIZURE_S, MAX_SEIZURE_S = 10.0, 180.0
SEIZURE_MEDIAN_S, SEIZURE_SIGMA = 32.0, 0.75  # log-normal: most seizures short, a tail up to 3 min
INVOLVED_GAIN = 0.3  # an electrode whose seizure field gain reaches this is annotated as involved
FOCAL_KINDS = ("focal", "lvfa", "confined")  # seizures with a field centre that spreads (or not) from a focus


@dataclass(frozen=True)
class Seizure:
    """One planned seizure; shape parameters are fixed here so labels follow from the plan alone."""

    onset: float
    duration: float
    label: str
    kind: str  # focal | absence | generalized | tonic_clonic; hard mode adds lvfa | confined (focal kinds)
    snr: float  # peak amplitude / background RMS
    f0: float  # discharge frequency at onset (Hz)
    f1: float  # ... and at the end
    centre: tuple[float, float]  # field centre on the scalp plane
    r0: float  # field radius at onset
    r1: float  # field radius after spreading
    spread_at: float  # seconds after onset when spreading starts
    spread_s: float  # seconds the spread takes

    @property
    def stop(self) -> float:
        return self.onset + self.duration

    def radius(self, t: np.ndarray) -> np.ndarray:
        return self.r0 + (self.r1 - self.r0) * np.clip((t - self.spread_at) / self.spread_s, 0.0, 1.0)

    def distances(self) -> np.ndarray:
        """Distance of each electrode from the field centre, (len(ELECTRODES),)."""
        return np.hypot(*(POS - np.array(self.centre)).T)

    def electrode_onsets(self) -> dict[str, float]:
        """Seconds after onset at which each involved electrode joins (focal); every electrode at 0 otherwise."""
        if self.kind not in FOCAL_KINDS:
            return dict.fromkeys(ELECTRODES, 0.0)
        need = self.distances() / np.sqrt(2 * np.log(1 / INVOLVED_GAIN))  # radius at which gain reaches INVOLVED_GAIN
        out = {}
        for e, r in zip(ELECTRODES, need):
            if r <= self.r0:
                out[e] = 0.0
            elif r <= self.r1:
                out[e] = self.spread_at + self.spread_s * (r - self.r0) / (self.r1 - self.r0)
        return out

    def channel_onsets(self, montage: str) -> dict[str, float]:
        """Absolute start time per annotated TCP channel; the earliest is the seizure onset."""
        joins = self.electrode_onsets()
        out = {}
        for a, b in tcp_channels(montage):
            ts = [joins[e] for e in (a, b) if e in joins]
            if ts:
                out[f"{a}-{b}"] = self.onset + min(ts)
        return out


# --------------------------------------------------------------------------- drawing


def draw_standard(rng: np.random.Generator, onset: float, duration: float, profile: str, foci: list[str]) -> Seizure:
    """One standard seizure of a patient whose ``profile`` is focal (at one of ``foci``) or generalized."""
    if profile == "focal" and rng.random() < 0.92:
        label = str(rng.choice(FOCAL_LABELS, p=FOCAL_P))
        kind = "focal"
        centre = np.array(POSITIONS[str(rng.choice(foci))]) + rng.normal(0, 0.06, 2)
        r0 = float(rng.uniform(0.28, 0.4))
        r1 = r0 * float(rng.uniform(1.0, 1.3) if label == "spsz" else rng.uniform(1.3, 2.3))
        snr = log_uniform(rng, 0.8, 3.0 if label == "spsz" else 5.0)
        f0, f1 = float(rng.uniform(4.5, 8.0)), float(rng.uniform(2.0, 4.0))
    else:
        label = "tcsz" if profile == "focal" else str(rng.choice(GENERAL_LABELS, p=GENERAL_P))
        kind = GENERAL_KINDS[label]
        centre = np.array([rng.normal(0, 0.1), rng.uniform(0.0, 0.5)])
        r0 = r1 = 0.6
        snr = log_uniform(rng, 1.5, 6.0) if kind == "absence" else log_uniform(rng, 1.0, 5.0)
        if kind == "absence":  # absences are short (10-25 s) and usually large
            duration = min(duration, float(rng.uniform(MIN_SEIZURE_S, 25.0)))
            f0, f1 = float(rng.uniform(3.0, 4.0)), float(rng.uniform(2.5, 3.0))
        else:
            f0, f1 = float(rng.uniform(3.0, 6.0)), float(rng.uniform(1.5, 3.0))
    spread_at = duration * float(rng.uniform(0.15, 0.6))
    return Seizure(
        onset=round(onset, 4), duration=round(duration, 4), label=label, kind=kind, snr=snr, f0=f0, f1=f1,
        centre=(float(centre[0]), float(centre[1])), r0=r0, r1=r1, spread_at=spread_at,
        spread_s=duration * float(rng.uniform(0.1, 0.3)),
    )  # fmt: skip


def draw_hard(rng: np.random.Generator, onset: float, duration: float, profile: str, foci: list[str]) -> Seizure:
    """One hard-mode seizure: fainter, and focal ones of three kinds (focal, lvfa, confined)."""
    if profile == "focal" and rng.random() < 0.9:
        kind = str(rng.choice(FOCAL_KINDS, p=(0.35, 0.35, 0.30)))
        label = "spsz" if kind == "confined" else str(rng.choice(("fnsz", "cpsz"), p=(0.65, 0.35)))
        # near an electrode, so that even a confined field reaches at least one
        centre = np.array(POSITIONS[str(rng.choice(foci))]) + np.clip(rng.normal(0, 0.05, 2), -0.08, 0.08)
        if kind == "confined":  # on one or two electrodes only: larger there
            r0 = r1 = float(rng.uniform(0.14, 0.2))
            snr = log_uniform(rng, 1.2, 3.0)
        else:
            r0 = float(rng.uniform(0.25, 0.38))
            r1 = r0 * float(rng.uniform(1.2, 2.0))
            snr = log_uniform(rng, 0.7, 2.5)
        f0, f1 = float(rng.uniform(5.0, 8.0)), float(rng.uniform(2.5, 4.5))
    else:
        label = "tcsz" if profile == "focal" else str(rng.choice(GENERAL_LABELS, p=HARD_GENERAL_P))
        kind = GENERAL_KINDS[label]
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


@dataclass(frozen=True)
class Regime:
    """How one difficulty draws seizures: log-normal durations clipped to ``[min_s, max_s]``, and a shape."""

    min_s: float
    max_s: float
    median_s: float
    sigma: float
    draw: Callable[
        [np.random.Generator, float, float, str, list[str]], Seizure
    ]  # (rng, onset, duration, profile, foci)


STANDARD = Regime(MIN_SEIZURE_S, MAX_SEIZURE_S, SEIZURE_MEDIAN_S, SEIZURE_SIGMA, draw_standard)
HARD = Regime(min_s=8.0, max_s=90.0, median_s=20.0, sigma=0.7, draw=draw_hard)


def regime(difficulty: str) -> Regime:
    if difficulty == "standard":
        return STANDARD
    if difficulty == "hard":
        return HARD
    raise ValueError(f"synth.difficulty={difficulty!r}: allowed: standard, hard")


# --------------------------------------------------------------------------- rendering


def _spike_wave(phase: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """Spike (25 ms) followed by a slow wave, once per cycle of ``phase``."""
    u = (phase / (2 * np.pi)) % 1.0
    spike = -1.6 * np.exp(-0.5 * ((u - 0.08) / (0.025 * freq)) ** 2)
    wave = 0.9 * np.sin(2 * np.pi * (u - 0.3)) * (u > 0.3)
    return spike + wave


def seizure_wave(rng: np.random.Generator, sz: Seizure, fs: int, bg: float) -> np.ndarray:
    """(len(ELECTRODES), L) microvolts of one seizure of a standard kind, to add to the background."""
    L = int(round(sz.duration * fs))
    t = np.arange(L) / fs
    frac = t / sz.duration
    freq = sz.f0 * (sz.f1 / sz.f0) ** frac  # discharges slow down as the seizure evolves
    phase = 2 * np.pi * np.cumsum(freq) / fs
    d = sz.distances()
    lag = (d * rng.uniform(1.0, 2.5) + rng.uniform(0, 0.4, d.size))[:, None]  # propagation: bipolar pairs see it
    p = phase[None, :] + lag
    fade = np.clip((sz.duration - t) / rng.uniform(0.5, 3.0), 0, 1)

    if sz.kind == "absence":
        env = np.clip(t / 0.7, 0, 1) * fade
        wave = _spike_wave(p, freq[None, :])
        gain = 0.3 + 0.7 * np.exp(-(d**2) / (2 * 0.6**2))
        return (bg * sz.snr * 0.7 * env * gain[:, None] * wave).astype(np.float32)

    rise = rng.uniform(0.2, 0.45) * sz.duration
    env = (0.15 + 0.85 * np.clip(t / rise, 0, 1) ** 1.5) * fade
    sharp = 0.15 + 0.6 * frac  # harmonics grow: rhythmic waves turn into sharp waves
    wave = np.sin(p) + sharp * (0.5 * np.sin(2 * p) + 0.25 * np.sin(3 * p))
    if sz.kind == "focal":
        r = sz.radius(t)
        gain = np.exp(-(d[:, None] ** 2) / (2 * r[None, :] ** 2))
        out = bg * sz.snr * env * gain * wave
        if rng.random() < 0.4:  # low-voltage fast activity at onset
            n_fast = min(L, int(rng.uniform(2, 5) * fs))
            fast = np.sin(2 * np.pi * rng.uniform(15, 25) * t[:n_fast]) * np.hanning(n_fast)
            out[:, :n_fast] += 0.4 * bg * sz.snr * gain[:, :n_fast] * fast
        return out.astype(np.float32)

    gain = (0.2 + 0.8 * np.exp(-(d**2) / (2 * 0.45**2)))[:, None]
    if sz.kind == "generalized":
        return (bg * sz.snr * env * gain * wave).astype(np.float32)

    # tonic-clonic: fast tonic rhythm, then clonic spike-wave bursts; muscle throughout
    tonic = frac < rng.uniform(0.2, 0.4)
    fast = np.sin(2 * np.pi * rng.uniform(10, 20) * t)[None, :] * np.clip(t / rise, 0.2, 1)
    clonic = _spike_wave(p, freq[None, :])
    out = bg * sz.snr * gain * np.where(tonic[None, :], 0.6 * fast, clonic) * fade
    muscle = np.diff(rng.standard_normal((len(ELECTRODES), L + 1), dtype=np.float32), axis=1)
    temporal = 0.5 + 0.5 * (np.abs(POS[:, 0]) > 0.7)
    out += (
        bg
        * rng.uniform(0.5, 1.5)
        * temporal[:, None]
        * muscle
        * fade
        * np.where(tonic, 1.0, 0.5 + 0.5 * (np.cos(p[0]) > 0.3))
    )
    return out.astype(np.float32)


def _rhythmic(rng: np.random.Generator, sz: Seizure, t: np.ndarray, fs: int, f0: float, f1: float) -> np.ndarray:
    """Evolving rhythmic discharge over ``t``: slows from f0 to f1, sharpens, propagates; (E, len(t))."""
    frac = (t - t[0]) / max(t[-1] - t[0], 1e-9) if t.size else t
    freq = f0 * (f1 / f0) ** frac
    phase = 2 * np.pi * np.cumsum(freq) / fs
    lag = (sz.distances() * rng.uniform(1.0, 2.5) + rng.uniform(0, 0.4, len(ELECTRODES)))[:, None]
    p = phase[None, :] + lag
    sharp = 0.15 + 0.6 * frac
    return np.sin(p) + sharp * (0.5 * np.sin(2 * p) + 0.25 * np.sin(3 * p))


def _fade(rng: np.random.Generator, t: np.ndarray, duration: float) -> np.ndarray:
    return np.clip((duration - t) / rng.uniform(0.5, 3.0), 0, 1)


def _lvfa(rng: np.random.Generator, x: np.ndarray, sz: Seizure, a: int, fs: int, bg: float) -> np.ndarray:
    """Low-voltage fast onset: flattens the background at ``x[:, a:]`` in place; returns the discharge."""
    L = int(round(sz.duration * fs))
    t = np.arange(L) / fs
    gain = np.exp(-(sz.distances()[:, None] ** 2) / (2 * sz.radius(t)[None, :] ** 2))  # (E, L)
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
    gain = np.exp(-(sz.distances() ** 2) / (2 * sz.r0**2))[:, None]
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
