"""Pure signal preparation: resampling, STFT, level normalisation, chunking, NaN repair.

This is the "prepare" and "restore" step of load -> prepare -> sample -> restore
-> save. Nothing here knows about models or files; every function takes typed,
keyword-explicit arguments and returns new arrays or tensors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import numpy as np
import torch

from .config import StftConfig

Array = Union[np.ndarray, torch.Tensor]


# --------------------------------------------------------------------------- resampling
def resampled_length(n: int, *, orig_sr: float, target_sr: float) -> int:
    """Output length of :func:`resample`: ``round(n * target_sr / orig_sr)``."""
    return int(round(n * float(target_sr) / float(orig_sr)))


def resample(x: Array, *, orig_sr: float, target_sr: float, length: int | None = None) -> Array:
    """Resample along the last axis to ``target_sr``.

    The output has ``length`` samples, by default ``round(n * target_sr / orig_sr)``. Going there and
    back does not always return to ``n`` samples (48001 -> 16000 -> 48000), so the way back passes
    the original length.

    Both numpy and torch input go through soxr (VHQ); torch output comes back on the input's device.
    """
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got orig_sr={orig_sr}, target_sr={target_sr}")
    n = x.shape[-1]
    n_out = resampled_length(n, orig_sr=orig_sr, target_sr=target_sr) if length is None else int(length)
    if (orig_sr == target_sr and n_out == n) or n == 0:
        return x.clone() if isinstance(x, torch.Tensor) else np.array(x, copy=True)
    if orig_sr == target_sr:
        return _fix_length(x, n_out)
    if isinstance(x, torch.Tensor):
        return _resample_torch(x, orig_sr=orig_sr, target_sr=target_sr, n_out=n_out)
    return _resample_numpy(np.asarray(x), orig_sr=orig_sr, target_sr=target_sr, n_out=n_out)


def _fix_length(y: Array, n_out: int) -> Array:
    """Trim, or extend by repeating the last sample (resamplers can land a sample or two short)."""
    n = y.shape[-1]
    if n >= n_out:
        return y[..., :n_out]
    if isinstance(y, torch.Tensor):
        mode = "replicate" if n else "constant"
        return torch.nn.functional.pad(y.reshape(-1, 1, n), (0, n_out - n), mode=mode).reshape(*y.shape[:-1], n_out)
    pad = [(0, 0)] * (y.ndim - 1) + [(0, n_out - n)]
    return np.pad(y, pad, mode="edge" if n else "constant")


def _resample_numpy(x: np.ndarray, *, orig_sr: float, target_sr: float, n_out: int) -> np.ndarray:
    import soxr

    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1]).astype(dtype, copy=False)  # soxr works in float32 or float64
    # soxr wants [time, channels]; it keeps length close to exact, we trim/pad the last sample.
    y = soxr.resample(flat.T, orig_sr, target_sr, quality="VHQ")
    y = np.asarray(y).T.reshape(*lead, -1) if flat.shape[0] else np.zeros((*lead, n_out))
    return _fix_length(y, n_out).astype(dtype, copy=False)


def _resample_torch(x: torch.Tensor, *, orig_sr: float, target_sr: float, n_out: int) -> torch.Tensor:
    """Through soxr on the CPU and back to ``x``'s device and dtype: every caller resamples on the CPU
    anyway (the network runs at its own rate on prepared arrays), so one resampler serves both."""
    dtype = x.dtype if x.is_floating_point() else torch.float32
    y = _resample_numpy(x.detach().cpu().numpy(), orig_sr=orig_sr, target_sr=target_sr, n_out=n_out)
    return torch.from_numpy(np.ascontiguousarray(y)).to(device=x.device, dtype=dtype)


def stft(x: torch.Tensor, *, n_fft: int, hop_length: int) -> torch.Tensor:
    """Complex STFT with a periodic Hann window, centred. ``Tensor[..., T] -> Tensor[..., F, frames]``."""
    window = torch.hann_window(n_fft, periodic=True, device=x.device, dtype=x.dtype)
    lead = x.shape[:-1]
    # Reflect padding needs more than n_fft/2 samples; very short signals pad with zeros instead.
    pad_mode = "reflect" if x.shape[-1] > n_fft // 2 else "constant"
    spec = torch.stft(x.reshape(-1, x.shape[-1]), n_fft=n_fft, hop_length=hop_length, window=window,
                      center=True, pad_mode=pad_mode, return_complex=True)
    return spec.reshape(*lead, *spec.shape[-2:])


def istft(spec: torch.Tensor, *, n_fft: int, hop_length: int, length: int) -> torch.Tensor:
    """Inverse of :func:`stft`, exact up to float rounding for the same settings."""
    real_dtype = torch.float64 if spec.dtype == torch.complex128 else torch.float32
    window = torch.hann_window(n_fft, periodic=True, device=spec.device, dtype=real_dtype)
    lead = spec.shape[:-2]
    x = torch.istft(spec.reshape(-1, *spec.shape[-2:]), n_fft=n_fft, hop_length=hop_length, window=window,
                    center=True, length=length)
    return x.reshape(*lead, length)


def _scale_magnitude(spec: torch.Tensor, power: float, gain: float) -> torch.Tensor:
    """``gain * |X|^power * exp(i angle X)``, as ``X * gain * |X|^(power - 1)``: a real factor on X, so no
    complex exponential (which took 7 % of a CPU denoise call). Bins at exactly 0 stay 0."""
    mag = spec.abs()
    return spec * (gain * mag.clamp_min(torch.finfo(mag.dtype).tiny).pow(power - 1.0))


def compress(spec: torch.Tensor, *, alpha: float, scale: float) -> torch.Tensor:
    """Amplitude-compressed complex spectrogram ``scale * |X|^alpha * exp(i angle X)``."""
    if alpha == 1.0:
        return spec * scale
    return _scale_magnitude(spec, alpha, scale)


def decompress(spec: torch.Tensor, *, alpha: float, scale: float) -> torch.Tensor:
    """Inverse of :func:`compress`."""
    if alpha == 1.0:
        return spec / scale
    return _scale_magnitude(spec, 1.0 / alpha, scale ** (-1.0 / alpha))


def to_spec(x: torch.Tensor, config: StftConfig) -> torch.Tensor:
    """Waveform ``[..., T]`` to the compressed complex spectrogram ``[..., F, frames]``."""
    return compress(stft(x, n_fft=config.n_fft, hop_length=config.hop_length), alpha=config.alpha, scale=config.scale)


def from_spec(spec: torch.Tensor, config: StftConfig, *, length: int) -> torch.Tensor:
    """Compressed complex spectrogram back to a waveform of ``length`` samples."""
    return istft(decompress(spec, alpha=config.alpha, scale=config.scale), n_fft=config.n_fft,
                 hop_length=config.hop_length, length=length)


# --------------------------------------------------------------------------- level
def remove_dc(x: Array) -> Array:
    """Subtract the mean along the last axis."""
    return x - x.mean(-1, keepdims=True) if isinstance(x, np.ndarray) else x - x.mean(-1, keepdim=True)


def rms(x: Array) -> Array:
    """Root mean square along the last axis, keeping that axis."""
    if isinstance(x, torch.Tensor):
        return x.pow(2).mean(-1, keepdim=True).sqrt()
    return np.sqrt(np.mean(np.square(x), axis=-1, keepdims=True))


def normalise(x: Array, *, target_rms: float = 0.05, eps: float = 1e-8) -> tuple[Array, Array]:
    """Scale each row to ``target_rms``; returns the scaled signal and the gain to undo it."""
    gain = target_rms / (rms(x) + eps)
    return x * gain, gain


def restore_level(x: Array, *, gain: Array) -> Array:
    """Undo :func:`normalise`."""
    return x / gain


# --------------------------------------------------------------------------- chunking
@dataclass(frozen=True)
class ChunkPlan:
    """Where chunks of ``chunk`` samples start in a signal of ``length`` samples.

    Chunks advance by ``chunk - overlap``, except the last, which is moved back towards the signal's
    end, so that it holds the signal's own last samples with their context rather than padding (a chunk
    that ends in padding makes the network treat its real part differently: the bundled speech model
    left the last 0.25-0.5 s of long files noisy). It moves back by whole ``grid`` steps (the STFT hop),
    keeping the frame grid of the regular chunk it stands in for, which is the grid a stream cuts its
    blocks on before it knows where the signal ends; so it may run past the end by under one step, into
    the signal mirrored there (:func:`split_chunks`). What it holds before its regular start is context
    only (:func:`chunk_weights`).
    """

    length: int
    chunk: int
    overlap: int
    grid: int = 1

    @property
    def step(self) -> int:
        return self.chunk - self.overlap

    @property
    def count(self) -> int:
        if self.length <= self.chunk:
            return 1
        return 1 + math.ceil((self.length - self.chunk) / self.step)

    def regular_start(self, k: int) -> int:
        """Where chunk ``k`` would start had it not moved: its frame grid's origin."""
        return k * self.step

    @property
    def starts(self) -> list[int]:
        starts = [self.regular_start(k) for k in range(self.count)]
        overhang = starts[-1] + self.chunk - self.length
        if overhang > 0:
            starts[-1] -= overhang // self.grid * self.grid
        return starts

    @property
    def padded_length(self) -> int:
        return self.starts[-1] + self.chunk


def plan_chunks(length: int, *, chunk: int, overlap: int, grid: int = 1) -> ChunkPlan:
    """Plan chunks of ``chunk`` samples overlapping by at least ``overlap`` samples, the last one moved
    back by whole ``grid`` steps (:class:`ChunkPlan`)."""
    if not 0 <= 2 * overlap <= chunk or chunk < 1:
        # Beyond half a chunk, three chunks would overlap and the pairwise crossfades no longer sum to one.
        raise ValueError(f"need 0 <= overlap <= chunk / 2, got overlap={overlap}, chunk={chunk}")
    if length <= chunk:
        return ChunkPlan(length=length, chunk=max(length, 1), overlap=0)
    return ChunkPlan(length=length, chunk=chunk, overlap=overlap, grid=grid)


def split_chunks(x: torch.Tensor, plan: ChunkPlan, *, pad: str = "reflect") -> torch.Tensor:
    """``Tensor[..., T] -> Tensor[..., count, chunk]`` (a copy). Past the signal's end (under one grid
    step, or a short signal's one chunk) it holds the signal mirrored there (``pad="reflect"``) or zeros
    (``"zeros"``: for masks, and for signals too short to mirror)."""
    short = plan.padded_length - x.shape[-1]
    if short > 0:
        if pad == "reflect" and short < x.shape[-1]:  # as np.pad(mode="reflect") lays it
            x = torch.cat([x, x[..., -1 - short:-1].flip(-1)], dim=-1)
        else:
            x = torch.nn.functional.pad(x, (0, short))
    return torch.stack([x[..., s:s + plan.chunk] for s in plan.starts], dim=-2)


def _ramp(n: int, dtype, device) -> torch.Tensor:
    """Raised-cosine fade-in of ``n`` samples; it and its mirror image sum to one."""
    t = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return (0.5 - 0.5 * torch.cos(math.pi * t)).to(dtype=dtype, device=device)


def chunk_weights(plan: ChunkPlan, *, dtype=torch.float32, device=None) -> torch.Tensor:
    """``[count, chunk]`` crossfade weights of :func:`overlap_add`, before normalisation: a
    raised-cosine ramp of ``overlap`` samples at every edge a chunk shares with a neighbour."""
    w = torch.ones(plan.count, plan.chunk, dtype=dtype, device=device)
    if plan.count > 1:
        # The last chunk, moved back, weighs in from its regular start on, with the regular ramp: what it
        # holds before that is context, so the crossfades are those of the regular grid (a stream's).
        lead = plan.regular_start(plan.count - 1) - plan.starts[-1]
        w[-1, :lead] = 0
        if plan.overlap:
            ramp = _ramp(plan.overlap, dtype, device)
            w[1:-1, :plan.overlap] *= ramp
            w[-1, lead:lead + plan.overlap] *= ramp
            w[:-1, -plan.overlap:] *= ramp.flip(0)
    return w


def overlap_add(chunks: torch.Tensor, plan: ChunkPlan) -> torch.Tensor:
    """Reassemble ``Tensor[..., count, chunk]``: crossfades at the seams, normalised so the weights
    at every sample sum to one.

    The fade-out of one chunk and the fade-in of the next already sum to one (the last chunk, moved
    back, fades in at its regular start); the normalisation keeps every stretch a true weighted mean all
    the same. Identical chunks reassemble to the input.
    """
    lead = chunks.shape[:-2]
    size = chunks.shape[-1]
    w = chunk_weights(plan, dtype=chunks.dtype if chunks.is_floating_point() else torch.float32,
                      device=chunks.device)
    out = torch.zeros(*lead, plan.padded_length, dtype=chunks.dtype, device=chunks.device)
    total = torch.zeros(plan.padded_length, dtype=w.dtype, device=chunks.device)
    for k, start in enumerate(plan.starts):
        out[..., start:start + size] += chunks[..., k, :] * w[k]
        total[start:start + size] += w[k]
    return (out / total)[..., : plan.length]


# --------------------------------------------------------------------------- NaN / Inf
class NonFiniteError(ValueError):
    """The signal holds NaN or Inf samples and the caller did not ask for repair."""


def find_nonfinite(x: np.ndarray) -> np.ndarray:
    """Boolean mask of NaN/Inf samples."""
    return ~np.isfinite(x)


def repair_nonfinite(x: np.ndarray, *, repair: bool, name: str = "signal") -> tuple[np.ndarray, np.ndarray]:
    """Check for NaN/Inf; raise, or fill gaps by linear interpolation along the last axis.

    Returns the (possibly repaired) copy and the mask of repaired samples, shape of ``x``.
    """
    x = np.asarray(x)
    mask = find_nonfinite(x)
    if not mask.any():
        return np.array(x, copy=True), mask
    if not repair:
        raise NonFiniteError(
            f"{name}: {int(mask.sum())} of {mask.size} samples are NaN or Inf; pass repair_nan=True to fill "
            "them by interpolation (a mask of what was filled is returned), or clean the input first")
    out = np.array(x, dtype=np.float64, copy=True)
    flat = out.reshape(-1, out.shape[-1])
    flat_mask = mask.reshape(-1, mask.shape[-1])
    for row, bad in zip(flat, flat_mask):
        good = ~bad
        if not good.any():
            raise NonFiniteError(f"{name}: a channel has no finite samples at all; nothing to interpolate from")
        idx = np.arange(row.size)
        row[bad] = np.interp(idx[bad], idx[good], row[good])
    return out.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64), mask
