"""The 19 channels of the 10-20 system and the mapping from TUSZ channel labels."""

from __future__ import annotations

import re

CHANNELS: tuple[str, ...] = (
    "FP1", "FP2", "F7", "F3", "FZ", "F4", "F8",
    "T3", "C3", "CZ", "C4", "T4",
    "T5", "P3", "PZ", "P4", "T6",
    "O1", "O2",
)  # fmt: skip
N_CHANNELS = len(CHANNELS)

# Modern names of the temporal electrodes (10-10 system) mapped to the 10-20 names TUSZ uses.
_ALIASES = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}
_PREFIX = re.compile(r"^(EEG|EKG|ECG|EMG|EOG)\s+", re.IGNORECASE)
_SUFFIX = re.compile(r"-(REF|LE|AR|AVG|A1|A2|M1|M2)$", re.IGNORECASE)


def canonical_channel(label: str) -> str | None:
    """``'EEG FP1-REF'`` -> ``'FP1'``; ``'EEG T7-LE'`` -> ``'T3'``; non-10-20 labels -> ``None``.

    Only labels that start with ``EEG`` (or carry no type prefix) can map; ``EMG-REF`` and
    ``EEG EKG1-REF`` do not.
    """
    s = label.strip()
    m = _PREFIX.match(s)
    if m and m.group(1).upper() != "EEG":
        return None
    s = _PREFIX.sub("", s)
    s = _SUFFIX.sub("", s.strip()).strip().upper()
    s = _ALIASES.get(s, s)
    return s if s in CHANNELS else None


def map_channels(labels: list[str]) -> tuple[dict[str, int], list[str]]:
    """Map file channel labels to the standard set.

    Returns ``({standard_name: index_in_file}, duplicates)``: the first occurrence of a
    standard channel wins; later labels mapping to the same channel are listed in
    ``duplicates`` so the caller can report them.
    """
    found: dict[str, int] = {}
    duplicates: list[str] = []
    for i, lab in enumerate(labels):
        name = canonical_channel(lab)
        if name is None:
            continue
        if name in found:
            duplicates.append(lab)
        else:
            found[name] = i
    return found, duplicates
