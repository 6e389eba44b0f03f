"""Cheap checks on a finished result that a user should hear about, not discover.

A denoiser that erases most of a recording still returns a valid file, and an auto-scaled waveform
plot hides it; these checks compare the output with its input and return plain sentences for the
manifest, the CLI summary and the web UI. Imports nothing from the package.
"""
from __future__ import annotations

import numpy as np

QUIET_OVERALL_DB = 30.0  # whole-file level drop that is almost never what denoising should do
QUIET_WINDOW_DB = 40.0  # per-window drop that means the window was erased
QUIET_WINDOW_SHARE = 0.5  # ... in more than this share of the windows that held anything
ACTIVE_WINDOW_DBFS = -60.0  # windows quieter than this in the input are silence anyway


def _db(power: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.maximum(power, 1e-20))


def output_warnings(noisy: np.ndarray, denoised: np.ndarray, sample_rate: float, *,
                    audio: bool = True) -> list[str]:
    """Sentences about ``denoised`` that deserve a warning (empty when all is well).

    ``noisy`` and ``denoised`` are ``(time,)`` or ``(channels, time)`` at ``sample_rate``. Checks
    the level drop over the whole signal and per 1-second window, and, for audio, clipping
    (samples at or beyond full scale, which a file format will cut).
    """
    x = np.atleast_2d(np.asarray(noisy, dtype=np.float64))
    y = np.atleast_2d(np.asarray(denoised, dtype=np.float64))
    x = np.nan_to_num(x - np.nanmean(x, axis=-1, keepdims=True))
    y = np.nan_to_num(y - y.mean(axis=-1, keepdims=True))
    notes: list[str] = []
    in_power, out_power = np.mean(x ** 2), np.mean(y ** 2)
    if in_power > 0:
        drop = float(_db(in_power) - _db(out_power))
        if drop > QUIET_OVERALL_DB:
            notes.append(f"the output is {drop:.0f} dB quieter than the input: most of the signal was removed; "
                         "listen before using it, or lower the strength")
        else:
            window = max(1, int(round(sample_rate)))
            count = x.shape[-1] // window
            if count >= 2:
                cut = count * window
                xin = np.mean(x[:, :cut].reshape(x.shape[0], count, window) ** 2, axis=(0, 2))
                yout = np.mean(y[:, :cut].reshape(y.shape[0], count, window) ** 2, axis=(0, 2))
                active = _db(xin) > ACTIVE_WINDOW_DBFS
                erased = active & (_db(xin) - _db(yout) > QUIET_WINDOW_DB)
                if active.any() and erased.sum() > QUIET_WINDOW_SHARE * active.sum():
                    notes.append(f"{int(erased.sum())} of {int(active.sum())} seconds came out more than "
                                 f"{QUIET_WINDOW_DB:.0f} dB quieter than they went in: much of the signal was "
                                 "removed; listen before using it, or lower the strength")
    if audio:
        clipped = int(np.sum(np.abs(np.asarray(denoised)) >= 1.0)) - int(np.sum(np.abs(np.asarray(noisy)) >= 1.0))
        if clipped > 0:  # only what denoising added: a clipped recording stays clipped
            notes.append(f"{clipped} more output samples than input samples reach full scale; they will clip "
                         "in a fixed-point file")
    return notes
