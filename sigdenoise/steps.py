"""Prepare and restore steps that offline denoising (:mod:`sigdenoise.pipeline`) and streaming
(:mod:`sigdenoise.stream`) both take, so the two cannot drift apart: the rate check, where a signal lies
inside its edge mirrors, handing chunks the model barely changes back as they came, and carrying the band
above the model's Nyquist through.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from .options import AdviceError
from .preprocess import overlap_add, plan_chunks, resample, resampled_length, split_chunks

MAX_RATE_HZ = 1e9


def check_rate(sample_rate) -> float:
    """A positive, finite sample rate in Hz as a float; numpy scalars are fine, ``True`` is not."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise AdviceError(f"sample_rate must be a number of Hz, got {sample_rate!r}; set {{sample_rate}}")
    rate = float(sample_rate)
    if not (math.isfinite(rate) and 0 < rate <= MAX_RATE_HZ):
        raise AdviceError(f"sample_rate must be a positive number of Hz up to {MAX_RATE_HZ:g}, got {sample_rate!r}; "
                          "set {sample_rate}")
    return rate


def edge_span(n_model: int, edge: int, *, orig_sr: float, target_sr: float) -> tuple[int, int]:
    """Where the signal lies, at the model's rate, in ``n_model`` samples of it padded by ``edge`` input samples
    either side."""
    lead = resampled_length(edge, orig_sr=orig_sr, target_sr=target_sr) if edge else 0
    return lead, max(lead + 1, n_model - lead)


FALLBACK_RAMP_DB = 3.0


def correction_db(noisy: torch.Tensor, estimate: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Energy of ``estimate - noisy`` relative to ``noisy``'s own (mean removed), in dB, along the last
    axis; ``valid`` (1/0, same shape) leaves padding out of both."""
    valid = torch.ones_like(noisy) if valid is None else valid
    count = valid.sum(-1, keepdim=True).clamp(min=1)
    centred = (noisy - (noisy * valid).sum(-1, keepdim=True) / count) * valid
    change = ((estimate - noisy) * valid).pow(2).sum(-1)
    return 10 * torch.log10(change.clamp(min=1e-30) / centred.pow(2).sum(-1).clamp(min=1e-30))


# A rail: a row's finite maximum (or minimum) held by at least this many samples, and by this many times as
# many as the next value inward. A saturated sensor piles every sample beyond its range onto one value; a
# trace that merely peaks holds its extreme once, and a coarse ADC's top step holds fewer than the steps
# inside it (the tail of the trace's distribution).
RAIL_MIN_SAMPLES = 3
RAIL_RATIO = 3.0
GAP, UPPER_RAIL, LOWER_RAIL = 1, 2, 3  # the kinds of samples the input itself gets wrong (``suspect_samples``)


def _rail(row: np.ndarray, finite: np.ndarray, upper: bool) -> np.ndarray:
    values = row[finite] if upper else -row[finite]
    if values.size < 2 * RAIL_MIN_SAMPLES:
        return np.zeros(row.shape, dtype=bool)
    top = values.max()
    held = int(np.count_nonzero(values == top))
    inward = values[values < top]
    if not inward.size or held < max(RAIL_MIN_SAMPLES, RAIL_RATIO * np.count_nonzero(inward == inward.max())):
        return np.zeros(row.shape, dtype=bool)
    return finite & ((row if upper else -row) == top)


def suspect_samples(rows: np.ndarray) -> np.ndarray:
    """Per sample of ``rows`` ``[R, T]``, what the input itself gets wrong: ``GAP`` (NaN or Inf), ``UPPER_RAIL``
    or ``LOWER_RAIL`` (held at a saturated sensor's limit, whose true value lies beyond it), else 0. Shape
    of ``rows``, int8."""
    rows = np.asarray(rows)
    out = np.zeros(rows.shape, dtype=np.int8)
    for row, marks in zip(rows.reshape(-1, rows.shape[-1]), out.reshape(-1, rows.shape[-1])):  # views of out
        finite = np.isfinite(row)
        marks[~finite] = GAP
        marks[_rail(row, finite, upper=True)] = UPPER_RAIL
        marks[_rail(row, finite, upper=False)] = LOWER_RAIL
    return out


def fall_back_to_input(noisy: np.ndarray, estimate: np.ndarray, chunking: tuple[int, int], *,
                       below_db: float, suspect: np.ndarray | None = None) -> np.ndarray:
    """Per chunk of the model's own chunking: the input where the correction is under ``below_db`` (dB),
    the estimate above ``below_db + FALLBACK_RAMP_DB``, a linear blend between; chunks crossfade as in
    sampling, so no seam appears where neighbours decide differently. Rows ``[R, T]``.

    ``suspect`` (:func:`suspect_samples`, same shape): samples the input itself gets wrong take the estimate
    whatever the chunk decides, and are left out of its decision, so that a nearly clean log with a gap or
    a saturated stretch comes back as it came everywhere else; at a rail the estimate is kept beyond the
    rail, where the true value lies."""
    chunk, overlap = chunking
    plan = plan_chunks(noisy.shape[-1], chunk=chunk, overlap=overlap)
    x, y = torch.from_numpy(np.asarray(noisy, np.float64)), torch.from_numpy(np.asarray(estimate, np.float64))
    trusted = torch.ones_like(x)
    if suspect is not None:
        y = torch.where(torch.from_numpy(suspect == UPPER_RAIL), torch.maximum(x, y), y)
        y = torch.where(torch.from_numpy(suspect == LOWER_RAIL), torch.minimum(x, y), y)
        trusted = torch.from_numpy((suspect == 0).astype(np.float64))
    x_chunks, y_chunks = split_chunks(x, plan), split_chunks(y, plan)
    valid = split_chunks(trusted, plan, pad="zeros")
    keep = ((correction_db(x_chunks, y_chunks, valid) - below_db) / FALLBACK_RAMP_DB).clamp(0.0, 1.0)
    out = x + overlap_add(keep[..., None] * (y_chunks - x_chunks), plan)
    return torch.where(trusted > 0, out, y).numpy().astype(estimate.dtype)


TOP_BAND = (0.70, 0.95)  # of the model's Nyquist: where the model's own gain is read for the band above


def carry_top_band(rows: np.ndarray, estimate: np.ndarray, *, sample_rate: float, model_sr: float,
                   stft) -> np.ndarray:
    """The part of ``rows`` above the model's Nyquist, scaled frame by frame by the gain the model
    applied just below it; add it to ``estimate`` to hand back a full-band signal.

    A model that runs at 16 kHz never sees 8-24 kHz of a 48 kHz recording; dropping that band
    muffles every clean recording, and passing it through unchanged keeps its noise. The model's
    gain in its own top band (estimate over input energy, per STFT hop, capped at 1) is the best
    guess it offers for the band above. Rows ``[R, T]`` at ``sample_rate``; returns ``[R, T]``.
    """
    from scipy.signal import butter, sosfiltfilt

    n = rows.shape[-1]
    seen = resample(resample(rows, orig_sr=sample_rate, target_sr=model_sr), orig_sr=model_sr,
                    target_sr=sample_rate, length=n)
    above = rows - seen
    nyquist = model_sr / 2
    sos = butter(4, [TOP_BAND[0] * nyquist, TOP_BAND[1] * nyquist], btype="bandpass", fs=sample_rate, output="sos")
    frame = max(1, int(round(stft.hop_length * sample_rate / model_sr)))
    count = max(1, n // frame)

    def energy(x: np.ndarray) -> np.ndarray:  # per hop, in the top band; row by row to bound memory
        out = np.zeros((x.shape[0], count))
        for r, row in enumerate(x):
            band = sosfiltfilt(sos.astype(row.dtype), row) if n > 27 else row  # filtfilt pads a few samples
            band = np.pad(band, (0, count * frame - n)) if count * frame > n else band[:count * frame]
            out[r] = np.mean(np.square(band.reshape(count, frame), dtype=np.float64), axis=-1)
        return out

    gain = np.sqrt(energy(estimate) / np.maximum(energy(seen), 1e-20)).clip(0.0, 1.0)
    del seen
    centres = (np.arange(count) + 0.5) * frame
    for r in range(len(above)):
        above[r] *= np.interp(np.arange(n), centres, gain[r]).astype(above.dtype, copy=False)
    return above.astype(rows.dtype, copy=False)
