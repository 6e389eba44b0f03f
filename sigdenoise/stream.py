"""Streaming denoise: feed samples as they arrive, get denoised samples back at a fixed delay.

The offline chunk plan (``DenoiseModel.denoise``: chunks of ``chunk_seconds`` crossfaded over
``overlap_seconds``) computed incrementally: each chunk is denoised block by block, every block in
a window of ``context`` past and ``lookahead`` future samples cut on the chunk's own STFT frame
grid (the network's output moves with the grid: half a hop apart, two runs agree to only 13 dB),
and blocks crossfade with the pipeline's raised-cosine ramp. ``flush`` denoises the last chunks
exactly as offline. Both draw the same sampler noise at every frame
(:class:`sigdenoise.sampling.PositionalNoise`) and cut the same chunks, so they differ where a block's
window sees less context than its chunk, and in the level the network is fed: offline knows the whole
signal's, a stream the running one (:mod:`sigdenoise.level`) unless told (``level``).
``model.stream(...)`` (:meth:`sigdenoise.pipeline.DenoiseModel.stream`) builds one.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

from .level import RunningLevel, level_settings
from .options import AdviceError
from .preprocess import plan_chunks, resample, resampled_length
from .steps import carry_top_band, check_rate, fall_back_to_input, suspect_samples

# Where no latency is given: half a second for models with a rate of their own (speech: 0.37 s of it
# look-ahead, where the network's receptive field reaches 0.6 s; see benchmarks/stream for what more buys);
# rate-agnostic (sensor) models count their context in samples, so their latency does too.
DEFAULT_LATENCY_SECONDS = 0.5
DEFAULT_LATENCY_MODEL_SAMPLES = 2048  # rate-agnostic models: samples at the input's own rate
# Of the latency, the block; the rest is look-ahead. On the looped rain recording at 0.5 s, fed the same level
# as offline, shares of 0.4 / 0.25 / 0.15 matched offline to 21 / 26 / 31.5 dB at 0.17 / 0.32 / 0.58 of real time
# (16 kHz, one thread): 0.15 would not keep 48 kHz input within half of real time.
BLOCK_SHARE = 0.25
RESAMPLING_MARGIN_SECONDS = 0.02  # input beyond a window's edges, so the resampler's edge never reaches it


def _fade_in(t: np.ndarray, start: float, width: int) -> np.ndarray:
    """The pipeline's raised-cosine ramp (``preprocess._ramp``) at model-rate positions ``t``: 0 before
    ``start``, 1 after ``start + width``; ``1 - _fade_in`` is its mirror, so the two sum to one."""
    return 0.5 - 0.5 * np.cos(math.pi * np.clip((t - start + 0.5) / width, 0.0, 1.0))


@dataclass(frozen=True)
class StreamPlan:
    """A stream's geometry in model-rate samples: each block of ``block`` samples is cut from a
    window reaching ``context + hop`` samples back and ``hop + lookahead`` ahead (``hop`` each side
    for the crossfade between blocks), clipped to the offline chunk it belongs to."""

    block: int
    lookahead: int
    context: int
    hop: int
    chunk: int
    overlap: int
    model_rate: float
    sample_rate: float

    @property
    def margin(self) -> int:
        """Input samples read past a window's end so per-window resampling has no edge inside it."""
        return 0 if self.sample_rate == self.model_rate else int(math.ceil(RESAMPLING_MARGIN_SECONDS
                                                                           * self.sample_rate))

    @property
    def latency(self) -> float:
        """Seconds from a sample's arrival to its output: a block's first sample (its crossfade) waits
        for the block, both crossfade halves, the look-ahead and the resampling margin."""
        return (self.block + 2 * self.hop + self.lookahead) / self.model_rate + self.margin / self.sample_rate


def plan_stream(*, latency: float | None, sample_rate: float, model_rate: float, hop: int, chunk: int,
                overlap: int, rate_agnostic: bool = False, reach: tuple[int, int] | None = None) -> StreamPlan:
    """Split ``latency`` (seconds) into block, look-ahead and crossfade; the past context matches block
    plus look-ahead (it costs compute, not delay). ``reach`` (samples back and ahead an output sample
    depends on, :meth:`DenoiseModel.reach_samples`): where the look-ahead covers it, the rest goes to the
    block (fewer network calls) and the context covers the reach back, so a block's window holds all its
    output depends on. All counts are model-rate samples."""
    if latency is None:
        latency = DEFAULT_LATENCY_MODEL_SAMPLES / sample_rate if rate_agnostic else DEFAULT_LATENCY_SECONDS
    if isinstance(latency, bool) or not isinstance(latency, numbers.Real) or not math.isfinite(latency):
        raise AdviceError(f"latency must be a number of seconds, got {latency!r}")
    margin = 0.0 if sample_rate == model_rate else RESAMPLING_MARGIN_SECONDS
    delay = int((latency - margin) * model_rate)
    if delay < 4 * hop:
        raise AdviceError(f"latency={latency:g} s is under 4 STFT hops of this model at {sample_rate:g} Hz; "
                          f"use at least {4 * hop / model_rate + margin:.3g} s")
    block = max(hop, int(BLOCK_SHARE * delay) // hop * hop)
    lookahead = delay - block - 2 * hop
    past = 0
    if reach is not None and lookahead >= reach[1]:  # a window can hold all a block depends on: make it so
        past, future = reach
        block = max(block, (delay - 2 * hop - future) // hop * hop)
        lookahead = delay - block - 2 * hop
    # (else a wider past buys nothing: stage 6 matched offline to 21.2 dB either way, at 0.35 or 0.41 of real time)
    context = int(math.ceil(max(block + lookahead, past) / hop)) * hop
    return StreamPlan(block=block, lookahead=lookahead, context=context, hop=hop, chunk=chunk, overlap=overlap,
                      model_rate=model_rate, sample_rate=sample_rate)


@dataclass(frozen=True)
class _Job:
    """One block of one offline chunk: the window the network sees and the stretch it contributes to."""

    chunk_start: int  # model-rate samples
    window: tuple[int, int]
    keep: tuple[int, int]
    fade_in: bool  # crossfade with the chunk's previous block at keep[0]
    fade_out: bool  # crossfade with the chunk's next block at keep[1]
    first_chunk: bool


class DenoiseStream:
    """Denoise a live signal chunk by chunk; build one with :meth:`DenoiseModel.stream`.

    ``process(chunk)`` takes ``(time,)`` or ``(channels, time)`` samples (numpy or torch) and returns
    the denoised samples that are ready, in the same container and dtype (``(mean, std)`` with
    ``return_std``); ``flush()`` returns the rest. All outputs together have exactly the input's
    length, delayed by at most :attr:`latency` seconds (the very first output also waits for the level's
    warm-up, :data:`sigdenoise.level.WARMUP_SECONDS`, where the latency is shorter). The level and offset
    the network is fed are those of everything received so far: the whole signal's, as offline, once
    the stream has run a while at a steady level. The network reads level (a 1 dB error moves the
    speech model's output by about -25 dB), so where the level is known ahead (``level``: the RMS,
    offset removed, at the model's rate; one, or one per channel) the stream uses it, and the same for
    the mean (``offset``), which a sensor model's output carries. Given both, a stream differs from
    offline only where its windows see less context than offline's chunks.
    """

    def __init__(self, model, *, sample_rate: float, channels: int = 1, latency: float | None = None,
                 steps: int | None = None, seed: int = 0, strength: float | None = None, num_samples: int = 1,
                 return_std: bool = False, remove_hum: bool = True, eta: float = 1.0, repair_nan: bool = False,
                 level: float | None = None, offset: float | None = None):
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise AdviceError(f"channels must be a whole number >= 1, got {channels!r}")
        if return_std and num_samples < 2:
            raise AdviceError(f"return_std=True needs a spread, and num_samples={num_samples} gives none: "
                              "ask for {num_samples} 8 (or more) posterior samples")
        if num_samples > 1 and not model.band_calibrated:
            raise AdviceError(f"this {model.config.task} model's uncertainty band is not calibrated, so it offers "
                              "none: use {num_samples} 1")
        self.model = model
        self.sample_rate = check_rate(sample_rate)
        self.channels = channels
        self.steps = model.resolve_steps(steps, num_samples=num_samples, eta=eta)
        self.seed, self.num_samples, self.return_std, self.eta = seed, num_samples, return_std, eta
        self.repair_nan = repair_nan
        if model.config.running_level and (level is not None or offset is not None):
            raise AdviceError("this model scales by the running level offline too, so its stream matches offline "
                              "without level= or offset=: leave them out")
        self.level = _per_channel(level, channels, "level", "a positive RMS", positive=True)
        self.offset = _per_channel(offset, channels, "offset", "a mean")
        self.strength = model.config.default_strength if strength is None else float(strength)
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"strength must be within [0, 1], got {strength}")
        self.model_rate = float(model.config.sample_rate or self.sample_rate)
        self.ratio = self.sample_rate / self.model_rate  # input samples per model sample
        self.network_rate = self.model_rate if remove_hum else 0.0
        self.full_band = bool(model.config.sample_rate) and self.sample_rate > self.model_rate
        if self.full_band:  # carry_top_band's filters: import now, not inside the first block's deadline
            import scipy.signal  # noqa: F401
        chunk, overlap = model.chunk_samples()
        self.plan = plan_stream(latency=latency, sample_rate=self.sample_rate, model_rate=self.model_rate,
                                hop=model.config.stft.hop_length, chunk=chunk, overlap=overlap,
                                rate_agnostic=not model.config.sample_rate, reach=model.reach_samples(self.steps))
        # Offline mirrors the signal before its start and after its end (DenoiseModel.edge_context); the
        # stream lays the leading mirror once it has that much input (until then it only gathers), counts
        # it as already emitted, and lays the trailing one when flushed. Positions count from the mirror.
        self._edge = model.edge_context(self.sample_rate)
        self._started = not self._edge
        self._buffer = np.zeros((channels, 0))  # input from absolute sample self._buffer_start on
        self._arrived: list[np.ndarray] = []  # chunks received since, not yet joined to the buffer
        self._buffer_start = 0
        self._received = self._edge
        self._real_end = math.inf  # where the input ends, once flushed (the trailing mirror follows)
        self._jobs: list[_Job] = []
        self._next_chunk = 0  # offline chunks before this one have their jobs in self._jobs (or done)
        self._emitted = self._edge
        self._acc = np.zeros((channels, 0))  # weighted sums of outputs from self._emitted on
        self._acc_std = np.zeros((channels, 0))
        self._weight = np.zeros(0)
        self._level = RunningLevel(channels, **level_settings(model.config.sample_rate, model.config.stft.hop_length))
        self._counted = self._edge  # input samples whose model-rate twins are in self._level (mirrors never are)
        self._real_start = resampled_length(self._edge, orig_sr=self.sample_rate, target_sr=self.model_rate)
        self._warm_input = self._to_input(self._real_start + self._level.warmup)  # the first window waits for it
        self._last_finite = np.zeros((channels, 1))
        self._like = None  # (is_torch, dtype, device, one_d) of the first chunk: outputs follow it
        self._closed = False

    @property
    def latency(self) -> float:
        """The delay in seconds from a sample's arrival to its output (not counting compute time)."""
        return self.plan.latency

    @property
    def startup(self) -> float:
        """The longest the first output waits, in seconds: the latency, or the running level's warm-up
        (plus the resampling margin) where that is longer."""
        warm = (self._warm_input - self._edge + self.plan.margin) / self.sample_rate
        return max(self.latency, warm)

    # ------------------------------------------------------------------ public
    def process(self, chunk):
        """Take new samples, ``(time,)`` or ``(channels, time)``; return the denoised samples now ready."""
        if self._closed:
            raise RuntimeError("this stream was flushed; start a new one with model.stream(...)")
        rows = self._accept(chunk)
        if rows.shape[-1]:
            self._arrived.append(rows)  # joined only when a window needs them: 20 ms chunks copy nothing big
            self._received += rows.shape[-1]
        if not self._started:
            if self._received - self._edge <= self._edge:  # the mirror needs edge + 1 samples
                return self._take(self._emitted)
            head = np.concatenate(self._arrived, axis=-1)
            self._buffer, self._arrived, self._started = head[:, self._edge:0:-1].copy(), [head], True
        ran = False
        while True:
            self._plan_jobs()
            job = self._jobs[0]
            if max(self._to_input(job.window[1]), self._warm_input) + self.plan.margin > self._received:
                break
            self._jobs.pop(0)
            self._run_job(job)
            ran = True
        if not ran:
            return self._take(self._emitted)
        out = self._take(max(self._emitted, self._to_input(min(job.keep[0] for job in self._jobs))))
        self._trim_buffer()
        return out

    def flush(self):
        """Denoise what is left (no more input is coming) and return it; the stream is then closed.

        The last offline chunk depends on where the signal ends (it is moved back to end there), so
        what is left is denoised as :meth:`DenoiseModel.denoise` denoises it."""
        if self._closed:
            raise RuntimeError("this stream was already flushed")
        self._closed = True
        end = self._received
        if end > self._emitted:
            if self._edge:
                self._lay_mirrors()
            self._real_end = end
            self._count_until(end)
            self._level.end()
            self._run_tail()
        return self._take(end)

    def _lay_mirrors(self) -> None:
        """The trailing mirror (and, for a stream shorter than the mirror, the leading one too), as offline's
        ``np.pad(..., mode="reflect")`` lays them."""
        edge = self._edge
        self._join_arrived()
        joined = self._buffer
        if not self._started:  # all the input is here: mirror it whole, as offline
            self._buffer = np.pad(joined, ((0, 0), (edge, edge)), mode="reflect")
            self._started = True
        else:  # the buffer still holds well over edge + 1 samples of input (a chunk's worth)
            real = joined[:, max(0, edge - self._buffer_start):]
            tail = np.pad(real[:, -(edge + 1):], ((0, 0), (0, edge)), mode="reflect")[:, -edge:]
            self._buffer = np.concatenate([joined, tail], axis=-1)
        self._received += edge

    # ------------------------------------------------------------------ schedule
    def _to_input(self, position: float) -> int:
        return int(round(position * self.ratio))

    def _plan_jobs(self) -> None:
        """Queue the blocks of the next offline chunk(s), so the queue always holds the next job."""
        plan = self.plan
        step = plan.chunk - plan.overlap
        while not self._jobs or self._next_chunk * step <= self._jobs[0].window[1]:
            s, k = self._next_chunk * step, self._next_chunk
            starts = list(range(s, s + plan.chunk, plan.block))
            for j, b0 in enumerate(starts):
                b1 = min(b0 + plan.block, s + plan.chunk)
                keep = (max(s, b0 - plan.hop), min(s + plan.chunk, b1 + plan.hop))
                window = (max(s, keep[0] - plan.context), min(s + plan.chunk, b1 + plan.hop + plan.lookahead))
                self._jobs.append(_Job(chunk_start=s, window=window, keep=keep, fade_in=j > 0,
                                       fade_out=b1 < s + plan.chunk, first_chunk=k == 0))
            self._next_chunk += 1
            self._jobs.sort(key=lambda job: job.window[1])

    def _weights(self, job: _Job, t: np.ndarray) -> np.ndarray:
        """Offline's chunk crossfade times the crossfade between this chunk's blocks, at model positions t."""
        plan = self.plan
        s, w = job.chunk_start, np.ones(len(t))
        if not job.first_chunk:
            w *= _fade_in(t, s, plan.overlap)
        w *= 1 - _fade_in(t, s + plan.chunk - plan.overlap, plan.overlap)
        if job.fade_in:
            w *= _fade_in(t, job.keep[0], 2 * plan.hop)
        if job.fade_out:
            w *= 1 - _fade_in(t, job.keep[1] - 2 * plan.hop, 2 * plan.hop)
        return w

    def _run_job(self, job: _Job) -> None:
        mean, std, start = self._denoise_span(*job.window, chunk_start=job.chunk_start)
        a, b = self._to_input(job.keep[0]), self._to_input(job.keep[1])
        w = self._weights(job, (np.arange(a, b) + 0.5) / self.ratio - 0.5)
        self._add(a, mean[:, a - start:b - start] * w, None if std is None else std[:, a - start:b - start] * w, w)

    def _run_tail(self) -> None:
        """Everything from the first offline chunk still open to the end, as offline denoises it."""
        n_model = resampled_length(self._received, orig_sr=self.sample_rate, target_sr=self.model_rate)
        plan = plan_chunks(n_model, chunk=self.plan.chunk, overlap=self.plan.overlap, grid=self.plan.hop)
        emitted = self._emitted / self.ratio
        k = next(k for k, s in enumerate(plan.starts) if s + plan.chunk > emitted)
        # Planned alone, a stretch of under a chunk would be one short chunk rather than offline's last
        # chunk moved back: start at a regular chunk far enough back to be over a chunk long.
        while k and n_model - plan.regular_start(k) <= plan.chunk:
            k -= 1
        first = plan.regular_start(k)
        mean, std, start = self._denoise_span(first, n_model, chunk_start=first, whole=True)
        a = self._emitted
        self._acc, self._acc_std = mean[:, a - start:], (np.zeros_like(mean) if std is None else std)[:, a - start:]
        self._weight = np.ones(self._acc.shape[-1])

    def _trim_buffer(self) -> None:
        # Keep what the next job's window and the tail can still read: the tail (flush) may start up to
        # two chunks before what is emitted (_run_tail).
        oldest = min(min(job.window[0] for job in self._jobs), self._emitted / self.ratio - 2 * self.plan.chunk)
        self._level.forget(int(oldest) - self._real_start)
        drop = max(0, self._to_input(oldest) - self.plan.margin) - self._buffer_start
        if drop > 0:
            self._buffer = self._buffer[:, drop:]
            self._buffer_start += drop

    # ------------------------------------------------------------------ input and output
    def _accept(self, chunk) -> np.ndarray:
        is_torch = isinstance(chunk, torch.Tensor)
        if is_torch:
            if chunk.is_complex():
                raise TypeError("complex samples: the stream takes real signals")
            info = (True, chunk.dtype, chunk.device, chunk.ndim == 1)
            rows = chunk.detach().cpu().double().numpy()
        else:
            chunk = np.asarray(chunk)
            if np.iscomplexobj(chunk) or not (np.issubdtype(chunk.dtype, np.floating)
                                              or np.issubdtype(chunk.dtype, np.integer)):
                raise TypeError(f"unsupported dtype {chunk.dtype}; pass float or integer samples")
            info = (False, chunk.dtype, None, chunk.ndim == 1)
            rows = chunk.astype(np.float64)
        if rows.ndim == 1:
            if self.channels != 1:
                raise ValueError(f"this stream has {self.channels} channels: pass (channels, time) chunks")
            rows = rows[None]
        if rows.ndim != 2 or rows.shape[0] != self.channels:
            raise ValueError(f"expected a (time,) or ({self.channels}, time) chunk, got shape {tuple(rows.shape)}; "
                             "a time-major array needs .T")
        if self._like is None:
            self._like = info
        bad = ~np.isfinite(rows)
        if bad.any():
            if not self.repair_nan:
                raise ValueError(f"{int(bad.sum())} samples of this chunk are NaN or Inf; pass repair_nan=True to "
                                 "hold the last finite value over them")
            rows = rows.copy()
            for r in range(self.channels):  # hold the last finite value: a stream cannot wait for the next one
                for i in np.flatnonzero(bad[r]):
                    rows[r, i] = rows[r, i - 1] if i else self._last_finite[r, 0]
        if rows.shape[-1]:
            self._last_finite = rows[:, -1:].copy()
        return rows

    def _add(self, at: int, values: np.ndarray, spread: np.ndarray | None, weights: np.ndarray) -> None:
        if at < self._emitted:  # the leading mirror: never handed out
            cut = self._emitted - at
            values, weights = values[:, cut:], weights[cut:]
            spread = None if spread is None else spread[:, cut:]
            at = self._emitted
        need = at + values.shape[-1] - self._emitted
        if need > self._weight.size:
            grow = need - self._weight.size
            self._acc = np.pad(self._acc, ((0, 0), (0, grow)))
            self._acc_std = np.pad(self._acc_std, ((0, 0), (0, grow)))
            self._weight = np.pad(self._weight, (0, grow))
        i = at - self._emitted
        self._acc[:, i:i + values.shape[-1]] += values
        if spread is not None:
            self._acc_std[:, i:i + values.shape[-1]] += spread
        self._weight[i:i + values.shape[-1]] += weights

    def _take(self, until: int):
        n = until - self._emitted
        weight = np.maximum(self._weight[:n], 1e-12)
        mean = self._acc[:, :n] / weight
        std = self._acc_std[:, :n] / weight if self.return_std else None
        self._acc, self._acc_std, self._weight = self._acc[:, n:], self._acc_std[:, n:], self._weight[n:]
        self._emitted = until
        mean = self._like_input(mean)
        return (mean, self._like_input(std)) if self.return_std else mean

    def _like_input(self, y: np.ndarray):
        is_torch, dtype, device, one_d = self._like or (False, np.dtype(np.float32), None, self.channels == 1)
        y = y[0] if one_d else y
        if is_torch:
            if dtype.is_floating_point:
                return torch.from_numpy(np.ascontiguousarray(y)).to(device=device, dtype=dtype)
            info = torch.iinfo(dtype)
            return torch.from_numpy(np.clip(np.rint(y), info.min, info.max)).to(device=device, dtype=dtype)
        if np.issubdtype(dtype, np.floating):
            return y.astype(dtype)
        info = np.iinfo(dtype)
        return np.clip(np.rint(y), info.min, info.max).astype(dtype)

    # ------------------------------------------------------------------ prepare -> sample -> restore
    def _join_arrived(self) -> None:
        if self._arrived:
            self._buffer = np.concatenate([self._buffer, *self._arrived], axis=-1)
            self._arrived = []

    def _count_until(self, stop: int) -> None:
        """Feed the running level the input before ``stop`` (input samples; the mirrors never count),
        at the model's rate."""
        stop = int(min(stop, self._real_end, self._received))
        if stop <= self._counted:
            return
        self._join_arrived()
        lo, hi = max(0, self._counted - self.plan.margin), min(self._received, stop + self.plan.margin)
        at_model = resample(self._buffer[:, lo - self._buffer_start:hi - self._buffer_start].astype(np.float32),
                            orig_sr=self.sample_rate, target_sr=self.model_rate)
        first = resampled_length(self._counted - lo, orig_sr=self.sample_rate, target_sr=self.model_rate)
        count = (resampled_length(stop, orig_sr=self.sample_rate, target_sr=self.model_rate)
                 - resampled_length(self._counted, orig_sr=self.sample_rate, target_sr=self.model_rate))
        self._level.add(at_model[:, first:first + count])
        self._counted = stop

    def _denoise_span(self, start_m: int, end_m: int, *, chunk_start: int, whole: bool = False):
        """Denoise model-rate samples ``[start_m, end_m)`` (read with a resampling margin either side)
        as ``DenoiseModel._denoise_group`` does; returns mean, spread (or None) and the first input sample
        they cover. ``whole``: the span is a run of offline chunks from ``chunk_start`` on, planned as
        offline plans them; else one window of the chunk that starts at ``chunk_start``."""
        model, config, margin = self.model, self.model.config, self.plan.margin
        self._count_until(max(self._to_input(end_m), self._warm_input))
        self._join_arrived()
        start, end = self._to_input(start_m), min(self._received, self._to_input(end_m))
        lo, hi = max(0, start - margin), min(self._received, end + margin)
        rows = self._buffer[:, lo - self._buffer_start:hi - self._buffer_start]
        at_model = resample(rows.astype(np.float32), orig_sr=self.sample_rate, target_sr=self.model_rate)
        head = resampled_length(start - lo, orig_sr=self.sample_rate, target_sr=self.model_rate)
        span = at_model[:, head:head + (end_m - start_m)]
        offset, level = self._level.track(start_m - self._real_start, start_m - self._real_start + span.shape[-1])
        if self.level is not None:  # the caller knows the whole signal's level: offline's gain from the start
            level = np.broadcast_to(self.level, level.shape)
        if self.offset is not None:  # and its mean: offline's offset from the start
            offset = np.broadcast_to(self.offset, offset.shape)
        silent = level < 1e-9
        gain = config.target_rms / np.maximum(level, 1e-9)
        scaled = torch.from_numpy(((span - offset) * gain).astype(np.float32)).to(model.device)
        step = self.plan.chunk - self.plan.overlap
        where = ({"first_chunk": chunk_start // step} if whole
                 else {"window_in": (chunk_start // step, start_m - chunk_start)})
        mean = m2 = None
        for j in range(self.num_samples):  # as offline: running mean and variance over posterior samples
            # a window lies inside one offline chunk, so it is never split; the tail is planned as offline
            sample = model._sample_rows(scaled, rate=self.network_rate, steps=self.steps, seed=self.seed + j,
                                        eta=self.eta, shifts=1, **where)
            sample = sample.cpu().double().numpy() / gain + (offset if config.keep_offset else 0.0)
            if j == 0:
                mean, m2 = sample, np.zeros_like(sample)
            else:
                delta = sample - mean
                mean = mean + delta / (j + 1)
                m2 += delta * (sample - mean)
        mean[silent] = span[silent]
        if config.fallback_below_db is not None:
            chunking = model.chunk_samples() if whole else (span.shape[-1], 0)
            # a saturated rail, as offline marks it (within what the window holds); a gap was held over, so no mark
            suspect = suspect_samples(span) if self.model_rate == self.sample_rate else None
            mean = fall_back_to_input(span, mean, chunking, below_db=config.fallback_below_db, suspect=suspect)
        # back to the input rate over the margins too (the input itself there), so the edge stays outside
        full = at_model.astype(np.float64)
        full[:, head:head + mean.shape[-1]] = mean
        mean = resample(full, orig_sr=self.model_rate, target_sr=self.sample_rate, length=hi - lo)
        if self.full_band:
            mean = mean + carry_top_band(rows, mean, sample_rate=self.sample_rate, model_sr=self.model_rate,
                                         stft=config.stft)
        mean = mean[:, start - lo:end - lo]
        if self.strength != 1.0:
            mean = self.strength * mean + (1 - self.strength) * rows[:, start - lo:end - lo]
        if not self.return_std:
            return mean, None, start
        spread = np.zeros_like(full)
        spread[:, head:head + m2.shape[-1]] = np.where(silent, 0.0, np.sqrt(m2 / self.num_samples)
                                                       * config.uncertainty_scale)
        spread = resample(spread, orig_sr=self.model_rate, target_sr=self.sample_rate, length=hi - lo).clip(min=0)
        return mean, self.strength * spread[:, start - lo:end - lo], start


def _per_channel(value, channels: int, name: str, what: str, *, positive: bool = False) -> np.ndarray | None:
    """A statistic known ahead: one for every channel or one per channel -> ``[channels, 1]`` (None stays None)."""
    if value is None:
        return None
    try:
        values = np.asarray(value, dtype=float) if not isinstance(value, bool) else np.array(np.nan)
    except (TypeError, ValueError):
        values = np.array(np.nan)
    valid = np.isfinite(values) & (values > 0) if positive else np.isfinite(values)
    if values.ndim > 1 or values.size not in (1, channels) or not np.all(valid):
        raise AdviceError(f"{name} must be {what} in the input's units (one, or one per channel), got {value!r}")
    return np.broadcast_to(values.reshape(-1, 1), (channels, 1)).copy()


# --------------------------------------------------------------------------- pipes
RAW_FORMATS = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}
PIPE_FORMATS = (*RAW_FORMATS, "text")


def pipe_stream(stream: DenoiseStream, reader, writer, *, format: str = "s16le", read_bytes: int = 4096) -> int:
    """Denoise what arrives on ``reader`` (a binary file, e.g. ``sys.stdin.buffer``) to ``writer``, as it comes.

    ``format``: ``s16le`` or ``f32le`` raw PCM with channels interleaved, or ``text``: one sample per line,
    channels separated by commas or spaces (a CSV line feed). Output goes in the same format and is flushed
    after every write. Returns the number of samples (per channel) written.
    """
    if format not in PIPE_FORMATS:
        raise ValueError(f"unknown format {format!r}; choose from {', '.join(PIPE_FORMATS)}")
    written = 0

    def emit(y) -> None:
        nonlocal written
        y = np.asarray(y).reshape(stream.channels, -1)
        if not y.shape[-1]:
            return
        if format == "text":
            writer.write("".join(",".join(f"{v:.6g}" for v in column) + "\n" for column in y.T).encode())
        else:
            if format == "s16le":
                y = np.clip(np.rint(y), -32768, 32767)
            writer.write(np.ascontiguousarray(y.T).astype(RAW_FORMATS[format]).tobytes())
        writer.flush()
        written += y.shape[-1]

    try:
        if format == "text":
            for line in reader:
                values = line.decode().replace(",", " ").split()
                if values:  # a blank line is no sample
                    emit(stream.process(np.array(values, np.float32)[:, None]))
        else:
            frame = RAW_FORMATS[format].itemsize * stream.channels
            pending = b""
            read = getattr(reader, "read1", reader.read)  # read1: whatever has arrived, without waiting for more
            while data := read(read_bytes):
                pending += data
                usable = len(pending) - len(pending) % frame
                samples = np.frombuffer(pending[:usable], RAW_FORMATS[format]).reshape(-1, stream.channels).T
                pending = pending[usable:]
                emit(stream.process(samples.astype(np.float32)))
    finally:  # end of input or Ctrl-C: what was read still comes out
        emit(stream.flush())
    return written
