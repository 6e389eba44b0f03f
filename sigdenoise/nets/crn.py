"""A compact convolutional-recurrent-style U-Net over (frequency, time) for CPU training.

Frequency is halved at each encoder level while time keeps full resolution, so any
number of frames works; the bottleneck mixes time with dilated depthwise convolutions
(parallel on CPU, unlike an RNN). The noise level t enters every block via FiLM.
Input ``Tensor[B x C_in x F x T]``, output ``Tensor[B x C_out x F x T]``; F must be
divisible by 2 ** len(channels).
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import FiLM, FourierEmbedding, make_norm


class EncoderBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, stride_f: int, norm: str):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, (3, 3), stride=(stride_f, 1), padding=(1, 1))
        self.norm = make_norm(norm, c_out)
        self.film = FiLM(emb_dim, c_out)
        self.act = nn.SiLU()

    def forward(self, x, emb):
        return self.act(self.film(self.norm(self.conv(x)), emb))


class DecoderBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb_dim: int, norm: str):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, (3, 3), padding=(1, 1))
        self.norm = make_norm(norm, c_out)
        self.film = FiLM(emb_dim, c_out)
        self.act = nn.SiLU()

    def forward(self, x, skip, emb):
        x = self.conv(torch.nn.functional.interpolate(x, size=skip.shape[-2:], mode="nearest"))
        return self.act(self.film(self.norm(x + skip), emb))


class TemporalBlock(nn.Module):
    """Residual block: dilated depthwise conv over time, then a pointwise MLP.

    Its three taps read frames t-d, t, t+d; a ``causal`` block reads t-2d, t-d, t instead, so the
    stack's reach into the future (what a stream must wait for) stays bounded however wide the past."""

    def __init__(self, dim: int, dilation: int, emb_dim: int, norm: str, causal: bool = False):
        super().__init__()
        self.causal = causal
        self.pad = (2 * dilation, 0) if causal else (dilation, dilation)
        self.depthwise = nn.Conv1d(dim, dim, 3, dilation=dilation, groups=dim)
        self.norm = make_norm(norm, dim, ndim=3)
        self.film = FiLM(emb_dim, dim)
        self.mlp = nn.Sequential(nn.Conv1d(dim, 2 * dim, 1), nn.SiLU(), nn.Conv1d(2 * dim, dim, 1))

    def forward(self, x, emb):
        return x + self.mlp(self.film(self.norm(self.depthwise(nn.functional.pad(x, self.pad))), emb))

    def take_two_way_taps(self) -> None:
        """Turn weights trained two-way (taps t-d, t, t+d) into this causal block's (t-2d, t-d, t): the
        past and present taps keep their frames, the future one is dropped and the new far-past one starts at 0."""
        with torch.no_grad():
            w = self.depthwise.weight
            w[..., 2] = w[..., 1].clone()
            w[..., 1] = w[..., 0].clone()
            w[..., 0] = 0.0

    def make_identity(self) -> None:
        """Zero the residual branch's output, so a block appended to trained weights starts as a no-op."""
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)


class BridgeCRN(nn.Module):
    """The backbone: ``net(x, t) -> y`` with x ``[B, C_in, F, T]`` and t ``[B]`` in [0, 1]."""

    def __init__(self, *, in_channels: int, out_channels: int, freq_bins: int, channels=(16, 24, 32, 48),
                 bottleneck: int = 192, dilations=(1, 2, 4, 8), emb_dim: int = 64, norm: str = "frame",
                 zero_head: bool = False, causal_min_dilation: int = 0):
        super().__init__()
        levels = len(channels)
        if freq_bins % 2 ** levels:
            raise ValueError(f"freq_bins={freq_bins} must be divisible by 2**{levels}")
        self.embed = FourierEmbedding(emb_dim)
        self.stem = EncoderBlock(in_channels, channels[0], emb_dim, stride_f=1, norm=norm)
        widths = [channels[0], *channels]
        self.down = nn.ModuleList(EncoderBlock(widths[i], widths[i + 1], emb_dim, 2, norm) for i in range(levels))
        flat = channels[-1] * freq_bins // (2 ** levels)
        self.into_time = nn.Conv1d(flat, bottleneck, 1)
        self.temporal = nn.ModuleList(TemporalBlock(bottleneck, d, emb_dim, norm,
                                                    causal=0 < causal_min_dilation <= d) for d in dilations)
        self.out_of_time = nn.Conv1d(bottleneck, flat, 1)
        self.up = nn.ModuleList(DecoderBlock(widths[i + 1], widths[i], emb_dim, norm) for i in reversed(range(levels)))
        self.head = nn.Conv2d(channels[0], out_channels, 1)
        if zero_head:  # the output starts at exactly zero, so a wrapper's offset decides the initial map
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def reach_frames(self) -> tuple[int, int]:
        """How many STFT frames back and ahead an output frame reads: one each way per 3x3 convolution,
        plus each temporal block's taps (a causal block reads twice its dilation back and none ahead)."""
        convs = 1 + len(self.down) + len(self.up)
        dilations = [(block.depthwise.dilation[0], block.causal) for block in self.temporal]
        back = convs + sum(2 * d if causal else d for d, causal in dilations)
        return back, convs + sum(d for d, causal in dilations if not causal)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.embed(t)
        h = self.stem(x, emb)
        skips = [h]
        for block in self.down:
            h = block(h, emb)
            skips.append(h)
        b, c, f, frames = h.shape
        z = self.into_time(h.reshape(b, c * f, frames))
        for block in self.temporal:
            z = block(z, emb)
        h = h + self.out_of_time(z).reshape(b, c, f, frames)
        skips.pop()
        for block in self.up:
            h = block(h, skips.pop(), emb)
        return self.head(h)
