"""A time-domain second stage: corrects the spectral model's waveform with a learned filterbank.

The bridge model works on a 32 ms STFT with a 16 ms hop; what it cannot fix there (phase near
noise, the noise it leaves under speech, the speech it removes at low SNR) is left for this stage.
It reads the first stage's estimate and the noisy input side by side through a learned filterbank
(64 taps, 4 ms at 16 kHz, half-overlapping), mixes time with dilated depthwise convolutions, and adds a
correction:

    out = estimate + decoder(mask(h) * encoder([estimate, noisy]))

The mask's head starts at zero, so an untrained refiner passes the estimate through unchanged.
Input and output ``Tensor[B x T]``; any T.
"""
from __future__ import annotations

import torch
from torch import nn

from .crn import TemporalBlock


class WaveRefiner(nn.Module):
    def __init__(self, *, channels: int = 128, kernel: int = 64, dilations=(1, 2, 4, 8, 16, 32), norm: str = "batch"):
        super().__init__()
        if kernel % 2:
            raise ValueError(f"refiner kernel must be even (the hop is half of it), got {kernel}")
        self.kernel, self.hop = kernel, kernel // 2
        self.encoder = nn.Conv1d(2, channels, kernel, stride=self.hop, bias=False)
        self.blocks = nn.ModuleList(TemporalBlock(channels, d, 0, norm) for d in dilations)
        self.mask = nn.Conv1d(channels, channels, 1)
        nn.init.zeros_(self.mask.weight)
        nn.init.zeros_(self.mask.bias)
        self.decoder = nn.ConvTranspose1d(channels, 1, kernel, stride=self.hop, bias=False)

    def forward(self, estimate: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
        length = estimate.shape[-1]
        # One hop of zeros at each end (so the first and last samples sit under whole frames), and enough
        # at the end for the frames to tile the signal exactly.
        right = self.hop + (-length) % self.hop
        x = nn.functional.pad(torch.stack([estimate, noisy], dim=1), (self.hop, right))
        feats = self.encoder(x)
        h = feats
        for block in self.blocks:
            h = block(h)
        correction = self.decoder(self.mask(h) * feats)[:, 0, self.hop:self.hop + length]
        return estimate + correction.to(estimate.dtype)
