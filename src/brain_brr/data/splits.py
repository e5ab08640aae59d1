"""The three TUSZ splits and the patient-leakage check every data stage shares."""

from __future__ import annotations

SPLITS: tuple[str, ...] = ("train", "dev", "eval")


def leaking_patients(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Patients found in more than one split: ``{patient: [splits]}`` from ``(patient, split)`` pairs."""
    splits: dict[str, set[str]] = {}
    for patient, split in pairs:
        splits.setdefault(patient, set()).add(split)
    return {p: sorted(s, key=SPLITS.index) for p, s in sorted(splits.items()) if len(s) > 1}


def leakage_reason(leaks: dict[str, list[str]]) -> str:
    """One line for the ``patient_leakage`` red flag."""
    shown = "; ".join(f"{p} in {'+'.join(s)}" for p, s in list(leaks.items())[:5])
    return f"{len(leaks)} patient(s) in more than one split: {shown}"
