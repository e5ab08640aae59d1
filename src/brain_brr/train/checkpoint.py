"""Training checkpoints that load with ``torch.load(weights_only=True)``.

Everything stored is a tensor or a plain Python value: RNG states are converted from
numpy's and Python's tuples so that ``--resume`` restores them exactly.
"""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from brain_brr.atomic import atomic_path
from brain_brr.data.derivation import DERIVATION
from brain_brr.errors import InputError

# Settings that cannot change the trained weights: where things are, how fast, when to give up.
_NOT_TRAINING = ("data.root", "data.processed", "data.workers", "train.num_workers", "train.device", "train.patience")
_NOT_TRAINING_SECTIONS = ("synth.", "eval.", "guards.", "mlflow.")


def training_fingerprint(params: Any, data_version: str) -> dict[str, Any]:
    """Every setting that shapes training (dotted keys), plus the version of the processed data.

    A checkpoint stores it; ``--resume`` compares it with the current one and refuses any difference.
    """
    flat = {
        k: v for k, v in params.flat().items() if k not in _NOT_TRAINING and not k.startswith(_NOT_TRAINING_SECTIONS)
    }
    return {**flat, "derivation": DERIVATION, "data_version": data_version}


def fingerprint_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: checkpoint X, now Y`` for every key whose value differs (or exists on one side only)."""
    missing = object()
    out = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, missing), current.get(key, missing)
        if a != b:
            show = lambda v: "(absent)" if v is missing else repr(v)  # noqa: E731
            out.append(f"{key}: checkpoint {show(a)}, now {show(b)}")
    return out


def rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


RESTART = "start training over with `python stages/train.py` (without --resume)"


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"{path}: no checkpoint to resume from; run `python stages/train.py` without --resume first")
    return safe_load(path, RESTART)


def check_torch_file(path: Path, fix: str) -> None:
    """Cheap: ``path`` is a whole ``torch.save`` archive (a zip: a truncated one has no central directory)."""
    if not path.is_file():
        raise InputError(f"{path}: missing; {fix}")
    try:
        zipfile.ZipFile(path).close()  # reads the directory at the end of the file, not the tensors
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable checkpoint (truncated or not a PyTorch file: {exc}); {fix}") from None


def safe_load(path: Path, fix: str = "retrain or restore it") -> Any:
    """``torch.load`` with ``weights_only=True``: tensors and plain values only, never arbitrary objects.

    A truncated or damaged file is one :class:`InputError` line ending in ``fix``, the command that repairs it.
    """
    check_torch_file(path, fix)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{path}: refused to load: it holds more than tensors and plain values (weights_only=True): {first}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"{path}: not a readable checkpoint ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); {fix}"
        ) from None
