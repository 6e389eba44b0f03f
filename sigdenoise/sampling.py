"""Few-step samplers for the Brownian bridge: plain functions of (denoiser, y, steps).

Each step asks the denoiser for x0 and moves from t to s < t along the bridge posterior
q(x_s | x_t, x0) = N(x0 + (s/t)(x_t - x0), sigma_max^2 s (t - s) / t). With ``eta=1``
this is ancestral sampling (a posterior sample; seeded, so repeatable); ``eta=0``
drops the fresh noise and is fully deterministic.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .diffusion import complex_noise


def bridge_times(steps: int, *, device=None) -> torch.Tensor:
    """Decreasing times from 1 to 0, ``steps + 1`` values."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return torch.linspace(1.0, 0.0, steps + 1, device=device)


@torch.no_grad()
def sample_bridge(denoiser, y: torch.Tensor, *, steps: int, sigma_max: float, eta: float = 1.0,
                  generator: torch.Generator | Sequence[torch.Generator] | None = None,
                  rate: torch.Tensor | None = None) -> torch.Tensor:
    """Run the bridge from the noisy spectrogram ``y`` ``[B, F, T]`` to a clean estimate in ``steps`` calls.

    ``generator``: one for the batch, or one per row (then a row's draws do not depend on which rows
    share its batch). ``rate`` (``[B]``, the signals' sample rates) is passed on to denoisers that
    condition on it."""
    times = bridge_times(steps, device=y.device)
    x = y
    for t, s in zip(times[:-1], times[1:]):
        t_batch = t.expand(y.shape[0])
        x0 = denoiser(x, t_batch, y, rate)
        if s == 0:
            return x0
        ratio = s / t
        x = x0 + ratio * (x - x0)
        if eta > 0:
            std = sigma_max * torch.sqrt(s * (t - s) / t)
            if isinstance(generator, Sequence):
                noise = torch.stack([complex_noise(y.shape[1:], generator=g, device=y.device) for g in generator])
            else:
                noise = complex_noise(y.shape, generator=generator, device=y.device)
            x = x + eta * std * noise
    return x
