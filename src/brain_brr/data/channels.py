"""The 19 channels of the 10-20 system and the mapping from channel labels.

A label is referential (``EEG FP1-REF``, ``Fp1-Avg``, ``T7``: one electrode against a
reference) or a bipolar pair (``FP1-F7``, ``EEG T3-C3``, CHB-MIT's ``T8-P8-0``: one
electrode against another).
"""

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
_REFERENCES = ("REF", "LE", "AR", "AVG")  # never an electrode; A1, A2 (ears) are, in TCP's 'A1-T3', 'T4-A2'
# Electrode names of the 10-10 and 10-20 systems (FP1, T7, FT9, AF3, A1, ...) and CHB-MIT's '-0'/'-1' repeat marks.
_PAIR = re.compile(r"^([A-Z]{1,3}[0-9]{0,2}|[A-Z]{1,2}Z)-([A-Z]{1,3}[0-9]{0,2}|[A-Z]{1,2}Z)(?:-\d)?$")


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


def bipolar_pair(label: str) -> tuple[str, str] | None:
    """``'EEG FP1-F7'`` -> ``('FP1', 'F7')``; ``'T8-P8-0'`` -> ``('T4', 'T6')``; ``'EEG FP1-REF'`` -> ``None``.

    ``'EEG T4-A2'`` is both a pair and T4 against an ear reference: :func:`map_channels` and
    :func:`map_bipolar` each take it, and the reader uses the reading that covers more channels.

    Electrodes outside the 10-20 set (``FT9``, ``A1``) are kept by name: they link pairs in the
    electrode graph (CHB-MIT's ``T7-FT9``, ``FT9-FT10``, ``FT10-T8`` join the two hemispheres).
    """
    s = label.strip()
    m = _PREFIX.match(s)
    if m and m.group(1).upper() != "EEG":
        return None
    m = _PAIR.match(_PREFIX.sub("", s).strip().upper())
    if m is None or m.group(1) == m.group(2) or m.group(2) in _REFERENCES:
        return None  # 'FP1-REF', 'EMG-REF': a channel against the recording's reference
    a, b = (_ALIASES.get(g, g) for g in m.groups())
    return a, b


def map_bipolar(labels: list[str]) -> tuple[dict[tuple[str, str], int], list[str]]:
    """``{(electrode, electrode): index_in_file}`` for the bipolar pairs among ``labels``, and repeated pairs.

    Empty when no pair names a 10-20 electrode (``LOC-ROC`` alone is no EEG montage).
    """
    found: dict[tuple[str, str], int] = {}
    duplicates: list[str] = []
    for i, lab in enumerate(labels):
        pair = bipolar_pair(lab)
        if pair is None:
            continue
        if pair in found or pair[::-1] in found:
            duplicates.append(lab)
        else:
            found[pair] = i
    if not any(a in CHANNELS or b in CHANNELS for a, b in found):
        return {}, []
    return found, duplicates
