"""Time-aligned event scoring (TAES) as NEDC ``nedc_eeg_eval`` v6.0.0 computes it, label SEIZ.

TAES gives fractional credit: a reference event of length L overlapped by a hypothesis
for a time T counts T / L of a hit and 1 - T / L of a miss, and the hypothesis' time
outside it counts (up to one whole event) as a false alarm. The rules below follow the
scorer's own procedure, quirks included, so that its published figures are reproduced:

- events are visited in order of start time; a reference event is scored only when some
  hypothesis overlaps it strictly (``hyp.stop > ref.start and hyp.start < ref.stop``) and
  it has not been consumed yet; it is then paired with every unconsumed hypothesis that
  *touches the same whole seconds* (NEDC's ``anyovlp`` compares the sets of integer
  seconds ``int(start) .. int(stop)``, so events in the same second overlap);
- a hypothesis ending at or after the reference's end consumes it and every later
  reference it touches, each of those adding one whole miss;
- a hypothesis ending before the reference's end consumes it and every later hypothesis
  touching the reference, whose fractions are added;
- unconsumed references count one miss each, unconsumed hypotheses one false alarm each.

Only seizure events take part (background events are scored against background in NEDC's
two-class map and never touch the SEIZ figures). Sensitivity is ``hit / (hit + miss)`` and
the false-alarm rate ``fa / total duration * 86400``, summed over recordings.
"""

from __future__ import annotations

Interval = tuple[float, float]


def _touch(a: Interval, b: Interval) -> bool:
    """NEDC's ``anyovlp``: the integer seconds ``int(start)..int(stop)`` of the two events intersect."""
    return max(int(a[0]), int(b[0])) <= min(int(a[1]), int(b[1]))


def _hit_fa(ref: Interval, hyp: Interval) -> tuple[float, float]:
    """Fractional hit and false alarm of one hypothesis against one reference (NEDC ``calc_hf``)."""
    (r0, r1), (h0, h1) = ref, hyp
    length = r1 - r0
    if h0 <= r0 and h1 <= r1:  # starts early
        return (h1 - r0) / length, min((r0 - h0) / length, 1.0)
    if h0 >= r0 and h1 >= r1:  # ends late
        return (r1 - h0) / length, min((h1 - r1) / length, 1.0)
    if h0 < r0 and h1 > r1:  # covers it
        return 1.0, min(((h1 - r1) + (r0 - h0)) / length, 1.0)
    return (h1 - h0) / length, 0.0  # inside it


def taes_counts(ref: list[Interval], hyp: list[Interval]) -> tuple[float, float, float]:
    """``(hit, miss, false_alarm)`` of one recording's seizure events (each list in NEDC's order)."""
    ref_free, hyp_free = [True] * len(ref), [True] * len(hyp)
    hit = miss = fa = 0.0
    for i, r in enumerate(ref):
        if not ref_free[i] or not any(h[1] > r[0] and h[0] < r[1] for h in hyp):
            continue
        for j, h in enumerate(hyp):
            if not hyp_free[j] or not _touch(r, h):
                continue
            p_hit, p_fa = _hit_fa(r, h)
            p_miss = 1.0 - p_hit
            ref_free[i] = hyp_free[j] = False
            if h[1] >= r[1]:  # this hypothesis may run over later references: each is a whole miss
                for k in range(i + 1, len(ref)):
                    if _touch(ref[k], h):
                        ref_free[k] = False
                        p_miss += 1.0
            else:  # later hypotheses inside this reference add their fractions
                for k in range(j + 1, len(hyp)):
                    if _touch(r, hyp[k]):
                        hyp_free[k] = False
                        k_hit, k_fa = _hit_fa(r, hyp[k])
                        p_hit, p_miss, p_fa = p_hit + k_hit, p_miss - k_hit, p_fa + k_fa
            hit, miss, fa = hit + p_hit, miss + p_miss, fa + p_fa
    return hit, miss + ref_free.count(True), fa + hyp_free.count(True)
