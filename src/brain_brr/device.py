"""Which torch device a stage runs on, and CPU arithmetic that gives the same bits on every x86 machine.

Shared by training, evaluation, ``predict`` and the SzCORE entry point: each calls
:func:`resolve_device` before it runs the model. On CPU the same seed then gives the same
weights and probabilities on any x86-64 machine with AVX2, whatever its core count or newer
instruction sets (docs/determinism.md has the measurements):

- a fixed number of intra-op threads (``BRAIN_BRR_CPU_THREADS``, default 2): reductions
  split their sums by thread, so 1, 2 and 4 threads give different bits;
- ATen's vectorised kernels pinned to AVX2 (``ATEN_CPU_CAPABILITY``) and oneMKL to its
  reproducible AVX2 branch (``MKL_CBWR``): AVX-512 and AVX2 code sum in different orders;
- oneDNN off (``torch.backends.mkldnn``): its convolutions choose kernels and blocking from
  the CPU at hand and promise no bits across machines; ATen's own convolution (im2col and
  an oneMKL GEMM) is used instead.

ATen and oneMKL read their variables at the first operation that needs them, so they are set
when this module is imported (before any model is built); a value already in the
environment wins, which is how docs/determinism.md emulates other machines.
"""

from __future__ import annotations

import os

import torch

from brain_brr.errors import ConfigError

THREADS_ENV = "BRAIN_BRR_CPU_THREADS"
DEFAULT_THREADS = 2
PINNED_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2"}

for _name, _value in PINNED_KERNELS.items():
    os.environ.setdefault(_name, _value)


def reproducible_cpu() -> None:
    """A fixed thread count and no oneDNN: CPU results independent of the machine (module docstring)."""
    raw = os.environ.get(THREADS_ENV, str(DEFAULT_THREADS))
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{THREADS_ENV}={raw!r}: not a positive whole number; unset it for {DEFAULT_THREADS} threads")
    torch.set_num_threads(int(raw))
    torch.backends.mkldnn.enabled = False


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
