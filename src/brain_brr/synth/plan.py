"""The corpus plan: who is recorded, when, at which rate and montage, and which seizures each recording holds.

Cheap and deterministic in the seed: one random stream draws the whole plan (the signals are
rendered later, each recording from its own stream). Both difficulties draw the same patients,
sessions and recordings for one seed; only the seizures differ.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from brain_brr.data.splits import SPLITS
from brain_brr.synth.scalp import FOCUS_ELECTRODES
from brain_brr.synth.seizures import STANDARD, Regime, Seizure, regime
from brain_brr.synth.signals import log_uniform

RATES = (250, 256, 400, 512)
RATE_P = (0.45, 0.35, 0.10, 0.10)  # TUSZ is mostly 250/256 Hz; fewer high-rate files keep the corpus small
MONTAGES = ("01_tcp_ar", "02_tcp_le", "03_tcp_ar_a")
MONTAGE_P = (0.55, 0.25, 0.20)
SEIZURE_FREE_PATIENTS = 0.10
SEIZURE_FREE_RECORDINGS = 0.28  # with the seizure-free patients: ~35% of recordings have no seizure
MAX_SEIZURE_SHARE = 0.6  # of one recording; more when the target fraction is high (see plan_corpus)
MIN_RECORDING_S = 60


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
    difficulty: str = "standard"  # standard | hard (more seizure kinds, and the confounders)

    @property
    def stem(self) -> str:
        return f"{self.patient}_{self.session.split('_')[0]}_{self.token}"  # s001_2003 -> s001

    @property
    def rel_path(self) -> Path:
        return Path("edf", self.split, self.patient, self.session, self.montage, self.stem + ".edf")


@dataclass
class _Draft:
    """A recording while the plan is drawn: its header, and what decides its seizures."""

    split: str
    patient: str
    session: str
    montage: str
    token: str
    duration: int
    fs: int
    start: dt.datetime
    traits: Traits
    gain: float
    status_channels: bool
    extras: tuple[str, ...]
    missing: str | None
    seizure_ok: bool  # may hold seizures
    profile: str  # the patient's seizures: focal | generalized
    foci: list[str]
    seizures: list[Seizure] = field(default_factory=list)

    def recording(self, index: int, seed: int, difficulty: str) -> Recording:
        return Recording(
            index=index, seed=seed, split=self.split, patient=self.patient, session=self.session,
            montage=self.montage, token=self.token, duration=self.duration, fs=self.fs, start=self.start,
            traits=self.traits, gain=self.gain, status_channels=self.status_channels, extras=self.extras,
            missing=self.missing, with_bckg=index % 2 == 0, seizures=tuple(self.seizures), difficulty=difficulty,
        )  # fmt: skip


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


def _patient_drafts(rng: np.random.Generator, pid: str, split: str, has_sz: bool, total_s: int) -> list[_Draft]:
    """Every recording of one patient: 1-3 sessions of 1-3 recordings, ``total_s`` seconds in all."""
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
    out: list[_Draft] = []
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
            out.append(_Draft(
                split=split, patient=pid, session=f"s{s:03d}_{year}", montage=montage, token=f"t{t:03d}",
                duration=dur, fs=fs, start=t0, traits=traits, gain=float(rng.uniform(0.8, 1.25)),
                status_channels=status, extras=extras, missing=missing,
                seizure_ok=has_sz and rng.random() >= SEIZURE_FREE_RECORDINGS, profile=profile, foci=foci,
            ))  # fmt: skip
            t0 += dt.timedelta(seconds=dur + int(rng.integers(5, 300)))
    if has_sz and not any(d.seizure_ok for d in out):
        max(out, key=lambda d: d.duration).seizure_ok = True
    return out


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


def _split_seizures(
    rng: np.random.Generator, in_split: list[_Draft], fraction: float, share: float, reg: Regime
) -> None:
    """Seizures of one split's recordings, about ``fraction`` of its time, placed in each recording.

    A cumulative target over the split's seizure-bearing recordings, then a second pass that
    spends what capacity limits left over.
    """
    hosts = [d for d in in_split if d.seizure_ok]
    target = fraction * sum(d.duration for d in in_split)
    host_total = sum(d.duration for d in hosts)
    done, cum = 0.0, 0
    for rnd in range(2):
        for i, d in enumerate(hosts):
            cum += d.duration if rnd == 0 else 0
            budget = (target * cum / host_total if rnd == 0 else target) - done
            force = rnd == 0 and i == len(hosts) - 1 and done == 0.0  # every split gets at least one seizure
            new = _draw_seizures(rng, d.duration, budget, d.seizures, force, d.profile, d.foci, share, reg)
            d.seizures += new
            done += sum(s.duration for s in new)
    for d in hosts:
        onsets = _place(rng, d.duration, [s.duration for s in d.seizures])
        d.seizures = [replace(s, onset=round(o, 4)) for s, o in zip(d.seizures, onsets)]


def plan_corpus(
    patients: int, minutes: float, seed: int, seizure_fraction: float, difficulty: str = "standard"
) -> list[Recording]:
    """Every recording of the corpus with its seizures; cheap and deterministic in ``seed``.

    The arguments are those of :class:`brain_brr.config.SynthConfig`, validated there. Both
    difficulties draw the same patients, sessions and recordings for one seed; ``hard`` draws
    other seizures (:data:`brain_brr.synth.seizures.HARD`) and its recordings render confounders.
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

    drafts: list[_Draft] = []
    for pid, split, sz in zip(ids, splits, has_sz):
        drafts += _patient_drafts(rng, pid, split, sz, total_s)
    for split in SPLITS:
        _split_seizures(rng, [d for d in drafts if d.split == split], seizure_fraction, share, reg)
    return [d.recording(i, seed, difficulty) for i, d in enumerate(drafts)]


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
