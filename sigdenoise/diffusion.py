"""The noisy-to-clean Brownian bridge, the denoiser wrapper, and the training loss.

Between the clean spectrogram x0 (t=0) and the noisy one y (t=1) runs a Brownian bridge

    x_t = (1 - t) x0 + t y + sigma(t) eps,   sigma(t) = sigma_max sqrt(t (1 - t)),

so sampling starts exactly at the noisy input, as in the Schroedinger-bridge and
bridge-based speech enhancement work (Jukić et al. 2024; Lay et al. 2023).
The network predicts x0 directly; :class:`BridgeDenoiser` holds the one
parameterisation used by both the loss and the samplers.
"""
from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .nets import build_backbone
from .preprocess import from_spec, to_spec


def bridge_sigma(t: torch.Tensor, sigma_max: float) -> torch.Tensor:
    """Standard deviation of the bridge marginal at time t."""
    return sigma_max * torch.sqrt((t * (1 - t)).clamp(min=0))


def complex_noise(shape, *, generator=None, device=None) -> torch.Tensor:
    """Circular complex Gaussian noise with unit variance."""
    re = torch.randn(shape, generator=generator, device=device)
    im = torch.randn(shape, generator=generator, device=device)
    return torch.complex(re, im) / 2 ** 0.5


def bridge_marginal(x0: torch.Tensor, y: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, sigma_max: float):
    """Draw x_t given x0 and y. Complex tensors ``[B, F, T]``; t ``[B]``."""
    tt = t.reshape(-1, *([1] * (x0.ndim - 1)))
    return (1 - tt) * x0 + tt * y + bridge_sigma(tt, sigma_max) * eps


MAINS_HZ = (50.0, 60.0)
MAINS_HARMONICS = 7


def mains_map(sample_rate: torch.Tensor, *, n_fft: int, freq_bins: int) -> torch.Tensor:
    """``[B]`` sample rates -> ``[B, F]``: ~1 at the bins where 50/60 Hz hum and its harmonics land
    (aliases folded into 0..Nyquist), falling off over about one bin; 0 for a rate of 0 (unknown)."""
    rate = sample_rate.float().reshape(-1, 1, 1)
    k = torch.arange(1, MAINS_HARMONICS + 1, device=rate.device, dtype=torch.float32)
    lines = (torch.tensor(MAINS_HZ, device=rate.device)[:, None] * k).reshape(1, -1, 1)  # [1, L, 1]
    folded = torch.remainder(lines, rate.clamp(min=1e-6))
    folded = torch.minimum(folded, rate - folded)  # alias into [0, rate/2]
    position = folded / rate.clamp(min=1e-6) * n_fft  # in bins
    bins = torch.arange(freq_bins, device=rate.device, dtype=torch.float32).reshape(1, 1, -1)
    bumps = torch.exp(-0.5 * (bins - position) ** 2).amax(dim=1)  # [B, F]
    return bumps * (sample_rate.reshape(-1, 1) > 0)


class BridgeDenoiser(nn.Module):
    """``denoiser(x_t, t, cond, rate) -> x0 estimate`` on complex spectrograms ``[B, F, T]``.

    ``rate`` (``[B]`` sample rates of the signals) is only read by models with ``mains_map_input``.

    The backbone sees (x_t, y) as four real channels and returns a complex mask M and a
    complex residual R; the estimate is ``(mask_offset + M) * y + R``. Masking the condition keeps the
    easy part (keeping speech where the SNR is high) easy for a small network.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        freq_bins = config.stft.n_fft // 2 + 1
        self.crop = freq_bins % (2 ** len(config.net.channels))  # drop the top bin(s) so F halves cleanly
        self.net = build_backbone(
            config.net.name, in_channels=self.input_planes(config), out_channels=self.output_planes(config),
            freq_bins=freq_bins - self.crop, channels=config.net.channels, bottleneck=config.net.bottleneck,
            dilations=config.net.dilations, emb_dim=config.net.emb_dim, norm=config.net.norm,
            zero_head=config.mask_offset != 0, causal_min_dilation=config.net.causal_min_dilation)

    @staticmethod
    def input_planes(config: ModelConfig) -> int:
        """x_t and y (real, imaginary), then each optional input: log|y|, the mains map."""
        return 4 + config.log_magnitude_input + config.mains_map_input

    @staticmethod
    def output_planes(config: ModelConfig) -> int:
        """M and R, real and imaginary."""
        return 4

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                rate: torch.Tensor | None = None) -> torch.Tensor:
        keep = x_t.shape[-2] - self.crop
        x_in, y_in = x_t[..., :keep, :], cond[..., :keep, :]
        planes = [x_in.real, x_in.imag, y_in.real, y_in.imag]
        if self.config.log_magnitude_input:
            planes.append(torch.log(y_in.abs() + 1e-4))
        if self.config.mains_map_input:
            if rate is None:
                raise ValueError("this model needs the signals' sample rates (rate=...) for its mains-hum map")
            lines = mains_map(rate, n_fft=self.config.stft.n_fft, freq_bins=keep)
            planes.append(lines[:, :, None].expand_as(y_in.real).to(y_in.real.dtype))
        feats = torch.stack(planes, dim=1)
        out = self.net(feats, t).float()
        mask = torch.complex(out[:, 0] + self.config.mask_offset, out[:, 1])
        residual = torch.complex(out[:, 2], out[:, 3])
        est = mask * y_in + residual
        if self.crop:  # the dropped top bins carry almost nothing: pass them through attenuated
            est = torch.cat([est, cond[..., keep:, :] * 0.1], dim=-2)
        return est

    # The representation lives here too, so training and inference share one transform.
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveform ``[B, T]`` -> compressed complex spectrogram ``[B, F, frames]``."""
        return to_spec(wave, self.config.stft)

    def decode(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Compressed complex spectrogram -> waveform ``[B, length]``."""
        return from_spec(spec, self.config.stft, length=length)


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8,
           max_db: float | None = None) -> torch.Tensor:
    """Scale-invariant SDR in dB along the last axis (Le Roux et al. 2019).

    ``max_db`` makes it a training loss: the error is floored at ``10**(-max_db/10)`` of the target
    energy, so SI-SDR saturates softly at ``max_db``. Unbounded, an example whose output is already
    almost exact (clean in, clean out) has a gradient that grows without limit as its error shrinks;
    it swamps the batch and pins the network to passing its input through.
    """
    reference = reference - reference.mean(-1, keepdim=True)
    estimate = estimate - estimate.mean(-1, keepdim=True)
    scale = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + eps)
    target = scale * reference
    target_energy = target.pow(2).sum(-1)
    error_energy = (estimate - target).pow(2).sum(-1)
    if max_db is not None:
        error_energy = error_energy + 10 ** (-max_db / 10) * target_energy
    return 10 * torch.log10(target_energy / (error_energy + eps) + eps)


def snr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8,
        max_db: float | None = None) -> torch.Tensor:
    """Plain SNR in dB along the last axis: unlike :func:`si_sdr`, a wrong output level costs.

    ``max_db`` floors the error as in :func:`si_sdr`, for use as a training loss.
    """
    target_energy = reference.pow(2).sum(-1)
    error_energy = (estimate - reference).pow(2).sum(-1)
    if max_db is not None:
        error_energy = error_energy + 10 ** (-max_db / 10) * target_energy
    return 10 * torch.log10(target_energy / (error_energy + eps) + eps)


WAVEFORM_LOSSES = {"si_sdr": si_sdr, "snr": snr}


def sample_with_grad(denoiser: BridgeDenoiser, y: torch.Tensor, *, steps: int,
                     generator: torch.Generator | None = None, rate: torch.Tensor | None = None) -> torch.Tensor:
    """The ancestral bridge sampler of :func:`sigdenoise.sampling.sample_bridge` (eta = 1), differentiable:
    for training through the sampler. ``y`` ``[B, F, T]``; returns the final x0 estimate."""
    sigma_max = denoiser.config.bridge.sigma_max
    times = torch.linspace(1.0, 0.0, steps + 1, device=y.device)
    x = y
    for t, s in zip(times[:-1], times[1:]):
        x0 = denoiser(x, t.expand(y.shape[0]), y, rate)
        if s == 0:
            return x0
        x = x0 + (s / t) * (x - x0) + sigma_max * torch.sqrt(s * (t - s) / t) * complex_noise(
            y.shape, generator=generator, device=y.device)
    return x


def bridge_loss(denoiser: BridgeDenoiser, clean: torch.Tensor, noisy: torch.Tensor, *, t_one_prob: float,
                complex_weight: float, magnitude_weight: float, sisdr_weight: float,
                waveform_loss: str = "si_sdr", waveform_max_db: float = 30.0,
                generator: torch.Generator | None = None,
                rate: torch.Tensor | None = None, sampler_steps: int = 0) -> tuple[torch.Tensor, dict]:
    """Training loss on waveforms ``[B, T]``: draw t, form x_t, predict x0, compare.

    With ``sampler_steps`` = K > 0 the estimate is instead the output of the K-step sampler run from
    x_1 = y with gradients through every step (CRP-style: train the reverse process at the step count it
    is used at), so that K calls learn to do better than one rather than to undo each other's errors.

    A share ``t_one_prob`` of examples sits at t=1 (x_t = y), the first sampler step,
    which carries most of the work at the few steps we ship. ``waveform_loss`` names the
    waveform term weighted by ``sisdr_weight``: "si_sdr" (speech: the level is the listener's
    business) or "snr" (sensors: a trace's level is part of the measurement); beyond
    ``waveform_max_db`` an example counts as solved (see :func:`si_sdr`).
    """
    b = clean.shape[0]
    x0, y = denoiser.encode(clean), denoiser.encode(noisy)
    if sampler_steps:
        est = sample_with_grad(denoiser, y, steps=sampler_steps, generator=generator, rate=rate)
    else:
        t = torch.rand(b, generator=generator, device=clean.device)
        t = torch.where(torch.rand(b, generator=generator, device=clean.device) < t_one_prob, torch.ones_like(t), t)
        eps = complex_noise(x0.shape, generator=generator, device=clean.device)
        x_t = bridge_marginal(x0, y, t, eps, denoiser.config.bridge.sigma_max)
        est = denoiser(x_t, t, y, rate)
    complex_term = (est - x0).abs().pow(2).mean()
    magnitude_term = (est.abs() - x0.abs()).pow(2).mean()
    # The waveform term (SI-SDR or SNR) is undefined for a silent reference (noise-only examples): its
    # gradient there grows as the output shrinks and swamps the batch, so those are left to the spectral terms.
    speech = clean.pow(2).mean(-1) > 1e-10
    per_example = WAVEFORM_LOSSES[waveform_loss](denoiser.decode(est, clean.shape[-1]), clean,
                                                 max_db=waveform_max_db)
    waveform = (per_example * speech).sum() / speech.sum().clamp(min=1)
    loss = complex_weight * complex_term + magnitude_weight * magnitude_term - sisdr_weight * waveform
    return loss, {"loss": loss.item(), "complex": complex_term.item(), "magnitude": magnitude_term.item(),
                  waveform_loss: waveform.item()}
