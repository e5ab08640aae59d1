"""Synthetic EEG corpus in the TUSZ v2 layout: real EDF, ``.csv_bi`` and per-channel ``.csv``.

With ``synth.format: bids`` the same recordings are written as a BIDS dataset instead
(:mod:`brain_brr.data.synth_bids`).

The corpus exists so the whole pipeline can run end to end without TUSZ, so it copies
what makes TUSZ awkward rather than what makes it easy:

* layout and names: ``edf/{train,dev,eval}/<patient>/sNNN_<year>/<montage>/<patient>_sNNN_tNNN.edf``,
  patient-disjoint splits, 1-3 sessions per patient and 1-3 recordings per session;
* headers: 250/256/400/512 Hz per session, channel labels ``EEG FP1-REF`` / ``EEG FP1-LE`` in
  TUSZ order, extra channels (EKG, T1/T2, ROC/LOC, PHOTIC, EMG, numbered leads), 1 Hz
  ``IBI``/``BURSTS``/``SUPPR`` status channels in most files, a few files without FZ or PZ;
* signals (microvolts) that an amplitude threshold cannot solve: spatially correlated pink
  background with a waxing and waning posterior alpha rhythm, awake/drowsy states, and
  artifacts as large as or larger than seizures (eye blinks, muscle bursts, drowsy theta runs,
  electrode pops, ECG leak, line noise); seizures of several kinds (focal evolving rhythmic
  discharges that slow down and spread, generalised 3 Hz spike-wave, generalised rhythmic
  activity, tonic-clonic with muscle) whose size ranges from barely above background up.

Everything is drawn from ``seed``: the plan (who, when, which seizures) from one stream and
each recording's signals from its own stream, so the same seed gives byte-identical files.
``difficulty="hard"`` keeps the same recordings and draws fainter, shorter seizures of more
kinds and renders the confounders of :mod:`brain_brr.data.synth_hard`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from brain_brr.atomic import atomic_path
from brain_brr.data.annotations import write_csv_bi
from brain_brr.data.channels import CHANNELS
from brain_brr.data.splits import SPLITS
from brain_brr.errors import InputError

if TYPE_CHECKING:
    from brain_brr.config import SynthConfig

RATES = (250, 256, 400, 512)
RATE_P = (0.45, 0.35, 0.10, 0.10)  # TUSZ is mostly 250/256 Hz; fewer high-rate files keep the corpus small
MONTAGES = ("01_tcp_ar", "02_tcp_le", "03_tcp_ar_a")
MONTAGE_P = (0.55, 0.25, 0.20)
FOCAL_LABELS, FOCAL_P = ("fnsz", "cpsz", "spsz"), (0.55, 0.30, 0.15)
GENERAL_LABELS, GENERAL_P = ("gnsz", "absz", "tcsz"), (0.50, 0.30, 0.20)
MIN_SEIZURE_S, MAX_SEIZURE_S = 10.0, 180.0
SEIZURE_MEDIAN_S, SEIZURE_SIGMA = 32.0, 0.75  # log-normal: most seizures short, a tail up to 3 min
SEIZURE_FREE_PATIENTS = 0.10
SEIZURE_FREE_RECORDINGS = 0.28  # with the seizure-free patients: ~35% of recordings have no seizure
MAX_SEIZURE_SHARE = 0.6  # of one recording; more when the target fraction is high (see plan_corpus)
MIN_RECORDING_S = 60

# Electrodes rendered: the 19 of channels.CHANNELS plus the ear references (A1, A2).
ELECTRODES: tuple[str, ...] = CHANNELS + ("A1", "A2")
_POS = {
    "FP1": (-0.3, 0.95), "FP2": (0.3, 0.95), "F7": (-0.8, 0.55), "F3": (-0.4, 0.5), "FZ": (0.0, 0.45),
    "F4": (0.4, 0.5), "F8": (0.8, 0.55), "T3": (-1.0, 0.0), "C3": (-0.5, 0.0), "CZ": (0.0, 0.0),
    "C4": (0.5, 0.0), "T4": (1.0, 0.0), "T5": (-0.8, -0.55), "P3": (-0.4, -0.5), "PZ": (0.0, -0.45),
    "P4": (0.4, -0.5), "T6": (0.8, -0.55), "O1": (-0.3, -0.95), "O2": (0.3, -0.95),
    "A1": (-1.25, -0.25), "A2": (1.25, -0.25),
}  # fmt: skip
POS = np.array([_POS[e] for e in ELECTRODES])
_E = {e: i for i, e in enumerate(ELECTRODES)}

# TUSZ file order of the referential EEG channels, then the extras real files carry.
FILE_ORDER = (
    "FP1",
    "FP2",
    "F3",
    "F4",
    "C3",
    "C4",
    "P3",
    "P4",
    "O1",
    "O2",
    "F7",
    "F8",
    "T3",
    "T4",
    "T5",
    "T6",
    "A1",
    "A2",
    "FZ",
    "CZ",
    "PZ",
)
TCP_PAIRS: tuple[tuple[str, str], ...] = (
    ("FP1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"), ("FP2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("A1", "T3"), ("T3", "C3"), ("C3", "CZ"), ("CZ", "C4"), ("C4", "T4"), ("T4", "A2"),
    ("FP1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"), ("FP2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
)  # fmt: skip
FOCUS_ELECTRODES = ("F7", "T3", "T5", "F8", "T4", "T6", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "FP1", "FP2")
INVOLVED_GAIN = 0.3  # an electrode whose seizure field gain reaches this is annotated as involved
FOCAL_KINDS = ("focal", "lvfa", "confined")  # seizures with a field centre that spreads (or not) from a focus


def tcp_channels(montage: str) -> list[tuple[str, str]]:
    """TCP bipolar pairs of a montage; ``03_tcp_ar_a`` has no ear electrodes."""
    if montage == "03_tcp_ar_a":
        return [p for p in TCP_PAIRS if "A1" not in p and "A2" not in p]
    return list(TCP_PAIRS)


def _weights(pairs: dict[str, float]) -> np.ndarray:
    w = np.zeros(len(ELECTRODES), dtype=np.float32)
    for name, v in pairs.items():
        w[_E[name]] = v
    return w


ALPHA_W = _weights(
    {"O1": 1.0, "O2": 1.0, "P3": 0.7, "P4": 0.7, "PZ": 0.7, "T5": 0.55, "T6": 0.55, "C3": 0.2, "C4": 0.2, "CZ": 0.2}
)
BLINK_W = _weights(
    {"FP1": 1.0, "FP2": 1.0, "F7": 0.35, "F8": 0.35, "F3": 0.3, "F4": 0.3, "FZ": 0.25, "C3": 0.05, "C4": 0.05}
)
ECG_W = _weights({"A1": 1.0, "A2": 1.0, "T3": 0.5, "T4": 0.5, "T5": 0.5, "T6": 0.5, "O1": 0.2, "O2": 0.2})
MUSCLE_SIDES = (("F7", "T3", "T5", "A1", "FP1"), ("F8", "T4", "T6", "A2", "FP2"))


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

    def electrode_onsets(self) -> dict[str, float]:
        """Seconds after onset at which each involved electrode joins (focal); every electrode at 0 otherwise."""
        if self.kind not in FOCAL_KINDS:
            return dict.fromkeys(ELECTRODES, 0.0)
        d = np.hypot(*(POS - np.array(self.centre)).T)
        need = d / np.sqrt(2 * np.log(1 / INVOLVED_GAIN))  # radius at which gain reaches INVOLVED_GAIN
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


@dataclass(frozen=True)
class Traits:
    """Per-patient signal character, so patients differ the way real ones do."""

    bg_rms: float  # background RMS in microvolts
    slope: float  # 1/f^slope power spectrum
    alpha_hz: float
    alpha_gain: float  # alpha amplitude / background RMS
    artifact_rate: float  # multiplies every artifact rate
    drowsiness: float  # share of time drowsy
    ekg_uv: float
    ecg_leak: float


@dataclass(frozen=True)
class Recording:
    index: int
    seed: int
    split: str
    patient: str
    session: str
    montage: str
    token: str
    duration: int  # seconds (EDF data records are 1 s)
    fs: int
    start: dt.datetime
    traits: Traits
    gain: float  # this recording's background scale
    status_channels: bool
    extras: tuple[str, ...]
    missing: str | None  # FZ or PZ absent from the file
    with_bckg: bool  # .csv_bi with bckg rows
    seizures: tuple[Seizure, ...] = ()
    difficulty: str = "standard"  # standard | hard (synth_hard.py: more seizure kinds and confounders)

    @property
    def stem(self) -> str:
        return f"{self.patient}_{self.session.split('_')[0]}_{self.token}"  # s001_2003 -> s001

    @property
    def rel_path(self) -> Path:
        return Path("edf", self.split, self.patient, self.session, self.montage, self.stem + ".edf")


@dataclass
class Rendered:
    """Referential EEG of one recording plus what went into it (for tests and the extras)."""

    eeg: np.ndarray  # (len(ELECTRODES), n) float32, microvolts
    ecg: np.ndarray  # (n,) EKG channel
    eog: np.ndarray  # (n,) eye source
    artifacts: list[tuple[float, float, str]] = field(default_factory=list)


# --------------------------------------------------------------------------- planning


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Scale-free draw: as many values in 1-2 as in 2-4."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def patient_ids(rng: np.random.Generator, n: int) -> list[str]:
    """TUSZ-like ids: 8 lowercase letters, base-26 numbers such as ``aaaaaaac``."""
    nums = np.sort(rng.choice(26**4, size=n, replace=False))
    ids = []
    for v in nums:
        s = ""
        for _ in range(8):
            v, r = divmod(int(v), 26)
            s = chr(97 + r) + s
        ids.append(s)
    return ids


def assign_splits(rng: np.random.Generator, n: int, has_seizures: list[bool]) -> list[str]:
    """~60/20/20 of patients, every split with at least one seizure patient."""
    n_dev = n_eval = max(1, n // 5)
    slots = ["dev"] * n_dev + ["eval"] * n_eval + ["train"] * (n - n_dev - n_eval)
    sz = [i for i in range(n) if has_seizures[i]]
    rng.shuffle(sz)
    out: list[str | None] = [None] * n
    for split, i in zip(SPLITS, sz):  # one seizure patient per split first
        out[i] = split
        slots.remove(split)
    rest = [i for i in range(n) if out[i] is None]
    rng.shuffle(slots)
    for i, split in zip(rest, slots):
        out[i] = split
    return [str(s) for s in out]


def _traits(rng: np.random.Generator) -> Traits:
    return Traits(
        bg_rms=float(rng.uniform(12, 32)),
        slope=float(rng.uniform(1.4, 2.1)),
        alpha_hz=float(rng.uniform(8.5, 11.5)),
        alpha_gain=float(rng.uniform(0.6, 1.8)),
        artifact_rate=log_uniform(rng, 0.5, 2.0),
        drowsiness=float(rng.uniform(0.1, 0.5)),
        ekg_uv=float(rng.uniform(300, 1200)),
        ecg_leak=float(rng.uniform(0.005, 0.03)),
    )


def _durations(rng: np.random.Generator, total: int, n: int) -> list[int]:
    """Split ``total`` seconds into ``n`` recordings of at least ``MIN_RECORDING_S`` (when possible)."""
    floor = min(MIN_RECORDING_S, total // n)
    p = rng.dirichlet(np.full(n, 2.0))
    d = [floor + int(x) for x in p * (total - n * floor)]
    d[-1] += total - sum(d)
    return d


def _extras(rng: np.random.Generator, montage: str) -> tuple[str, ...]:
    sfx = "LE" if montage == "02_tcp_le" else "REF"
    ex = []
    if rng.random() < 0.4:
        ex += [f"EEG ROC-{sfx}", f"EEG LOC-{sfx}"]
    if rng.random() < 0.8:
        ex.append(f"EEG EKG-{sfx}" if sfx == "LE" else "EEG EKG1-REF")
    if rng.random() < 0.15:
        ex.append(f"EMG-{sfx}")
    if rng.random() < 0.3:
        ex += [f"EEG {k}-{sfx}" for k in range(26, 26 + int(rng.integers(1, 5)))]
    if rng.random() < 0.6:
        ex += [f"EEG SP1-{sfx}", f"EEG SP2-{sfx}"] if sfx == "LE" else ["EEG T1-REF", "EEG T2-REF"]
    if rng.random() < 0.7:
        ex.append("PHOTIC PH" if sfx == "LE" else "PHOTIC-REF")
    return tuple(ex)


def _seizure(rng: np.random.Generator, onset: float, duration: float, profile: str, foci: list[str]) -> Seizure:
    if profile == "focal" and rng.random() < 0.92:
        label = str(rng.choice(FOCAL_LABELS, p=FOCAL_P))
        kind = "focal"
        centre = np.array(_POS[str(rng.choice(foci))]) + rng.normal(0, 0.06, 2)
        r0 = float(rng.uniform(0.28, 0.4))
        r1 = r0 * float(rng.uniform(1.0, 1.3) if label == "spsz" else rng.uniform(1.3, 2.3))
        snr = log_uniform(rng, 0.8, 3.0 if label == "spsz" else 5.0)
        f0, f1 = float(rng.uniform(4.5, 8.0)), float(rng.uniform(2.0, 4.0))
    else:
        label = "tcsz" if profile == "focal" else str(rng.choice(GENERAL_LABELS, p=GENERAL_P))
        kind = {"gnsz": "generalized", "absz": "absence", "tcsz": "tonic_clonic"}[label]
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


STANDARD = Regime(MIN_SEIZURE_S, MAX_SEIZURE_S, SEIZURE_MEDIAN_S, SEIZURE_SIGMA, _seizure)


def regime(difficulty: str) -> Regime:
    if difficulty == "standard":
        return STANDARD
    if difficulty == "hard":
        from brain_brr.data.synth_hard import HARD

        return HARD
    raise ValueError(f"synth.difficulty={difficulty!r}: allowed: standard, hard")


def _gap(rec_s: int) -> float:
    """Seconds kept between two seizures of one recording, so they stay separate events."""
    return min(30.0, rec_s / 10)


def _place(rng: np.random.Generator, duration: int, lengths: list[float]) -> list[float]:
    """Random non-overlapping onsets for seizures of ``lengths`` in a recording, in the given order."""
    margin, gap = 2.0, _gap(duration)
    free = duration - 2 * margin - sum(lengths) - gap * (len(lengths) - 1)
    cuts = rng.dirichlet(np.ones(len(lengths) + 1)) * max(free, 0.0)
    onsets, t = [], margin
    for length, c in zip(lengths, cuts):
        t += c
        onsets.append(t)
        t += length + gap
    return onsets


def _draw_seizures(
    rng,
    rec_s: int,
    budget: float,
    have: list[Seizure],
    force: bool,
    profile: str,
    foci: list[str],
    share: float,
    reg: Regime = STANDARD,
) -> list[Seizure]:
    """More seizures (onset not yet placed) for one recording that already holds ``have``.

    Log-normal durations are drawn while at least half of one is still in ``budget`` (so over-
    and undershoot balance out; the caller carries the difference forward) and while the
    recording has room: seizures take at most ``share`` of it, with gaps between.
    """
    capacity = share * rec_s - 4.0
    new: list[Seizure] = []
    while True:
        used = sum(s.duration for s in have + new)
        d = float(np.clip(rng.lognormal(np.log(reg.median_s), reg.sigma), reg.min_s, reg.max_s))
        d = min(d, capacity - used - _gap(rec_s) * len(have + new))
        spent = sum(s.duration for s in new)
        if force and not new:  # the one seizure a tiny split must have: no longer than its budget needs
            d = min(d, max(reg.min_s, budget))
        if d < reg.min_s or (budget - spent < d / 2 and not (force and not new)):
            return new
        new.append(reg.draw(rng, 0.0, d, profile, foci))  # absences come out shorter than d


def plan_corpus(
    patients: int, minutes: float, seed: int, seizure_fraction: float, difficulty: str = "standard"
) -> list[Recording]:
    """Every recording of the corpus with its seizures; cheap and deterministic in ``seed``.

    The arguments are those of :class:`brain_brr.config.SynthConfig`, validated there. Both
    difficulties draw the same patients, sessions and recordings for one seed; ``hard`` draws
    other seizures (:mod:`brain_brr.data.synth_hard`) and its recordings render confounders.
    """
    reg = regime(difficulty)
    rng = np.random.default_rng(seed)
    ids = patient_ids(rng, patients)
    n_free = min(int(round(SEIZURE_FREE_PATIENTS * patients)), patients - 3)
    has_sz = [True] * (patients - n_free) + [False] * n_free
    rng.shuffle(has_sz)
    splits = assign_splits(rng, patients, has_sz)
    total_s = int(round(minutes * 60))
    share = min(0.9, max(MAX_SEIZURE_SHARE, 2.5 * seizure_fraction))  # a third of recordings hold none

    recs: list[dict] = []
    for p, pid in enumerate(ids):
        traits = _traits(rng)
        profile = "focal" if rng.random() < 0.7 else "generalized"
        foci = [str(f) for f in rng.choice(FOCUS_ELECTRODES, size=int(rng.integers(1, 3)), replace=False)]
        n_sess = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
        tokens = [int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2])) for _ in range(n_sess)]
        while sum(tokens) > max(1, total_s // MIN_RECORDING_S):  # short corpora: fewer, longer recordings
            tokens[int(np.argmax(tokens))] -= 1
            tokens = [t for t in tokens if t > 0]
        durations = iter(_durations(rng, total_s, sum(tokens)))
        year = int(rng.integers(2002, 2016))
        for s, n_tok in enumerate(tokens, 1):
            year += int(rng.integers(0, 2))
            montage = str(rng.choice(MONTAGES, p=MONTAGE_P))
            fs = int(rng.choice(RATES, p=RATE_P))
            status = bool(rng.random() < 0.9)
            extras = _extras(rng, montage)
            missing = str(rng.choice(["FZ", "PZ"])) if rng.random() < 0.04 else None
            t0 = dt.datetime(year, 1, 1) + dt.timedelta(
                days=int(rng.integers(0, 365)), seconds=int(rng.integers(7 * 3600, 18 * 3600))
            )
            for t in range(n_tok):
                dur = next(durations)
                recs.append({
                    "split": splits[p], "patient": pid, "session": f"s{s:03d}_{year}", "montage": montage,
                    "token": f"t{t:03d}", "duration": dur, "fs": fs, "start": t0, "traits": traits,
                    "gain": float(rng.uniform(0.8, 1.25)), "status_channels": status, "extras": extras,
                    "missing": missing, "seizure_ok": has_sz[p] and rng.random() >= SEIZURE_FREE_RECORDINGS,
                    "profile": profile, "foci": foci,
                })  # fmt: skip
                t0 += dt.timedelta(seconds=dur + int(rng.integers(5, 300)))
        if has_sz[p] and not any(r["seizure_ok"] for r in recs if r["patient"] == pid):
            max((r for r in recs if r["patient"] == pid), key=lambda r: r["duration"])["seizure_ok"] = True

    # Seizure time per split: a cumulative target over the split's seizure-bearing recordings,
    # then a second pass that spends what capacity limits left over.
    for split in SPLITS:
        in_split = [r for r in recs if r["split"] == split]
        hosts = [r for r in in_split if r["seizure_ok"]]
        target = seizure_fraction * sum(r["duration"] for r in in_split)
        host_total = sum(r["duration"] for r in hosts)
        done, cum = 0.0, 0
        for r in hosts:
            r["seizures"] = []
        for rnd in range(2):
            for i, r in enumerate(hosts):
                cum += r["duration"] if rnd == 0 else 0
                budget = (target * cum / host_total if rnd == 0 else target) - done
                force = rnd == 0 and i == len(hosts) - 1 and done == 0.0  # every split gets at least one seizure
                new = _draw_seizures(
                    rng, r["duration"], budget, r["seizures"], force, r["profile"], r["foci"], share, reg
                )
                r["seizures"] += new
                done += sum(s.duration for s in new)
        for r in hosts:
            onsets = _place(rng, r["duration"], [s.duration for s in r["seizures"]])
            r["seizures"] = tuple(replace(s, onset=round(o, 4)) for s, o in zip(r["seizures"], onsets))

    out = []
    for i, r in enumerate(recs):
        for k in ("seizure_ok", "profile", "foci"):
            r.pop(k)
        out.append(Recording(index=i, seed=seed, with_bckg=i % 2 == 0, difficulty=difficulty, **r))
    return out


# --------------------------------------------------------------------------- signals


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


def _volume_conduction() -> np.ndarray:
    """Neighbouring electrodes see overlapping sources: Gaussian spatial mixing, unit row norm."""
    d2 = ((POS[:, None, :] - POS[None, :, :]) ** 2).sum(-1)
    m = np.exp(-d2 / (2 * 0.3**2))
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.complex64)


_MIX = _volume_conduction()


def _narrowband(rng: np.random.Generator, n: int, fs: int, centre: float, width: float) -> np.ndarray:
    """Unit-RMS noise concentrated around ``centre`` Hz: a rhythm that waxes and wanes by itself."""
    import scipy.fft

    m = scipy.fft.next_fast_len(n, real=True)
    f = np.fft.rfftfreq(m, 1.0 / fs)
    k = int(np.searchsorted(f, centre + 4 * width))
    w = np.exp(-0.5 * ((f[:k] - centre) / width) ** 2)
    z = rng.standard_normal(2 * k).view(np.complex128) * w
    x = scipy.fft.irfft(z, n=m)[:n]
    return (x / (x.std() + 1e-12)).astype(np.float32)


def _per_second_to_samples(values: np.ndarray, fs: int, n: int) -> np.ndarray:
    t = (np.arange(values.size) + 0.5) * fs
    return np.interp(np.arange(n), t, values).astype(np.float32)


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


def _event_times(rng: np.random.Generator, per_min: np.ndarray) -> np.ndarray:
    """Poisson event times (s) for a per-second rate given in events per minute."""
    counts = rng.poisson(per_min / 60.0)
    return np.repeat(np.arange(per_min.size), counts) + rng.random(int(counts.sum()))


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


def _tukey(length: int, frac: float = 0.3) -> np.ndarray:
    import scipy.signal

    return scipy.signal.windows.tukey(length, frac).astype(np.float32)


def _add_artifacts(
    rng: np.random.Generator, x: np.ndarray, eog: np.ndarray, rec: Recording, drowsy: np.ndarray, bg: float
) -> list:
    """Blinks, muscle, drowsy theta runs and electrode pops, added in place; returns their intervals."""
    fs, n, tr = rec.fs, x.shape[1], rec.traits
    arts: list[tuple[float, float, str]] = []
    rate = tr.artifact_rate

    for t in _event_times(rng, np.where(drowsy, 1.0, 10.0) * rate):  # blinks: large slow frontal bumps
        sigma = rng.uniform(0.07, 0.12)
        amp = log_uniform(rng, 50, 250)
        a, b = int((t - 4 * sigma) * fs), int((t + 4 * sigma) * fs)
        if a < 0 or b > n:
            continue
        tt = np.arange(a, b) / fs
        eog[a:b] += amp * np.exp(-0.5 * ((tt - t) / sigma) ** 2)
        arts.append((a / fs, b / fs, "blink"))

    for t in _event_times(rng, np.where(drowsy, 0.3, 1.5) * rate):  # muscle: broadband, temporal
        dur = float(np.clip(rng.lognormal(np.log(1.5), 0.7), 0.3, 8.0))
        a, b = int(t * fs), min(n, int((t + dur) * fs))
        if b - a < 8:
            continue
        side = int(rng.integers(0, 3))
        chans = [_E[e] for s in ((0, 1) if side == 2 else (side,)) for e in MUSCLE_SIDES[s]]
        amp = log_uniform(rng, 8, 80)
        noise = np.diff(rng.standard_normal((len(chans), b - a + 1), dtype=np.float32), axis=1) / np.sqrt(2)
        x[chans, a:b] += amp * rng.uniform(0.5, 1.0, (len(chans), 1)).astype(np.float32) * noise * _tukey(b - a)
        arts.append((a / fs, b / fs, "muscle"))

    for t in _event_times(rng, np.where(drowsy, 3.0, 0.1) * rate):  # drowsy theta runs: rhythmic, generalised
        dur = rng.uniform(1.5, 6.0)
        a, b = int(t * fs), min(n, int((t + dur) * fs))
        if b - a < 8:
            continue
        gain = 0.4 + 0.6 * np.exp(-((POS - [0.0, 0.2]) ** 2).sum(1) / (2 * 0.5**2))
        lag = rng.uniform(0, 0.4, len(ELECTRODES))
        phase = 2 * np.pi * rng.uniform(4.0, 7.0) * np.arange(b - a) / fs
        wave = np.sin(phase[None, :] + lag[:, None]) * np.hanning(b - a)[None, :]
        x[:, a:b] += (bg * log_uniform(rng, 0.8, 3.5) * gain[:, None] * wave).astype(np.float32)
        arts.append((a / fs, b / fs, "theta"))

    for t in _event_times(rng, np.full(drowsy.size, 0.3 * rate)):  # electrode pops: one channel
        e = int(rng.integers(0, len(ELECTRODES)))
        tau = rng.uniform(0.1, 0.6)
        amp = log_uniform(rng, 80, 700) * rng.choice([-1, 1])
        for k in range(int(rng.integers(1, 4))):
            a = int((t + 0.7 * k) * fs)
            b = min(n, a + int(5 * tau * fs))
            if b - a < 8:
                continue
            tt = np.arange(b - a) / fs
            x[e, a:b] += (amp * (1 - np.exp(-tt / 0.005)) * np.exp(-tt / tau)).astype(np.float32)
            arts.append((a / fs, min(b, a + int(3 * tau * fs)) / fs, "pop"))
    return arts


def _spike_wave(phase: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """Spike (25 ms) followed by a slow wave, once per cycle of ``phase``."""
    u = (phase / (2 * np.pi)) % 1.0
    spike = -1.6 * np.exp(-0.5 * ((u - 0.08) / (0.025 * freq)) ** 2)
    wave = 0.9 * np.sin(2 * np.pi * (u - 0.3)) * (u > 0.3)
    return spike + wave


def seizure_wave(rng: np.random.Generator, sz: Seizure, fs: int, bg: float) -> np.ndarray:
    """(len(ELECTRODES), L) microvolts of one seizure, to add to the background."""
    L = int(round(sz.duration * fs))
    t = np.arange(L) / fs
    frac = t / sz.duration
    freq = sz.f0 * (sz.f1 / sz.f0) ** frac  # discharges slow down as the seizure evolves
    phase = 2 * np.pi * np.cumsum(freq) / fs
    d = np.hypot(*(POS - np.array(sz.centre)).T)
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
    x *= _per_second_to_samples(np.interp(np.arange(secs), 20 * np.arange(knots.size), knots) + 0.1 * drowsy, fs, n)

    # posterior alpha: slow random waxing and waning while awake, nearly gone when drowsy
    wax = np.abs(np.convolve(rng.standard_normal(secs + 10), np.hanning(10), "same")[:secs])
    env = np.where(drowsy, 0.1, 0.25 + wax / (wax.max() + 1e-9))
    alpha = _narrowband(rng, n, fs, tr.alpha_hz, 0.4) * _per_second_to_samples(env, fs, n)
    _add_field(x, ALPHA_W * (bg * tr.alpha_gain), alpha)

    ecg = _ecg(rng, n, fs, tr.ekg_uv)
    _add_field(x, ECG_W * tr.ecg_leak, ecg)
    if rng.random() < 0.4:  # mains interference
        mains = np.sin(2 * np.pi * 60.0 * np.arange(n) / fs).astype(np.float32)
        x += np.outer(rng.uniform(0.5, 4.0, len(ELECTRODES)).astype(np.float32), mains)

    eog = np.zeros(n, dtype=np.float32)
    artifacts = _add_artifacts(rng, x, eog, rec, drowsy, bg)
    if rec.difficulty == "hard":  # the confounders never depend on the seizures: labels stay exact
        from brain_brr.data import synth_hard

        artifacts += synth_hard.add_confounders(rng, x, eog, rec, drowsy, bg)
    _add_field(x, BLINK_W, eog)

    for sz in rec.seizures:
        a = int(round(sz.onset * fs))
        if rec.difficulty == "hard":
            synth_hard.add_seizure(rng, x, sz, a, fs, bg)
            continue
        wave = seizure_wave(rng, sz, fs, bg)
        x[:, a : a + wave.shape[1]] += wave[:, : n - a]
    if rec.difficulty == "hard":  # after each seizure, outside its label
        artifacts += synth_hard.add_postictal(rng, x, rec, bg)
    return Rendered(eeg=x, ecg=ecg, eog=eog, artifacts=artifacts)


# --------------------------------------------------------------------------- files


def edf_channels(rec: Recording, r: Rendered) -> tuple[list[np.ndarray], list[str], list[float]]:
    """Signals, labels and rates of the EDF, in TUSZ order."""
    sfx = "LE" if rec.montage == "02_tcp_le" else "REF"
    x, fs = r.eeg, rec.fs
    sigs, labels = [], []
    for e in FILE_ORDER:
        if e == rec.missing or (e in ("A1", "A2") and rec.montage == "03_tcp_ar_a"):
            continue
        sigs.append(x[_E[e]])
        labels.append(f"EEG {e}-{sfx}")
    rng = np.random.default_rng([rec.seed, rec.index, 1])
    for lab in rec.extras:
        if "ROC" in lab or "LOC" in lab:
            sigs.append((0.8 if "ROC" in lab else -0.8) * r.eog + 0.3 * x[_E["FP2" if "ROC" in lab else "FP1"]])
        elif "EKG" in lab:
            sigs.append(r.ecg)
        elif lab.startswith("EMG"):
            sigs.append(5.0 * rng.standard_normal(x.shape[1], dtype=np.float32))
        elif any(s in lab for s in ("T1", "SP1")):
            sigs.append(0.5 * (x[_E["F7"]] + x[_E["T3"]]))
        elif any(s in lab for s in ("T2", "SP2")):
            sigs.append(0.5 * (x[_E["F8"]] + x[_E["T4"]]))
        elif lab.startswith("PHOTIC"):
            sigs.append(np.zeros(x.shape[1], dtype=np.float32))
        else:  # numbered leads: an unused input picking up a neighbour
            sigs.append(0.4 * x[int(rng.integers(0, len(ELECTRODES)))])
        labels.append(lab)
    rates = [float(fs)] * len(sigs)
    if rec.status_channels:
        for lab in ("IBI", "BURSTS", "SUPPR"):
            sigs.append(np.zeros(rec.duration, dtype=np.float32))
            labels.append(lab)
            rates.append(1.0)
    return sigs, labels, rates


def write_channel_csv(path: Path, rec: Recording) -> None:
    """Per-channel ``.csv``: each TCP channel tiled with ``bckg`` and its seizure rows."""
    rows = []
    per_channel: dict[str, list[tuple[float, float, str]]] = {f"{a}-{b}": [] for a, b in tcp_channels(rec.montage)}
    for sz in rec.seizures:
        for ch, start in sz.channel_onsets(rec.montage).items():
            per_channel[ch].append((start, sz.stop, sz.label))
    for ch, events in per_channel.items():
        t = 0.0
        for s, e, lab in sorted(events):
            if s > t:
                rows.append(f"{ch},{t:.4f},{s:.4f},bckg,1.0000")
            rows.append(f"{ch},{s:.4f},{e:.4f},{lab},1.0000")
            t = e
        if rec.duration > t:
            rows.append(f"{ch},{t:.4f},{rec.duration:.4f},bckg,1.0000")
    lines = [
        "# version = csv_v1.0.0",
        f"# bname = {rec.stem}",
        f"# duration = {rec.duration:.4f} secs",
        f"# montage_file = $NEDC_NFC/lib/{rec.montage}_montage.txt",
        "#",
        "channel,start_time,stop_time,label,confidence",
        *rows,
    ]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def write_corpus_recording(root: Path, rec: Recording) -> None:
    from brain_brr.data.edfwrite import write_edf

    path = root / rec.rel_path
    sigs, labels, rates = edf_channels(rec, render(rec))
    write_edf(path, sigs, labels, rates, start=rec.start, patient_code=rec.patient)
    write_csv_bi(
        path.with_suffix(".csv_bi"),
        [(s.onset, s.stop) for s in rec.seizures],
        rec.duration,
        with_bckg=rec.with_bckg,
        montage_file=f"$NEDC_NFC/lib/{rec.montage}_montage.txt",
    )
    write_channel_csv(path.with_suffix(".csv"), rec)


def corpus_summary(recs: list[Recording]) -> dict:
    out = {}
    for split in SPLITS:
        rs = [r for r in recs if r.split == split]
        total = sum(r.duration for r in rs)
        sz = sum(s.duration for r in rs for s in r.seizures)
        out[split] = {
            "patients": len({r.patient for r in rs}),
            "recordings": len(rs),
            "seizure_free_recordings": sum(not r.seizures for r in rs),
            "hours": round(total / 3600, 4),
            "seizure_events": sum(len(r.seizures) for r in rs),
            "seizure_s": round(sz, 4),
            "seizure_fraction": round(sz / total, 5) if total else 0.0,
        }
    return out


def _prepare(out: Path) -> None:
    """Refuse to mix the corpus into a folder synth did not write; clear an earlier corpus."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder; choose a folder path for the corpus")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "SYNTH_INFO.json").is_file():
            raise InputError(
                f"{out}: folder is not empty and holds no SYNTH_INFO.json (not a synth corpus); choose an empty or "
                "new folder"
            )
        shutil.rmtree(out / "edf", ignore_errors=True)
        from brain_brr.data.synth_bids import clear

        clear(out)  # a corpus written in the other format must not linger beside the new one


def run_synth(out: Path, cfg: SynthConfig) -> dict:
    """Write the corpus to ``out``; returns the contents of ``SYNTH_INFO.json``."""
    from brain_brr.atomic import write_json_atomic
    from brain_brr.progress import progress

    out = Path(out)
    recs = plan_corpus(cfg.patients, cfg.minutes, cfg.seed, cfg.seizure_fraction, cfg.difficulty)
    _prepare(out)
    settings = cfg.model_dump()
    write_json_atomic(out / "SYNTH_INFO.json", {"settings": settings, "complete": False})
    if cfg.format == "bids":
        from brain_brr.data.synth_bids import BidsNames, write_bids_recording, write_dataset_files

        names = BidsNames(recs)
        write_dataset_files(out, names)
        for rec in progress(recs, desc="synth (BIDS)", unit="rec"):
            write_bids_recording(out, rec, names)
    else:
        for rec in progress(recs, desc="synth", unit="rec"):
            write_corpus_recording(out, rec)

    splits = corpus_summary(recs)
    total_s = sum(r.duration for r in recs)
    sz_s = sum(s.duration for r in recs for s in r.seizures)
    info = {
        "settings": settings,
        "complete": True,
        "splits": splits,
        "total": {
            "recordings": len(recs),
            "hours": round(total_s / 3600, 4),
            "seizure_fraction": round(sz_s / total_s, 5),
        },
        "labels": dict(sorted(Counter(s.label for r in recs for s in r.seizures).items())),
        "seizure_kinds": dict(sorted(Counter(s.kind for r in recs for s in r.seizures).items())),
        "sampling_rates": {str(k): v for k, v in sorted(Counter(r.fs for r in recs).items())},
        "montages": dict(sorted(Counter(r.montage for r in recs).items())),
    }
    write_json_atomic(out / "SYNTH_INFO.json", info)
    parts = [
        f"{s}: {v['recordings']} rec, {v['hours']:.2f} h, {v['seizure_events']} seizures, "
        f"{100 * v['seizure_fraction']:.2f}%"
        for s, v in splits.items()
    ]
    print(
        f"[SYNTH] {out} ({cfg.format}): {len(recs)} recordings, {total_s / 3600:.2f} h | " + " | ".join(parts),
        flush=True,
    )
    return info
