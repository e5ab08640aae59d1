"""Which torch device a stage runs on, and CPU arithmetic that gives the same bits on other x86 machines.

Shared by training, evaluation, ``predict`` and the SzCORE entry point: each calls
:func:`resolve_device` before it runs the model. On CPU the same seed then gives the same
weights and probabilities on any Intel x86-64 CPU with AVX2, whatever its core count or
newer instruction sets (docs/determinism.md: the measurements, the cost, what remains):

- a fixed number of intra-op threads (``BRAIN_BRR_CPU_THREADS``, default 2): reductions
  split their sums by thread, so 1, 2 and 4 threads give different bits;
- ATen's vectorised kernels (``ATEN_CPU_CAPABILITY``), oneDNN's convolutions
  (``ONEDNN_MAX_CPU_ISA``) and oneMKL (its reproducible branch, ``MKL_CBWR``) pinned to
  AVX2: AVX-512 (and AMX) code sums in other orders than AVX2 code.

The libraries read these variables at their first operation, so they are set when this
module is imported (before any model is built); a value already in the environment wins.
"""

from __future__ import annotations

import os

import torch

from brain_brr.errors import ConfigError

THREADS_ENV = "BRAIN_BRR_CPU_THREADS"
DEFAULT_THREADS = 2
PINNED_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}

for _name, _value in PINNED_KERNELS.items():
    os.environ.setdefault(_name, _value)


def reproducible_cpu() -> None:
    """A fixed thread count: with the kernels pinned, CPU results independent of the machine (module docstring)."""
    raw = os.environ.get(THREADS_ENV, str(DEFAULT_THREADS))
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{THREADS_ENV}={raw!r}: not a positive whole number; unset it for {DEFAULT_THREADS} threads")
    torch.set_num_threads(int(raw))


def resolve_device(name: str = "auto") -> str:
    """``auto``: cuda, then mps, then cpu. An explicit device that is not there is a configuration error.

    On CPU it makes the arithmetic reproducible across machines first (:func:`reproducible_cpu`).
    """
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but no CUDA device is available; use auto or cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.device=mps but MPS is not available; use auto or cpu")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    if name == "cpu":
        reproducible_cpu()
    return name


def torch_device(name: str, local_rank: int = 0) -> torch.device:
    """:func:`resolve_device`, with the CUDA device of this rank selected (one GPU per rank)."""
    resolved = resolve_device(name)
    if resolved == "cuda":
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device(resolved)
