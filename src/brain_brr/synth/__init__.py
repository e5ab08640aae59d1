"""Synthetic EEG corpus: real EDF and annotation files in the TUSZ v2 layout or as a BIDS dataset.

The corpus exists so the whole pipeline can run end to end without TUSZ, so it copies what
makes TUSZ awkward rather than what makes it easy: its layout, names and headers, mixed
sampling rates, patient-disjoint splits, artifacts as large as seizures, and seizures of
several kinds whose size ranges from barely above the background up. ``difficulty="hard"``
keeps the same recordings and draws fainter, shorter seizures of more kinds among confounders.

Everything is drawn from ``seed``: the plan (who, when, which seizures) from one stream and
each recording's signals from its own stream, so the same seed gives byte-identical files.

Modules, in the order the data takes: ``plan`` (the corpus plan), ``seizures`` (seizure kinds:
how each is drawn and rendered), ``render`` (background and artifacts of one recording),
``confounders`` (the hard mode's), ``tusz`` and ``bids`` (the two layouts), ``edfwrite`` (EDF
files), ``corpus`` (a whole corpus on disk); ``scalp`` and ``signals`` are their shared parts.
Nothing under :mod:`brain_brr.data` imports this package: real recordings never pass through it.
"""

from brain_brr.synth.corpus import run_synth
from brain_brr.synth.plan import plan_corpus
from brain_brr.synth.render import render

__all__ = ["plan_corpus", "render", "run_synth"]
