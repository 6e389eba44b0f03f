"""The one place that chains prepare -> sample -> restore.

``load_model`` turns a checkpoint name or path into a :class:`DenoiseModel`; its
``denoise`` takes numpy or torch signals of any rate, shape and length and returns the
same type, shape and rate. The CLI, the batch runner and the web UI all call this.
"""
from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

import numpy as np
import torch

from .checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint
from .config import ModelConfig, check_sampler_request, to_dict
from .diffusion import BridgeDenoiser
from .level import level_settings, running_level
from .options import AdviceError
from .paths import available_models, checkpoint_dir  # noqa: F401  (the public API names them here)
from .preprocess import (find_nonfinite, overlap_add, plan_chunks, repair_nonfinite, resample, resampled_length,
                         split_chunks)
from .sampling import PositionalNoise, sample_bridge
from .steps import carry_top_band, check_rate, edge_span, fall_back_to_input, suspect_samples
from .stream import DenoiseStream

Signal = Union[np.ndarray, torch.Tensor]
MAX_SAMPLES = 2 ** 31 - 1
MAX_STEPS = 64  # the bridge is trained for a few calls; beyond this a call only burns time
MAX_ROWS_PER_SAMPLE = 4  # more "channels" than this many times the samples: a time-major array


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` means CUDA when present, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was asked for but no CUDA GPU is visible; use device='cpu' or 'auto'")
    return device


@dataclass
class DenoiseResult:
    """Posterior mean and spread, plus the mask of samples that were NaN/Inf in the input."""

    mean: Signal
    std: Signal | None
    repaired: np.ndarray | None


class DenoiseModel:
    """A loaded denoiser. Call :meth:`denoise`; everything about the model is in ``config``."""

    def __init__(self, network: BridgeDenoiser, config: ModelConfig, *, metadata: dict | None = None,
                 device: str | torch.device = "auto", batch_size: int = 16):
        self.config = config
        self.metadata = metadata or {}
        self.device = pick_device(device)
        self.network = network.to(self.device).eval()
        self.batch_size = batch_size
        self.max_group_samples = 4_000_000  # per group of rows at the model rate; bounds peak memory

    # ------------------------------------------------------------------ public
    def denoise(self, x: Signal, *, sample_rate: float, steps: int | None = None, seed: int = 0,
                num_samples: int = 1, return_std: bool = False, strength: float | None = None,
                repair_nan: bool = False, remove_hum: bool = True, eta: float = 1.0, shifts: int = 1,
                progress: Callable[[float], None] | None = None):
        """Denoise ``x`` and return the same type, shape, dtype and rate.

        Args:
            x: ``(time,)``, ``(channels, time)`` or ``(batch, channels, time)``; numpy or torch (any device).
            sample_rate: rate of ``x`` in Hz; the signal is resampled to the model's rate and back.
            steps: sampler network calls (default: the model's ``default_steps``, at least 2 when
                ``num_samples > 1``: one call from the noisy input is deterministic, so its samples agree).
            seed: seeds the sampler; the same seed gives the same output.
            num_samples: posterior samples to average; with ``return_std`` their spread is returned too.
            strength: 1 = fully denoised, 0 = the input unchanged (a dry/wet mix in between); default:
                the model's ``default_strength`` (``sigdenoise info`` shows it).
            repair_nan: fill NaN/Inf gaps by interpolation instead of raising.
            remove_hum: sensor models: treat 50/60 Hz mains lines (and their aliases at this rate) as
                likely hum. ``False`` for logs whose signal itself sits there (mains current or voltage):
                the network is then not told where mains lines fall, and leaves them to the signal.
                Models without a mains map (speech) ignore it.
            eta: 1 = ancestral bridge sampling, 0 = deterministic.
            shifts: average the estimates over this many placements of the STFT frame grid (the input
                delayed by ``k * hop / shifts`` samples, k = 0..shifts-1); each placement costs one more pass.
                The frames' edges then fall in different places, and errors tied to them average out.
                Only with ``num_samples=1``: averaged samples would understate the calibrated spread.
            progress: called with the fraction done.

        Returns ``y`` or, with ``return_std=True``, ``(mean, std)``.
        """
        if return_std and num_samples < 2:
            raise AdviceError(f"return_std=True needs a spread, and num_samples={num_samples} gives none: "
                              "ask for {num_samples} 8 (or more) posterior samples")
        result = self.denoise_detailed(x, sample_rate=sample_rate, steps=steps, seed=seed, num_samples=num_samples,
                                       strength=strength, repair_nan=repair_nan, remove_hum=remove_hum, eta=eta,
                                       shifts=shifts, progress=progress)
        return (result.mean, result.std) if return_std else result.mean

    def denoise_detailed(self, x: Signal, *, sample_rate: float, steps: int | None = None, seed: int = 0,
                         num_samples: int = 1, strength: float | None = None, repair_nan: bool = False,
                         remove_hum: bool = True, eta: float = 1.0, shifts: int = 1,
                         progress: Callable[[float], None] | None = None) -> DenoiseResult:
        """Like :meth:`denoise`, returning a :class:`DenoiseResult` (mean, std, repaired-sample mask)."""
        steps = self.resolve_steps(steps, num_samples=num_samples, eta=eta, shifts=shifts)
        strength = self.config.default_strength if strength is None else strength
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be within [0, 1], got {strength}")
        if shifts > self.config.stft.hop_length:  # a delay of under one sample
            raise ValueError(f"shifts must be at most the hop length ({self.config.stft.hop_length}), got {shifts}")
        sample_rate = check_rate(sample_rate)
        if num_samples > 1 and not self.band_calibrated:
            raise AdviceError(f"this {self.config.task} model's uncertainty band is not calibrated (a '90 %' band "
                              "of it would cover far less), so it offers none: use {num_samples} 1, or calibrate "
                              "the model first (sigdenoise calibrate)")

        is_torch = isinstance(x, torch.Tensor)
        if not is_torch and not isinstance(x, np.ndarray):
            x = np.asarray(x)
        shape, dtype = tuple(x.shape), x.dtype
        if len(shape) not in (1, 2, 3):
            raise ValueError(f"expected (time,), (channels, time) or (batch, channels, time); got shape {shape}")
        if shape[-1] == 0:
            raise ValueError("the signal is empty (0 samples); nothing to denoise")
        if is_torch and not (x.is_floating_point() or x.dtype in (torch.int16, torch.int32)):
            raise TypeError(f"unsupported tensor dtype {x.dtype}; pass float32/float64 samples")
        if (x.is_complex() if is_torch else np.iscomplexobj(x)):
            raise TypeError("complex samples: denoise takes real signals; pass the real and imaginary parts "
                            "as two channels (or as two calls)")
        if not is_torch and not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
            raise TypeError(f"unsupported dtype {dtype}; pass float or integer samples")
        n_rows = math.prod(shape[:-1])
        if n_rows > MAX_ROWS_PER_SAMPLE * shape[-1] and n_rows > 64:
            # (100000, 2) is almost always 100,000 samples of 2 channels, time-major
            raise AdviceError(f"got {n_rows} channels of {shape[-1]} samples each: the last axis is time, so this "
                              f"looks like a time-major array; pass {{layout}} (for numpy, x.T)")

        rows = x.detach().cpu().numpy() if is_torch else np.asarray(x)
        rows = rows.reshape(-1, shape[-1])
        if not np.issubdtype(rows.dtype, np.floating):
            rows = rows.astype(np.float32)
        # what the input itself gets wrong (gaps, a saturated sensor's rails), for the models that hand back
        # what they barely change: those samples take the estimate, the rest may come back as they came.
        # Only where samples line up with the model's (no resampling, no mirrored edges: sensor models).
        lined_up = not self.config.sample_rate or self.config.sample_rate == sample_rate
        suspect = (suspect_samples(rows) if self.config.fallback_below_db is not None and lined_up
                   and not self.edge_context(sample_rate) else None)
        repaired = find_nonfinite(rows)
        if repaired.any():  # only then copy: a 10-minute stereo file should not be held twice
            rows, repaired = repair_nonfinite(rows, repair=repair_nan, name="input")
        model_sr = self.config.sample_rate or sample_rate  # 0 = rate-agnostic: run at the input's rate
        # The network reads the rate only to place mains lines (diffusion.mains_map); 0 means "none".
        network_rate = model_sr if remove_hum else 0.0
        n_model = resampled_length(shape[-1], orig_sr=sample_rate, target_sr=model_sr)
        if n_model < 1:
            raise ValueError(f"{shape[-1]} samples at {sample_rate} Hz is shorter than one sample at the model's "
                             f"{model_sr} Hz; pass a longer signal")

        # Rows go through in groups of bounded size: a 10-minute stereo file never holds more than
        # one channel's intermediates at once, while many short rows still share network batches.
        est = np.empty(rows.shape, dtype=rows.dtype)
        std = np.empty(rows.shape, dtype=rows.dtype) if num_samples > 1 else None
        per_group = max(1, self.max_group_samples // n_model)
        n_groups = math.ceil(len(rows) / per_group)
        full_band = self.config.sample_rate and sample_rate > model_sr
        for g, start in enumerate(range(0, len(rows), per_group)):
            report = None if progress is None else (lambda f, g=g: progress((g + f) / n_groups))
            mean_g, std_g = self._denoise_group(rows[start:start + per_group], sample_rate=sample_rate,
                                                model_sr=model_sr, steps=steps, seed=seed, num_samples=num_samples,
                                                network_rate=network_rate, eta=eta, shifts=shifts,
                                                progress=report, first_row=start,
                                                suspect=None if suspect is None else suspect[start:start + per_group])
            if full_band:  # the model never saw the band above its Nyquist: hand it back at the model's top gain
                mean_g = mean_g + carry_top_band(rows[start:start + per_group], mean_g, sample_rate=sample_rate,
                                                 model_sr=model_sr, stft=self.config.stft)
            if strength == 1.0:
                est[start:start + per_group] = mean_g
            else:
                est[start:start + per_group] = strength * mean_g + (1 - strength) * rows[start:start + per_group]
            if std is not None:
                std[start:start + per_group] = strength * std_g
        return DenoiseResult(mean=_like(est, x, shape, dtype, is_torch),
                             std=None if std is None else _like(std, x, shape, dtype, is_torch),
                             repaired=repaired.reshape(shape) if repaired.any() else None)

    def _denoise_group(self, rows: np.ndarray, *, sample_rate: float, model_sr: float, steps: int, seed: int,
                       num_samples: int, network_rate: float, eta: float, shifts: int,
                       progress, first_row: int = 0,
                       suspect: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """prepare -> sample -> restore for a few rows ``[R, T]`` (``first_row`` onwards of the signal's);
        returns mean and spread at the input rate. ``suspect``: :func:`~sigdenoise.steps.suspect_samples` of
        the rows, for the fall-back (None where the model's samples do not line up with the input's)."""
        n = rows.shape[-1]
        edge = self.edge_context(sample_rate)
        if edge:  # the signal mirrored at either end, outside its level and offset: context for first and last words
            rows = np.pad(rows, ((0, 0), (edge, edge)), mode="reflect")
        at_model_rate = resample(rows, orig_sr=sample_rate, target_sr=model_sr)
        lead, stop = edge_span(at_model_rate.shape[-1], edge, orig_sr=sample_rate, target_sr=model_sr)
        if self.config.running_level:  # per hop, what a stream knows by then: the two match (sigdenoise.level)
            offset, level = running_level(at_model_rate, **level_settings(self.config.sample_rate,
                                                                          self.config.stft.hop_length),
                                          lead=lead, trail=at_model_rate.shape[-1] - stop)
            centred = at_model_rate - offset
        else:
            offset = at_model_rate[:, lead:stop].mean(-1, keepdims=True, dtype=np.float64)
            centred = at_model_rate - offset
            level = np.sqrt(np.mean(centred[:, lead:stop] ** 2, axis=-1, keepdims=True))
        restored_offset = offset if self.config.keep_offset else 0.0
        # an all-zero (or constant) row, or stretch, passes through untouched
        silent = np.broadcast_to(level < 1e-9, at_model_rate.shape)
        gain = self.config.target_rms / np.maximum(level, 1e-9)
        scaled = torch.from_numpy((centred * gain).astype(np.float32)).to(self.device)
        del centred

        mean = m2 = None
        for k in range(num_samples):  # running mean and variance (Welford): no stack of all samples
            report = None if progress is None else (lambda f, k=k: progress((k + f) / num_samples))
            sample = self._sample_rows(scaled, rate=network_rate, steps=steps, seed=seed + k, eta=eta,
                                       shifts=shifts, progress=report, first_row=first_row)
            sample = sample.cpu().double().numpy() / gain + restored_offset
            if k == 0:
                mean, m2 = sample, np.zeros_like(sample) if num_samples > 1 else None
            else:
                delta = sample - mean
                mean = mean + delta / (k + 1)
                m2 += delta * (sample - mean)
        mean[silent] = at_model_rate[silent]
        if self.config.fallback_below_db is not None:
            mean = fall_back_to_input(at_model_rate, mean, self.chunk_samples(), below_db=self.config.fallback_below_db,
                                      suspect=suspect)
        padded = n + 2 * edge
        mean = resample(mean.astype(rows.dtype, copy=False), orig_sr=model_sr, target_sr=sample_rate,
                        length=padded)[:, edge:edge + n]
        if num_samples == 1:
            return mean, None
        spread = np.sqrt(m2 / num_samples) * self.config.uncertainty_scale
        spread[silent] = 0.0
        return mean, resample(spread, orig_sr=model_sr, target_sr=sample_rate,
                              length=padded)[:, edge:edge + n].clip(min=0)

    def edge_context(self, sample_rate: float) -> int:
        """Samples mirrored before and after a signal at ``sample_rate`` (``edge_context_seconds``)."""
        return int(round(self.config.edge_context_seconds * sample_rate))

    def stream(self, *, sample_rate: float, channels: int = 1, latency: float | None = None,
               steps: int | None = None, seed: int = 0, strength: float | None = None, num_samples: int = 1,
               return_std: bool = False, remove_hum: bool = True, eta: float = 1.0, repair_nan: bool = False,
               level: float | None = None, offset: float | None = None):
        """A :class:`sigdenoise.stream.DenoiseStream`: ``process(chunk)`` returns the denoised samples
        ready so far, ``flush()`` the rest, ``latency`` the delay in seconds (default: 0.5 s for speech,
        2048 samples for rate-agnostic sensor models; lower means less look-ahead and less quality).
        ``level`` and ``offset``: the input's RMS and mean where they are known ahead (else the running
        ones of what has arrived).
        The other options are :meth:`denoise`'s."""
        return DenoiseStream(self, sample_rate=sample_rate, channels=channels, latency=latency, steps=steps,
                             seed=seed, strength=strength, num_samples=num_samples, return_std=return_std,
                             remove_hum=remove_hum, eta=eta, repair_nan=repair_nan, level=level,
                             offset=offset)

    def adapt(self, signals, *, sample_rate, minutes: float | None = None, keep_worse: bool = False,
              progress: Callable[[int, int, float], None] | None = None, **settings) -> "DenoiseModel":
        """A copy of this model fine-tuned on ``signals`` alone, with no clean references (:mod:`sigdenoise.adapt`).

        ``signals``: one ``(time,)`` / ``(channels, time)`` array (numpy or torch) or a list of them;
        ``sample_rate``: one rate or one per signal. ``minutes`` bounds the whole run (default 10).
        This model is left untouched. The result's ``adapt_report`` says, from a self-supervised check on
        a held-aside share of the signals, whether it got better; a worse one raises
        :class:`sigdenoise.adapt.AdaptWorseError` (holding the model and the report) unless ``keep_worse``.
        """
        from .adapt import AdaptSettings, AdaptWorseError, adapt_model, recordings_from_arrays

        if minutes is not None:
            settings["minutes"] = minutes
        adapted, report = adapt_model(self, recordings_from_arrays(signals, sample_rate), AdaptSettings(**settings),
                                      progress=progress)
        adapted.adapt_report = report
        if not report.better and not keep_worse:
            raise AdaptWorseError(adapted, report)
        return adapted

    def with_config(self, config: ModelConfig) -> "DenoiseModel":
        """The same network (shared, not copied) under another config: calibration and checks try settings
        on it without changing the model they were handed."""
        twin = copy.copy(self)
        twin.config = config
        return twin

    @property
    def band_calibrated(self) -> bool:
        """Whether ``sigdenoise calibrate`` fitted this model's band (only then is a "90 %" band offered)."""
        return "calibration" in (self.metadata.get("training") or {})

    def resolve_steps(self, steps: int | None, *, num_samples: int = 1, eta: float = 1.0, shifts: int = 1) -> int:
        """The sampler steps a call runs: ``steps``, or the model's default (>= 2 for several samples).

        Requests that cannot work (:func:`sigdenoise.config.check_sampler_request`) raise ``ValueError``.
        """
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, numbers.Integral)
                                  or not 1 <= steps <= MAX_STEPS):
            raise AdviceError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}; "
                              "set {steps} or leave it out for the model's default")
        check_sampler_request(steps, num_samples, shifts)
        if steps is None:
            steps = self.config.bridge.default_steps
            return max(steps, 2) if num_samples > 1 and eta > 0 else steps
        return int(steps)

    def info(self) -> dict:
        """Config, parameter count and the data/training summary stored in the checkpoint."""
        return {"config": to_dict(self.config),
                "parameters": sum(p.numel() for p in self.network.parameters()),
                "device": str(self.device), **{k: v for k, v in self.metadata.items() if k != "config"}}

    # ------------------------------------------------------------------ internals
    def reach_samples(self, steps: int) -> tuple[int, int]:
        """How many model-rate samples before and after an output sample its value depends on, at
        ``steps`` sampler calls (each call reads the last one's estimate, so the reach adds up). A
        frame spans ``n_fft`` samples about its centre: half of it each way at the input, half at the output."""
        back, ahead = self.network.net.reach_frames()
        hop, n_fft = self.config.stft.hop_length, self.config.stft.n_fft
        return steps * back * hop + n_fft, steps * ahead * hop + n_fft

    def chunk_samples(self) -> tuple[int, int]:
        """Chunk length and overlap in samples at the model's rate.

        Rate-agnostic models (``sample_rate = 0``) count their chunk "seconds" as 1000 samples.
        """
        sr = self.config.sample_rate or 1000
        return int(self.config.chunk_seconds * sr), int(self.config.overlap_seconds * sr)

    def _sample_rows(self, rows: torch.Tensor, *, rate: float, steps: int, seed: int, eta: float, shifts: int,
                     progress=None, **where) -> torch.Tensor:
        """Rows ``[R, T]`` at the model rate -> estimate, averaged over ``shifts`` placements of the frame grid;
        ``where`` places the rows in the whole signal (:meth:`_sample_chunks`)."""
        total = None
        for k in range(shifts):
            delay = k * self.config.stft.hop_length // shifts
            report = None if progress is None else (lambda f, k=k: progress((k + f) / shifts))
            delayed = torch.nn.functional.pad(rows, (delay, 0)) if delay else rows  # pad copies, even by 0
            estimate = self._sample_chunks(delayed, rate=rate, steps=steps, seed=seed, eta=eta,
                                           progress=report, **where)[..., delay:]
            total = estimate if total is None else total.add_(estimate)
        return total / shifts if shifts > 1 else total

    def _sample_chunks(self, rows: torch.Tensor, *, rate: float, steps: int, seed: int, eta: float,
                       progress=None, first_row: int = 0, first_chunk: int = 0,
                       window_in: tuple[int, int] | None = None) -> torch.Tensor:
        """Rows ``[R, T]`` -> estimate, chunk by chunk. The sampler's noise is a function of (seed, row,
        chunk, frame) (:class:`sigdenoise.sampling.PositionalNoise`), never of batch sizes or of how many
        chunks follow: ``first_row`` and ``first_chunk`` place ``rows`` in the whole signal (a stream's
        tail starts at a later chunk), and ``window_in`` = (chunk index, offset in samples) marks them as
        one window inside that chunk (a stream's block), which then draws that chunk's noise."""
        chunk, overlap = self.chunk_samples()
        hop = self.config.stft.hop_length
        if window_in is None:
            plan = plan_chunks(rows.shape[-1], chunk=chunk, overlap=overlap, grid=hop)
            # frames count from each chunk's regular start: the last chunk, moved back, starts before 0
            noise = [PositionalNoise((seed, first_row + r, first_chunk + k), (start - plan.regular_start(k)) // hop)
                     for r in range(rows.shape[0]) for k, start in enumerate(plan.starts)]
        else:
            plan = plan_chunks(rows.shape[-1], chunk=rows.shape[-1], overlap=0)
            index, offset = window_in
            assert offset % hop == 0, "a window starts on its chunk's frame grid"
            noise = [PositionalNoise((seed, first_row + r, index), offset // hop) for r in range(rows.shape[0])]
        chunks = split_chunks(rows, plan)  # [rows, count, chunk]
        flat = chunks.reshape(-1, plan.chunk)
        out = torch.empty_like(flat)
        use_amp = self.device.type == "cuda"
        # With a progress callback, at least ~8 reports per call, so a 30 s input does not sit at 0 %.
        size = self.batch_size if progress is None else max(1, min(self.batch_size, math.ceil(len(flat) / 8)))
        for start in range(0, flat.shape[0], size):
            batch = flat[start:start + size]
            with torch.no_grad(), torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_amp):
                spec = self.network.encode(batch)
                est = sample_bridge(self.network, spec, steps=steps, sigma_max=self.config.bridge.sigma_max,
                                    eta=eta, generator=noise[start:start + size],
                                    rate=torch.full((len(batch),), float(rate), device=self.device))
                out[start:start + size] = self.network.decode(est.to(torch.complex64), plan.chunk)
            if progress is not None:
                progress(min(1.0, (start + len(batch)) / flat.shape[0]))
        return overlap_add(out.reshape(chunks.shape), plan)


def _like(y: np.ndarray, x: Signal, shape, dtype, is_torch: bool) -> Signal:
    """``y`` in the input's container, shape and dtype; integer samples are rounded and clipped to range."""
    y = y.reshape(shape)
    if is_torch:
        if dtype.is_floating_point:
            return torch.from_numpy(y).to(device=x.device, dtype=dtype)
        info = torch.iinfo(dtype)
        return torch.from_numpy(np.clip(np.rint(y), info.min, info.max)).to(device=x.device, dtype=dtype)
    if np.issubdtype(dtype, np.floating):
        return y.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.rint(y), info.min, info.max).astype(dtype)


def load_model(name_or_path: str | Path = "speech", *, device: str | torch.device = "auto",
               batch_size: int = 16) -> DenoiseModel:
    """Load a bundled model by name (``"speech"``, ``"sensor"``) or a ``.safetensors`` path."""
    path = resolve_checkpoint(name_or_path)
    state, config, meta = load_checkpoint(path)
    network = BridgeDenoiser(config)
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: tensors do not fit the network its config describes ({exc})") from exc
    meta = {**meta, "path": str(path)}
    return DenoiseModel(network, config, metadata=meta, device=device, batch_size=batch_size)
