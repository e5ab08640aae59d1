"""The head the corpus is rendered on: electrodes, their positions, TCP pairs, and the fields of sources.

A field says how strongly one source (alpha, blinks, ECG, muscle, ...) reaches each electrode.
"""

from __future__ import annotations

import numpy as np

from brain_brr.data.channels import CHANNELS

# Electrodes rendered: the 19 of channels.CHANNELS plus the ear references (A1, A2).
ELECTRODES: tuple[str, ...] = CHANNELS + ("A1", "A2")
POSITIONS = {
    "FP1": (-0.3, 0.95), "FP2": (0.3, 0.95), "F7": (-0.8, 0.55), "F3": (-0.4, 0.5), "FZ": (0.0, 0.45),
    "F4": (0.4, 0.5), "F8": (0.8, 0.55), "T3": (-1.0, 0.0), "C3": (-0.5, 0.0), "CZ": (0.0, 0.0),
    "C4": (0.5, 0.0), "T4": (1.0, 0.0), "T5": (-0.8, -0.55), "P3": (-0.4, -0.5), "PZ": (0.0, -0.45),
    "P4": (0.4, -0.5), "T6": (0.8, -0.55), "O1": (-0.3, -0.95), "O2": (0.3, -0.95),
    "A1": (-1.25, -0.25), "A2": (1.25, -0.25),
}  # fmt: skip
POS = np.array([POSITIONS[e] for e in ELECTRODES])  # (len(ELECTRODES), 2) on the scalp plane
INDEX = {e: i for i, e in enumerate(ELECTRODES)}  # row of each electrode

TCP_PAIRS: tuple[tuple[str, str], ...] = (
    ("FP1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"), ("FP2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("A1", "T3"), ("T3", "C3"), ("C3", "CZ"), ("CZ", "C4"), ("C4", "T4"), ("T4", "A2"),
    ("FP1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"), ("FP2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
)  # fmt: skip
FOCUS_ELECTRODES = ("F7", "T3", "T5", "F8", "T4", "T6", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "FP1", "FP2")


def tcp_channels(montage: str) -> list[tuple[str, str]]:
    """TCP bipolar pairs of a montage; ``03_tcp_ar_a`` has no ear electrodes."""
    if montage == "03_tcp_ar_a":
        return [p for p in TCP_PAIRS if "A1" not in p and "A2" not in p]
    return list(TCP_PAIRS)


def field_weights(pairs: dict[str, float]) -> np.ndarray:
    """One weight per electrode (float32), zero where ``pairs`` names none."""
    w = np.zeros(len(ELECTRODES), dtype=np.float32)
    for name, v in pairs.items():
        w[INDEX[name]] = v
    return w


ALPHA_W = field_weights(
    {"O1": 1.0, "O2": 1.0, "P3": 0.7, "P4": 0.7, "PZ": 0.7, "T5": 0.55, "T6": 0.55, "C3": 0.2, "C4": 0.2, "CZ": 0.2}
)
BLINK_W = field_weights(
    {"FP1": 1.0, "FP2": 1.0, "F7": 0.35, "F8": 0.35, "F3": 0.3, "F4": 0.3, "FZ": 0.25, "C3": 0.05, "C4": 0.05}
)
ECG_W = field_weights({"A1": 1.0, "A2": 1.0, "T3": 0.5, "T4": 0.5, "T5": 0.5, "T6": 0.5, "O1": 0.2, "O2": 0.2})
CENTRAL_W = field_weights(
    {"C3": 1.0, "CZ": 1.0, "C4": 1.0, "FZ": 0.7, "F3": 0.7, "F4": 0.7}
    | {"PZ": 0.6, "P3": 0.5, "P4": 0.5, "FP1": 0.2, "FP2": 0.2}
)
FRONTAL_W = field_weights(
    {"FP1": 1.0, "FP2": 1.0, "F3": 0.9, "F4": 0.9, "FZ": 0.9, "F7": 0.7, "F8": 0.7}
    | {"C3": 0.5, "C4": 0.5, "CZ": 0.5, "T3": 0.3, "T4": 0.3}
)
LATERAL_W = field_weights(
    {"F7": 1.0, "F8": -1.0, "FP1": 0.5, "FP2": -0.5, "T3": 0.3, "T4": -0.3, "F3": 0.2, "F4": -0.2}
)
THETA_GAIN = 0.4 + 0.6 * np.exp(-((POS - [0.0, 0.2]) ** 2).sum(1) / (2 * 0.5**2))  # drowsy theta: fronto-central
MUSCLE_SIDES = (("F7", "T3", "T5", "A1", "FP1"), ("F8", "T4", "T6", "A2", "FP2"))
TEMPORAL = [INDEX[e] for side in MUSCLE_SIDES for e in side]


def muscle_channels(side: int) -> list[int]:
    """Rows of the temporal muscle electrodes: ``side`` 0 left, 1 right, 2 both."""
    return [INDEX[e] for s in ((0, 1) if side == 2 else (side,)) for e in MUSCLE_SIDES[s]]
