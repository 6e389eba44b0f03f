"""Layers shared by the backbones: noise-level embedding, FiLM conditioning, normalisation."""
from __future__ import annotations

import math

import torch
from torch import nn


class FourierEmbedding(nn.Module):
    """Embed a scalar t in [0, 1] with fixed sinusoids and a small MLP. ``Tensor[B] -> Tensor[B x dim]``."""

    def __init__(self, dim: int, max_freq: float = 64.0):
        super().__init__()
        freqs = torch.exp(torch.linspace(0.0, math.log(max_freq), dim // 2))
        self.register_buffer("freqs", freqs, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        angles = t.float()[:, None] * self.freqs[None, :] * math.pi
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1))


class FiLM(nn.Module):
    """Feature-wise affine modulation from an embedding; starts as the identity."""

    def __init__(self, emb_dim: int, channels: int):
        super().__init__()
        self.proj = nn.Linear(emb_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.proj(emb).chunk(2, dim=-1)
        shape = (x.shape[0], x.shape[1]) + (1,) * (x.ndim - 2)
        return x * (1 + scale.reshape(shape)) + shift.reshape(shape)


class FrameNorm(nn.Module):
    """Layer norm over (channels, frequency) of each time frame: no statistics cross frames,
    so a chunk's output does not depend on how far the chunk extends."""

    def __init__(self, channels: int, ndim: int = 4):
        super().__init__()
        shape = (1, channels) + (1,) * (ndim - 2)
        self.dims = tuple(range(1, ndim - 1))  # everything but batch and time (the last axis)
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=self.dims, keepdim=True)
        var = x.var(dim=self.dims, keepdim=True, unbiased=False)
        return (x - mean) * torch.rsqrt(var + 1e-5) * self.weight + self.bias


def make_norm(kind: str, channels: int, ndim: int = 4) -> nn.Module:
    """The normalisation a backbone uses between convolutions.

    ``"frame"``: :class:`FrameNorm`, statistics per time frame. It also erases each frame's
    loudness, the cue that tells a speech frame from a noise-only one, and models with it
    learn slowly. ``"batch"``: batch norm; at inference it is a fixed affine map, so it keeps
    loudness and, like FrameNorm, gives a chunk the same output wherever the chunk ends.
    """
    if kind == "frame":
        return FrameNorm(channels, ndim=ndim)
    if kind == "batch":
        return nn.BatchNorm2d(channels) if ndim == 4 else nn.BatchNorm1d(channels)
    raise ValueError(f"unknown norm {kind!r}; known: 'frame', 'batch'")
