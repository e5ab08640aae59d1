"""The larger detector (``model.arch: unet_transformer``): a U-Net encoder with a transformer over time.

The kind of architecture the best published scalp-EEG detectors use: convolutions bring the
EEG down to a few tokens per second, self-attention relates every moment of the window to
every other (a seizure's evolution, an artifact's regularity), a decoder with skip
connections brings the result back to the label rate. Shapes, with B = batch, C = 19,
T = samples at ``fs``, S = label steps (``T / (fs / label_rate)``), W = ``model.width``,
D = 4W (the transformer width):

    (B, C, T)
      encoder: strided conv + residual block per stage (stride 4, 2 or the odd rest, as the TCN stem),
               widths W, 2W, 4W, 4W, ... until the label rate             -> (B, 4W, S)   skip s0
      two more stride-2 stages                                            -> (B, D, S/2)  skip s1
                                                                          -> (B, D, S/4)
      depthwise-conv position encoding + ``model.depth`` transformer layers over the S/4 tokens
      decoder: upsample x2, concatenate the skip, residual block; twice   -> (B, 4W, S)
      head: 1x1 conv                                                      -> (B, S) logits

Any input whose length is a multiple of ``fs / label_rate`` works (whole recordings as well
as windows): at the label rate the features are padded to a multiple of 4 steps, and the
padded steps are cut from the output. About 2 M parameters at the defaults (W = 32, depth 4),
40 times the TCN; it trains on a CPU, slowly (see the README for figures).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn as nn
import torch.nn.functional as F

from brain_brr.data.channels import N_CHANNELS
from brain_brr.train.model import _strides

if TYPE_CHECKING:
    from brain_brr.config import ModelConfig

BOTTLENECK = 4  # label steps per transformer token


class ResBlock(nn.Module):
    """Two convolutions (kernel 5, the second dilated by 2) with a residual connection; length kept."""

    def __init__(self, c: int, dropout: float):
        super().__init__()
        self.conv1 = nn.Conv1d(c, c, kernel_size=5, padding=2)
        self.conv2 = nn.Conv1d(c, c, kernel_size=5, padding=4, dilation=2)
        self.norm1, self.norm2 = nn.GroupNorm(1, c), nn.GroupNorm(1, c)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(F.gelu(self.norm1(self.conv1(x))))  # (B, c, L)
        return F.gelu(x + self.drop(self.norm2(self.conv2(h))))


class Down(nn.Module):
    """Strided conv (kernel 2s-1, padding s-1: L -> L/s exactly when s divides L), then a residual block."""

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel_size=2 * stride - 1, stride=stride, padding=stride - 1)
        self.norm = nn.GroupNorm(1, c_out)
        self.block = ResBlock(c_out, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(F.gelu(self.norm(self.conv(x))))  # (B, c_in, L) -> (B, c_out, L/s)


class Up(nn.Module):
    """Upsample x2 (nearest), concatenate the skip, fuse with a 1x1 conv, residual block."""

    def __init__(self, c_in: int, c_skip: int, c_out: int, dropout: float):
        super().__init__()
        self.fuse = nn.Conv1d(c_in + c_skip, c_out, kernel_size=1)
        self.norm = nn.GroupNorm(1, c_out)
        self.block = ResBlock(c_out, dropout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-1], mode="nearest")  # (B, c_in, L/2) -> (B, c_in, L)
        return self.block(F.gelu(self.norm(self.fuse(torch.cat([x, skip], dim=1)))))


class UNetTransformer(nn.Module):
    def __init__(self, cfg: ModelConfig, fs: int, label_rate: int):
        super().__init__()
        if fs % label_rate:
            raise ValueError(f"label_rate={label_rate} does not divide fs={fs}")
        self.factor = fs // label_rate
        w, d = cfg.width, 4 * cfg.width
        strides = _strides(self.factor)
        widths = [N_CHANNELS] + [w * min(2**i, 4) for i in range(len(strides))]
        self.encoder = nn.ModuleList(Down(widths[i], widths[i + 1], s, cfg.dropout) for i, s in enumerate(strides))
        self.down1 = Down(widths[-1], d, 2, cfg.dropout)  # S -> S/2
        self.down2 = Down(d, d, 2, cfg.dropout)  # S/2 -> S/4
        self.position = nn.Conv1d(d, d, kernel_size=5, padding=2, groups=d)  # relative position, any length
        layer = nn.TransformerEncoderLayer(
            d, cfg.heads, 4 * d, cfg.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, cfg.depth, norm=nn.LayerNorm(d), enable_nested_tensor=False)
        self.up1 = Up(d, d, d, cfg.dropout)  # S/4 -> S/2, skip s1
        self.up2 = Up(d, widths[-1], widths[-1], cfg.dropout)  # S/2 -> S, skip s0
        self.head = nn.Conv1d(widths[-1], 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.factor:
            raise ValueError(f"input length {x.shape[-1]} is not a multiple of fs/label_rate={self.factor}")
        for stage in self.encoder:
            x = stage(x)  # (B, 19, T) -> ... -> (B, 4W, S)
        n_steps = x.shape[-1]
        pad = -n_steps % BOTTLENECK
        s0 = F.pad(x, (0, pad), mode="replicate") if pad else x  # (B, 4W, S'), S' a multiple of 4
        s1 = self.down1(s0)  # (B, D, S'/2)
        h = self.down2(s1)  # (B, D, S'/4)
        h = h + self.position(h)
        h = self.transformer(h.transpose(1, 2)).transpose(1, 2)  # attention over the S'/4 tokens
        h = self.up2(self.up1(h, s1), s0)  # (B, 4W, S')
        return self.head(h).squeeze(1)[:, :n_steps]  # (B, S) logits
