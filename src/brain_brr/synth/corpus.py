"""A whole corpus on disk: plan it, write every recording in the chosen layout, describe it in ``SYNTH_INFO.json``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from brain_brr.atomic import write_json_atomic
from brain_brr.errors import InputError
from brain_brr.progress import progress
from brain_brr.synth import bids, tusz
from brain_brr.synth.plan import Recording, corpus_summary, plan_corpus

if TYPE_CHECKING:
    from brain_brr.config import SynthConfig


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
        tusz.clear(out)
        bids.clear(out)  # a corpus written in the other format must not linger beside the new one


def _info(settings: dict, recs: list[Recording]) -> dict:
    """The contents of ``SYNTH_INFO.json`` once every recording is written."""
    total_s = sum(r.duration for r in recs)
    sz_s = sum(s.duration for r in recs for s in r.seizures)
    return {
        "settings": settings,
        "complete": True,
        "splits": corpus_summary(recs),
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


def run_synth(out: Path, cfg: SynthConfig) -> dict:
    """Write the corpus to ``out``; returns the contents of ``SYNTH_INFO.json``."""
    out = Path(out)
    recs = plan_corpus(cfg.patients, cfg.minutes, cfg.seed, cfg.seizure_fraction, cfg.difficulty)
    _prepare(out)
    settings = cfg.model_dump()
    write_json_atomic(out / "SYNTH_INFO.json", {"settings": settings, "complete": False})
    if cfg.format == "bids":
        names = bids.BidsNames(recs)
        bids.write_dataset_files(out, names)
        for rec in progress(recs, desc="synth (BIDS)", unit="rec"):
            bids.write_recording(out, rec, names)
    else:
        for rec in progress(recs, desc="synth", unit="rec"):
            tusz.write_recording(out, rec)

    info = _info(settings, recs)
    write_json_atomic(out / "SYNTH_INFO.json", info)
    parts = [
        f"{s}: {v['recordings']} rec, {v['hours']:.2f} h, {v['seizure_events']} seizures, "
        f"{100 * v['seizure_fraction']:.2f}%"
        for s, v in info["splits"].items()
    ]
    hours = sum(r.duration for r in recs) / 3600
    print(f"[SYNTH] {out} ({cfg.format}): {len(recs)} recordings, {hours:.2f} h | " + " | ".join(parts), flush=True)
    return info
