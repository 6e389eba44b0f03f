"""Few-step samplers for the Brownian bridge: plain functions of (denoiser, y, steps).

Each step asks the denoiser for x0 and moves from t to s < t along the bridge posterior
q(x_s | x_t, x0) = N(x0 + (s/t)(x_t - x0), sigma_max^2 s (t - s) / t). With ``eta=1``
this is ancestral sampling (a posterior sample; seeded, so repeatable); ``eta=0``
drops the fresh noise and is fully deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .diffusion import complex_noise


def frame_noise(key: Sequence[int], first_frame: int, frames: int, bins: int) -> torch.Tensor:
    """Circular complex Gaussian noise ``[bins, frames]`` with unit variance, for frames ``first_frame``
    on of the row that ``key`` names: each frame's values depend only on the key and the frame's index
    (counter-based Philox words, Box-Muller), so any stretch of frames reads the same draws."""
    per = -(-2 * bins // 4)  # Philox counters per frame: 4 words each, 2 words per complex value
    seed = np.random.SeedSequence([int(k) % 2 ** 64 for k in key]).generate_state(2, np.uint64)
    # frames before 0 (a chunk moved back before its regular start) sit just below 2**40 counters in
    words = np.random.Philox(key=seed, counter=(first_frame + 2 ** 40) * per).random_raw(frames * per * 4)
    u = (words.reshape(frames, per * 4)[:, :2 * bins] >> np.uint64(11)) * 2.0 ** -53  # uniform in [0, 1)
    radius = np.sqrt(-2.0 * np.log1p(-u[:, :bins]))
    angle = 2.0 * np.pi * u[:, bins:]
    noise = (radius * np.cos(angle) + 1j * radius * np.sin(angle)) / 2 ** 0.5
    return torch.from_numpy(noise.T.astype(np.complex64))


@dataclass(frozen=True)
class PositionalNoise:
    """The sampler's fresh noise for one row, fixed by where the row lies rather than by a generator's
    history: ``key`` names the draw (seed, row, chunk) and ``first_frame`` the row's first STFT frame
    in that chunk. A stream's window of a chunk thus draws at each frame what the whole chunk draws."""

    key: tuple[int, ...]
    first_frame: int = 0

    def draw(self, step: int, shape, device=None) -> torch.Tensor:
        return frame_noise((*self.key, step), self.first_frame, shape[-1], shape[-2]).to(device)


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
    share its batch); a row's may be a :class:`PositionalNoise` instead. ``rate`` (``[B]``, the
    signals' sample rates) is passed on to denoisers that condition on it."""
    times = bridge_times(steps, device=y.device)
    x = y
    for step, (t, s) in enumerate(zip(times[:-1], times[1:])):
        t_batch = t.expand(y.shape[0])
        x0 = denoiser(x, t_batch, y, rate)
        if s == 0:
            return x0
        ratio = s / t
        x = x0 + ratio * (x - x0)
        if eta > 0:
            std = sigma_max * torch.sqrt(s * (t - s) / t)
            if isinstance(generator, Sequence):
                noise = torch.stack([g.draw(step, y.shape[1:], y.device) if isinstance(g, PositionalNoise)
                                     else complex_noise(y.shape[1:], generator=g, device=y.device) for g in generator])
            else:
                noise = complex_noise(y.shape, generator=generator, device=y.device)
            x = x + eta * std * noise
    return x
