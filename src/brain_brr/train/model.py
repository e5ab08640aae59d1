"""The detector: strided conv stem (fs -> label_rate) -> dilated TCN -> per-step head.

Shapes use B = batch, C = 19 channels, T = samples at ``fs``, S = label steps
(``T / (fs / label_rate)``), W = ``model.width``.

Any input whose length is a multiple of ``fs / label_rate`` works: the stem
downsamples by exactly that factor and the TCN keeps the length, so whole
recordings can be run in one call as well as fixed windows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from brain_brr.atomic import atomic_path
from brain_brr.data.channels import N_CHANNELS
from brain_brr.data.derivation import check_derivation
from brain_brr.errors import InputError
from brain_brr.train.checkpoint import safe_load

if TYPE_CHECKING:  # only the fields arch, width, depth, dropout, heads are read (gpu_check runs without pydantic)
    from brain_brr.config import ModelConfig


# What repairs a damaged model directory: DVC's cache holds the last one trained, or train again.
RESTORE = "restore it with `dvc checkout --force models/detector`, or retrain with `dvc repro train`"


def _strides(factor: int) -> list[int]:
    """Split the downsampling factor into stages of 4 (then 2, then the odd prime rest)."""
    out = []
    while factor % 4 == 0:
        out.append(4)
        factor //= 4
    while factor % 2 == 0:
        out.append(2)
        factor //= 2
    p = 3
    while factor > 1:
        while factor % p == 0:
            out.append(p)
            factor //= p
        p += 2
    return out or [1]


class StemStage(nn.Module):
    """Conv with kernel 2s-1, padding s-1, stride s: length L -> exactly L/s when s divides L."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel_size=2 * stride - 1, stride=stride, padding=stride - 1)
        self.norm = nn.GroupNorm(1, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.norm(self.conv(x)))  # (B, c_in, L) -> (B, c_out, L/s)


class TCNBlock(nn.Module):
    """Residual dilated conv block at label rate (non-causal: offline detection sees both sides)."""

    def __init__(self, width: int, dilation: int, dropout: float):
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, kernel_size=3, dilation=dilation, padding=dilation)
        self.conv2 = nn.Conv1d(width, width, kernel_size=3, dilation=dilation, padding=dilation)
        self.norm1 = nn.GroupNorm(1, width)
        self.norm2 = nn.GroupNorm(1, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(F.gelu(self.norm1(self.conv1(x))))  # (B, W, S)
        h = self.drop(self.norm2(self.conv2(h)))  # (B, W, S)
        return F.gelu(x + h)


class Detector(nn.Module):
    def __init__(self, cfg: ModelConfig, fs: int, label_rate: int):
        super().__init__()
        if fs % label_rate:
            raise ValueError(f"label_rate={label_rate} does not divide fs={fs}")
        self.factor = fs // label_rate
        strides = _strides(self.factor)
        chans = [N_CHANNELS] + [cfg.width] * len(strides)
        self.stem = nn.Sequential(*(StemStage(chans[i], chans[i + 1], s) for i, s in enumerate(strides)))
        # Dilations 1, 2, 4, ...: receptive field grows to ~4 * 2^depth label steps.
        self.tcn = nn.Sequential(*(TCNBlock(cfg.width, 2**i, cfg.dropout) for i in range(cfg.depth)))
        self.head = nn.Conv1d(cfg.width, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.factor:
            raise ValueError(f"input length {x.shape[-1]} is not a multiple of fs/label_rate={self.factor}")
        h = self.stem(x)  # (B, 19, T) -> (B, W, S)
        h = self.tcn(h)  # (B, W, S)
        return self.head(h).squeeze(1)  # (B, S) logits


def build_detector(model_cfg: ModelConfig, fs: int, label_rate: int, window_s: int) -> nn.Module:
    """Detector mapping float32 ``(B, 19, window_s*fs)`` to logits ``(B, window_s*label_rate)``.

    ``model_cfg.arch`` picks the compact TCN of this module or the U-Net transformer of
    :mod:`brain_brr.train.unet_transformer`. ``window_s`` is the training window; either
    module accepts any length that is a multiple of ``fs / label_rate``.
    """
    if window_s * fs % (fs // label_rate):
        raise ValueError(f"window_s={window_s} at fs={fs} is not a whole number of label steps")
    if model_cfg.arch == "unet_transformer":
        from brain_brr.train.unet_transformer import UNetTransformer  # it builds on this module's stem strides

        return UNetTransformer(model_cfg, fs, label_rate)
    return Detector(model_cfg, fs, label_rate)


def save_detector(model_dir: str | Path, model: nn.Module, config: dict[str, Any]) -> None:
    """Write ``model.pt`` (state_dict) and ``config.json`` atomically (temp file, then rename)."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    module = model.module if hasattr(model, "module") else model  # unwrap DDP
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    with atomic_path(model_dir / "model.pt") as tmp:
        torch.save(state, tmp)
    with atomic_path(model_dir / "config.json") as tmp:
        tmp.write_text(json.dumps(config, indent=2, default=str) + "\n")


def load_detector(model_dir: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the detector from ``config.json`` and load ``model.pt``; returns (model in eval mode, config)."""
    model_dir = Path(model_dir)
    cfg_path, weights = model_dir / "config.json", model_dir / "model.pt"
    for p in (cfg_path, weights):
        if not p.is_file():
            raise InputError(f"{p}: missing; train a model first (`dvc repro train`)")
    try:
        config = json.loads(cfg_path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{cfg_path}: not readable JSON ({exc}); {RESTORE}") from None
    if not isinstance(config, dict):
        raise InputError(f"{cfg_path}: not a JSON object; {RESTORE}")
    for key in ("model", "data", "label_rate"):
        if key not in config:
            raise InputError(
                f"{cfg_path}: key '{key}' missing; the model directory "
                "was not written by the train stage (`dvc repro train`)"
            )
    check_derivation(config, str(cfg_path))
    from brain_brr.config import ModelConfig

    data = config["data"]
    try:
        model = build_detector(
            ModelConfig(**config["model"]), int(data["sampling_rate"]), int(config["label_rate"]), int(data["window_s"])
        )
        model.load_state_dict(safe_load(weights, RESTORE))
    except (ValueError, KeyError, RuntimeError) as exc:  # pydantic's ValidationError is a ValueError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{model_dir}: model.pt and config.json do not fit together ({first}); retrain with `dvc repro train`"
        ) from None
    model.eval()
    return model, {**config, **_thresholds_file(model_dir)}


THRESHOLDS_FILE = "thresholds.json"  # written beside the weights by the thresholds stage (chosen on dev)


def _thresholds_file(model_dir: Path) -> dict[str, Any]:
    """``{"thresholds": ...}`` from ``thresholds.json`` when the thresholds stage has written it, else nothing."""
    path = model_dir / THRESHOLDS_FILE
    if not path.is_file():
        return {}
    try:
        thresholds = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc}); choose them again with `dvc repro thresholds`") from None
    if not isinstance(thresholds, dict):
        raise InputError(f"{path}: not a JSON object; choose them again with `dvc repro thresholds`")
    return {"thresholds": thresholds}
