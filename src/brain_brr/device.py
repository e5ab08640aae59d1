"""Which torch device a stage runs on: shared by training, evaluation and ``predict``."""

from __future__ import annotations

import torch

from brain_brr.errors import ConfigError


def resolve_device(name: str = "auto") -> str:
    """``auto``: cuda, then mps, then cpu. An explicit device that is not there is a configuration error."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but no CUDA device is available; use auto or cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.device=mps but MPS is not available; use auto or cpu")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    return name


def torch_device(name: str, local_rank: int = 0) -> torch.device:
    """:func:`resolve_device`, with the CUDA device of this rank selected (one GPU per rank)."""
    resolved = resolve_device(name)
    if resolved == "cuda":
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device(resolved)
