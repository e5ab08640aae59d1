"""The one derivation the detector consumes: the common average of the 19 10-20 electrodes.

A recording stores its electrodes against some reference: a common electrode (``-REF``),
linked ears (``-LE``), the average (``-AR``, ``-Avg``), or each other (bipolar pairs,
``FP1-F7``). Subtracting the mean of the 19 electrodes at every sample removes whatever
was subtracted from all of them, so every referential form of one recording gives the
same 19 signals. Bipolar pairs are first turned back into electrode potentials by least
squares over the electrode graph (:func:`electrodes_from_pairs`), exact up to one
constant per connected group of electrodes, which the common average removes.

:data:`DERIVATION` names this; a model's ``config.json`` and each segment file's ingest
fingerprint store it, and a model stored without it is refused (:func:`check_derivation`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from brain_brr.data.channels import CHANNELS, N_CHANNELS
from brain_brr.errors import InputError

DERIVATION = "common_average"


def common_average(x: np.ndarray) -> np.ndarray:
    """Subtract, in place, the mean over the rows of ``(19, n)`` electrode potentials from each row."""
    x -= x.mean(axis=0, dtype=np.float64).astype(x.dtype)[None, :]
    return x


def _components(nodes: list[str], pairs: list[tuple[str, str]]) -> list[set[str]]:
    """Connected groups of electrodes (union-find over the pairs)."""
    parent = {n: n for n in nodes}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[str, set[str]] = {}
    for n in nodes:
        groups.setdefault(root(n), set()).add(n)
    return list(groups.values())


def electrodes_from_pairs(
    d: np.ndarray, pairs: list[tuple[str, str]], neighbours: dict[str, tuple[str, ...]]
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Electrode potentials from bipolar signals ``d[i] = v[a_i] - v[b_i]``.

    Returns ``(x, reached, notes)``: ``x`` ``(19, n)`` float32 in :data:`CHANNELS` order (rows
    of electrodes no pair reaches are zero), which rows are reached, and one note per group
    of 10-20 electrodes the pairs do not link to the largest group. The minimum-norm least
    squares solution sets each group's mean to zero; a smaller group (CHB-MIT's midline
    ``FZ-CZ``, ``CZ-PZ``) is then shifted so that its electrodes sit, on average, at the mean
    of their 10-20 neighbours in the largest group, the one guess the pairs leave open.
    """
    nodes = sorted({e for p in pairs for e in p})
    col = {e: j for j, e in enumerate(nodes)}
    incidence = np.zeros((len(pairs), len(nodes)))
    for i, (a, b) in enumerate(pairs):
        incidence[i, col[a]], incidence[i, col[b]] = 1.0, -1.0
    v = np.linalg.pinv(incidence) @ d.astype(np.float64)  # (nodes, n), zero mean within each group
    groups = [g & set(CHANNELS) for g in _components(nodes, pairs)]
    groups = sorted((g for g in groups if g), key=len, reverse=True)
    notes = []
    for group in groups[1:]:
        main = groups[0]
        anchors = [(e, [n for n in neighbours[e] if n in main]) for e in sorted(group)]
        anchors = [(e, nb) for e, nb in anchors if nb]
        if not anchors:
            continue
        shift = np.mean([v[[col[n] for n in nb]].mean(axis=0) - v[col[e]] for e, nb in anchors], axis=0)
        v[[col[e] for e in group]] += shift
        notes.append(
            (
                f"bipolar pairs leave {', '.join(sorted(group))} unlinked to the other electrodes",
                "their common level set from their neighbours",
            )
        )
    x = np.zeros((N_CHANNELS, d.shape[1]), dtype=np.float32)
    reached = np.zeros(N_CHANNELS, dtype=bool)
    for k, ch in enumerate(CHANNELS):
        if ch in col:
            x[k], reached[k] = v[col[ch]], True
    return x, reached, notes


def check_derivation(config: dict[str, Any], where: str) -> None:
    """Refuse a model whose ``config.json`` was not trained on :data:`DERIVATION` (one line, exit 2)."""
    found = config.get("derivation")
    if found != DERIVATION:
        said = "does not name the input derivation" if found is None else f"says derivation '{found}'"
        raise InputError(
            f"{where}: {said}, this version feeds the detector '{DERIVATION}' (written before the common-average "
            "input, or by another version); retrain with `dvc repro train`"
        )
