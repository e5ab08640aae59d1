"""Probability trace -> seizure events, in this order:

1. hysteresis: an event starts at the first step with ``p >= tau_on`` and ends
   at the first later step with ``p < tau_off`` (``tau_off <= tau_on``), so a
   trace hovering around one threshold does not flicker into many events;
2. events separated by a gap shorter than ``merge_gap_s`` are merged;
3. events shorter than ``min_duration_s`` are dropped;
4. events longer than ``max_duration_s`` are *split* into consecutive pieces of
   at most ``max_duration_s`` (the last piece holds the remainder). Splitting,
   not clipping: clipping would delete detected time, while splitting keeps it
   and, like SzCORE's own 5-minute rule, bounds what one event can claim.

Step ``k`` of a trace at ``label_rate`` covers ``[k / label_rate, (k + 1) / label_rate)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from brain_brr.errors import InputError

Interval = tuple[float, float]
THRESHOLD_KEYS = ("tau_on", "tau_off", "min_duration_s", "merge_gap_s", "max_duration_s")


def hysteresis(probs: np.ndarray, tau_on: float, tau_off: float) -> list[tuple[int, int]]:
    """Step ranges ``[start, stop)`` of hysteresis events."""
    if tau_off > tau_on:
        raise ValueError(f"tau_off={tau_off} is above tau_on={tau_on}; allowed: tau_off <= tau_on")
    p = np.asarray(probs, dtype=np.float64)
    events: list[tuple[int, int]] = []
    on = np.flatnonzero(p >= tau_on)
    below = p < tau_off
    k = 0
    while True:
        nxt = on[np.searchsorted(on, k) :]
        if len(nxt) == 0:
            break
        start = int(nxt[0])
        ends = np.flatnonzero(below[start:])
        stop = start + int(ends[0]) if len(ends) else len(p)
        events.append((start, stop))
        k = stop
    return events


def split_long(events: list[Interval], max_duration_s: float) -> list[Interval]:
    out: list[Interval] = []
    for s, e in events:
        while e - s > max_duration_s + 1e-9:
            out.append((s, s + max_duration_s))
            s += max_duration_s
        out.append((s, e))
    return out


def probs_to_events(
    probs: np.ndarray,
    label_rate: float,
    *,
    tau_on: float,
    tau_off: float,
    min_duration_s: float = 0.0,
    merge_gap_s: float = 0.0,
    max_duration_s: float = float("inf"),
) -> list[Interval]:
    """Seizure events ``(start_s, stop_s)`` from a per-step probability trace."""
    raw = [(s / label_rate, e / label_rate) for s, e in hysteresis(probs, tau_on, tau_off)]
    merged: list[list[float]] = []
    for s, e in raw:
        if merged and s - merged[-1][1] < merge_gap_s:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    kept = [(s, e) for s, e in merged if e - s >= min_duration_s - 1e-9]
    return split_long(kept, max_duration_s)


def events_for(
    probs: np.ndarray, label_rate: float, thresholds: dict[str, Any], tau_on: float | None = None
) -> list[Interval]:
    """:func:`probs_to_events` with a thresholds dict (params.eval or a model's ``config.json``).

    With ``tau_on`` given, ``tau_off`` keeps the dict's ``tau_off / tau_on`` ratio (used by sweeps).
    """
    on = float(thresholds["tau_on"]) if tau_on is None else float(tau_on)
    off = (
        float(thresholds["tau_off"])
        if tau_on is None
        else on * float(thresholds["tau_off"]) / float(thresholds["tau_on"])
    )
    return probs_to_events(
        probs,
        label_rate,
        tau_on=on,
        tau_off=off,
        min_duration_s=float(thresholds["min_duration_s"]),
        merge_gap_s=float(thresholds["merge_gap_s"]),
        max_duration_s=float(thresholds["max_duration_s"]),
    )


def thresholds_from_params(eval_cfg: Any) -> dict[str, float]:
    """The post-processing keys of ``params.eval`` as a thresholds dict."""
    return {k: float(getattr(eval_cfg, k)) for k in THRESHOLD_KEYS}


def thresholds_from_config(config: dict[str, Any], model_dir: Path) -> dict[str, float]:
    """The post-processing keys of a model directory (its ``thresholds.json``, as ``load_detector`` returns it)."""
    th = config.get("thresholds")
    if th is None:
        raise InputError(
            f"{Path(model_dir) / 'thresholds.json'}: missing: no operating point chosen for this detector yet; "
            "choose them on dev with `dvc repro thresholds`"
        )
    missing = [k for k in THRESHOLD_KEYS if k not in th]
    if missing:
        raise InputError(
            f"{Path(model_dir) / 'thresholds.json'}: lacks {', '.join(missing)}; "
            "choose them again with `dvc repro thresholds`"
        )
    return {k: float(th[k]) for k in THRESHOLD_KEYS}
