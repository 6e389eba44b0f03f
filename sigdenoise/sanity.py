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
    check = OutputCheck(sample_rate, audio=audio)
    check.add(noisy, denoised)
    return check.notes()


class OutputCheck:
    """:func:`output_warnings` for a signal that arrives in pieces (a log too long to hold): ``add`` each
    piece of input beside its output, then ``notes``. Keeps sums per channel and 1-second window only, so
    the offset (each channel's mean over the whole signal) is removed at the end, as for a whole signal;
    NaN input samples count as lying at that mean."""

    def __init__(self, sample_rate: float, *, audio: bool = True):
        self.window = max(1, int(round(sample_rate)))
        self.audio = audio
        self.length = 0
        self.clipped = 0
        self._sums = np.zeros((0, 0, 6))  # [window, channel, (n, sum, sum of squares) of input, then of output]

    def add(self, noisy: np.ndarray, denoised: np.ndarray) -> None:
        x = np.atleast_2d(np.asarray(noisy, dtype=np.float64))
        y = np.atleast_2d(np.asarray(denoised, dtype=np.float64))
        if self.audio:  # only what denoising added: a clipped recording stays clipped
            self.clipped += int(np.sum(np.abs(y) >= 1.0)) - int(np.sum(np.abs(x) >= 1.0))
        if not self._sums.shape[1]:
            self._sums = np.zeros((0, x.shape[0], 6))
        first = self.length // self.window
        index = (self.length + np.arange(x.shape[-1])) // self.window - first
        count = int(index[-1]) + 1 if index.size else 0
        if first + count > self._sums.shape[0]:
            grown = np.zeros((max(first + count, 2 * self._sums.shape[0]), x.shape[0], 6))
            grown[:self._sums.shape[0]] = self._sums
            self._sums = grown
        for c in range(x.shape[0]):
            for k, values in enumerate((x[c], y[c])):
                finite = np.isfinite(values)
                v = np.where(finite, values, 0.0)
                for j, weights in enumerate((finite.astype(float), v, v * v)):
                    self._sums[first:first + count, c, 3 * k + j] += np.bincount(index, weights, minlength=count)
        self.length += x.shape[-1]

    def _power(self, sums: np.ndarray, total: np.ndarray) -> np.ndarray:
        """Mean square about each channel's whole-signal mean, per row of ``sums`` ``[rows, channel, 3]``,
        averaged over channels; ``total`` ``[channel, 3]`` gives the means."""
        mean = total[:, 1] / np.maximum(total[:, 0], 1)
        squares = sums[..., 2] - 2 * mean * sums[..., 1] + sums[..., 0] * mean ** 2
        return np.clip(squares, 0.0, None).sum(-1) / sums.shape[1]

    def notes(self) -> list[str]:
        notes: list[str] = []
        used = self._sums[:-(-self.length // self.window)] if self.length else self._sums[:0]
        total = used.sum(0)
        if used.size:
            in_power = self._power(total[None, :, :3], total[:, :3])[0] / self.length
            out_power = self._power(total[None, :, 3:], total[:, 3:])[0] / self.length
        else:
            in_power = out_power = 0.0
        if in_power > 0:
            drop = float(_db(in_power) - _db(out_power))
            if drop > QUIET_OVERALL_DB:
                notes.append(f"the output is {drop:.0f} dB quieter than the input: most of the signal was removed; "
                             "listen before using it, or lower the strength")
            else:
                count = self.length // self.window
                if count >= 2:
                    xin = self._power(used[:count, :, :3], total[:, :3]) / self.window
                    yout = self._power(used[:count, :, 3:], total[:, 3:]) / self.window
                    active = _db(xin) > ACTIVE_WINDOW_DBFS
                    erased = active & (_db(xin) - _db(yout) > QUIET_WINDOW_DB)
                    if active.any() and erased.sum() > QUIET_WINDOW_SHARE * active.sum():
                        notes.append(f"{int(erased.sum())} of {int(active.sum())} seconds came out more than "
                                     f"{QUIET_WINDOW_DB:.0f} dB quieter than they went in: much of the signal was "
                                     "removed; listen before using it, or lower the strength")
        if self.audio and self.clipped > 0:
            notes.append(f"{self.clipped} more output samples than input samples reach full scale; they will clip "
                         "in a fixed-point file")
        return notes
