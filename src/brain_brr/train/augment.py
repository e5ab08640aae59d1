"""Augmentation of a training batch, on the device the batch lives on, seeded per step.

The training step calls :class:`Augmenter` on every batch ``x (b, 19, T)``, ``y (b, S)``
after moving it to the device. Nothing happens unless ``augment.enabled``; then each
augmentation is drawn per window with its own probability ``augment.<name>_p`` (0 turns it
off), in this order:

1. ``mix``: a seizure window gets a background window of the same batch added at weight
   ``w ~ U(0, mix_max)``, rescaled by ``1 / sqrt(1 + w^2)``: seizures on top of artifacts.
2. ``time_shift``: the window rolls by a whole number of label steps, up to
   ``time_shift_max_s``; its labels roll with it (the wrapped part is a seam, not a gap).
3. ``mirror``: left and right hemispheres swap (FP1<->FP2, F7<->F8, T3<->T4, ...; midline
   channels stay).
4. ``amplitude``: the window is scaled by a log-uniform factor in ``[1/amplitude_max, amplitude_max]``.
5. ``channel_dropout``: 1 to ``channel_dropout_max`` channels are zeroed (a lost electrode).
6. ``noise``: Gaussian noise of standard deviation ``noise_std`` is added (signals are robust
   z-scores, so 0.1 is a tenth of a typical channel's spread).

Labels change only through the time shift, so every batch keeps the seizure windows the
sampler put in it. Random numbers come from a generator on the batch's device seeded with
``(train.seed, step, rank)``: a run is reproducible on its device, a resumed run draws what
the uninterrupted one would have, and DDP ranks draw differently.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from brain_brr.data.channels import CHANNELS

if TYPE_CHECKING:
    from brain_brr.config import AugmentConfig


def mirror_index(channels: tuple[str, ...] = CHANNELS) -> list[int]:
    """For each channel, the index of its mirror image (odd numbers are left, even right, Z is the midline)."""
    out = []
    for name in channels:
        stem = name.rstrip("0123456789")
        if stem == name:
            out.append(channels.index(name))
            continue
        num = int(name[len(stem) :])
        out.append(channels.index(f"{stem}{num + 1 if num % 2 else num - 1}"))
    return out


class Augmenter:
    """``(x, y, step) -> (x, y)``; the identity (same tensors) when ``augment.enabled`` is false."""

    def __init__(self, cfg: AugmentConfig, *, label_rate: int, seed: int, rank: int = 0):
        self.cfg, self.label_rate, self.seed, self.rank = cfg, label_rate, seed, rank
        self.mirror = torch.tensor(mirror_index(), dtype=torch.long)

    def generator(self, step: int, device: torch.device) -> torch.Generator:
        g = torch.Generator(device=device)
        g.manual_seed((self.seed * 1_000_003 + step) * 1009 + self.rank)
        return g

    def __call__(self, x: torch.Tensor, y: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.cfg
        if not c.enabled:
            return x, y
        g = self.generator(step, x.device)
        x, y = x.clone(), y.clone()  # one copy, then in place: never write into the loader's batch buffer
        if c.mix_p > 0:
            self._mix(x, y, g)
        if c.time_shift_p > 0 and c.time_shift_max_s > 0:
            self._shift(x, y, g)
        if c.mirror_p > 0:
            flip = self._chosen(x, c.mirror_p, g)
            if flip.numel():
                x[flip] = x[flip[:, None], self.mirror.to(x.device)[None, :]]  # (n, 19, T), one gather
        gain = torch.ones(x.shape[:2], device=x.device, dtype=x.dtype)  # (b, 19): amplitude x channel dropout
        if c.amplitude_p > 0:
            log_s = (2 * self._uniform(x, g) - 1) * math.log(c.amplitude_max)
            gain *= torch.where(self._draw(x, c.amplitude_p, g), log_s.exp(), 1.0)[:, None]
        if c.channel_dropout_p > 0:
            gain *= self._kept_channels(x, g)
        if c.amplitude_p > 0 or c.channel_dropout_p > 0:
            x *= gain[:, :, None]
        if c.noise_p > 0 and c.noise_std > 0:
            idx = self._chosen(x, c.noise_p, g)
            if idx.numel():
                x[idx] += c.noise_std * torch.randn((idx.numel(), *x.shape[1:]), generator=g, device=x.device)
        return x, y

    # ------------------------------------------------------------------ the augmentations
    def _uniform(self, x: torch.Tensor, g: torch.Generator, *shape: int) -> torch.Tensor:
        return torch.rand((x.shape[0], *shape), generator=g, device=x.device)

    def _draw(self, x: torch.Tensor, p: float, g: torch.Generator) -> torch.Tensor:
        """Which windows get an augmentation of probability ``p``: bool ``(b,)``."""
        return self._uniform(x, g) < p

    def _chosen(self, x: torch.Tensor, p: float, g: torch.Generator) -> torch.Tensor:
        return self._draw(x, p, g).nonzero().squeeze(1)

    def _mix(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> None:
        pos = (y > 0.5).any(dim=1)  # (b,)
        chosen = (self._draw(x, self.cfg.mix_p, g) & pos).nonzero().squeeze(1)
        background = (~pos).nonzero().squeeze(1)
        if not chosen.numel() or not background.numel():
            return
        pick = torch.randint(0, background.numel(), (chosen.numel(),), generator=g, device=x.device)
        w = (torch.rand(chosen.numel(), generator=g, device=x.device) * self.cfg.mix_max)[:, None, None]
        x[chosen] = (x[chosen] + w * x[background[pick]]) / torch.sqrt(1 + w**2)

    def _shift(self, x: torch.Tensor, y: torch.Tensor, g: torch.Generator) -> None:
        """Roll each chosen window and its labels by k label steps, |k| <= time_shift_max_s * label rate."""
        n_steps = y.shape[1]
        factor = x.shape[2] // n_steps
        max_k = min(n_steps - 1, int(round(self.cfg.time_shift_max_s * self.label_rate)))
        k = torch.randint(-max_k, max_k + 1, (x.shape[0],), generator=g, device=x.device)
        k = torch.where(self._draw(x, self.cfg.time_shift_p, g), k, 0)
        for i, ki in enumerate(k.tolist()):
            if ki:
                x[i] = torch.roll(x[i], ki * factor, dims=-1)
                y[i] = torch.roll(y[i], ki, dims=-1)

    def _kept_channels(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """(b, 19) of 1 and 0: each chosen window loses 1 to channel_dropout_max channels."""
        c = self.cfg
        k = torch.randint(1, c.channel_dropout_max + 1, (x.shape[0],), generator=g, device=x.device)
        k = torch.where(self._draw(x, c.channel_dropout_p, g), k, 0)
        rank = self._uniform(x, g, x.shape[1]).argsort(dim=1).argsort(dim=1)  # a random order of the channels
        return (rank >= k[:, None]).to(x.dtype)  # the k first in that order are dropped
