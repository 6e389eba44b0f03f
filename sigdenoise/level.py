"""The running offset and level a stream feeds the network.

The network reads level: scaling its input by 1 dB moves the speech model's output by about -25 dB.
Offline ``denoise`` centres and scales a signal by its whole mean and RMS; a stream cannot know those
before the signal ends, so it uses the statistics of what has arrived: the samples of STFT hop ``k``
(counted from the signal's real start) are centred and scaled by the mean and RMS of the input before
that hop, and never of fewer than its first ``warmup`` samples (or all of it, when shorter). After a
while at a steady level these settle on the whole signal's.

A model whose config sets ``running_level`` is fed the running statistics offline too
(:func:`running_level`), so a stream matches it exactly; it is trained on openings scaled that way
(:func:`scale_as_opening`). A model trained on whole-segment levels loses by it: on the 80 unseen-source
mixtures (3.5 s each) stage 6 lost 0.9 dB SI-SDR and 0.05 PESQ, as a clip that opens with noise is scaled
as if the noise were the voice; such models keep the whole signal's statistics offline.
"""
from __future__ import annotations

import math

import numpy as np

WARMUP_SECONDS = 0.25  # models with a rate of their own: the first estimate waits for this much input
WARMUP_MODEL_SAMPLES = 1024  # rate-agnostic (sensor) models: half their default stream latency
# The level never sits more than ATTACK_RATIO below the RMS of the last ATTACK_SECONDS (rate-agnostic
# models: ATTACK_MODEL_SAMPLES) up to and including the sample it scales. Without it, speech that starts
# after near-silence (a muted microphone: -100 dB) reached the network 100 dB too loud and came out 200
# times louder than it went in, until the running RMS caught up; 12 dB stays clear of ordinary speech,
# whose half-second RMS rarely exceeds its long-term RMS by that much.
ATTACK_SECONDS = 0.5
ATTACK_MODEL_SAMPLES = 2048
ATTACK_RATIO = 4.0


def warmup_samples(sample_rate: float, hop: int) -> int:
    """The warm-up in model-rate samples, a whole number of hops; ``sample_rate`` 0 means rate-agnostic."""
    n = WARMUP_SECONDS * sample_rate if sample_rate else WARMUP_MODEL_SAMPLES
    return max(1, math.ceil(n / hop)) * hop


def attack_samples(sample_rate: float) -> int:
    """The attack window in model-rate samples; ``sample_rate`` 0 means rate-agnostic."""
    return int(ATTACK_SECONDS * sample_rate) if sample_rate else ATTACK_MODEL_SAMPLES


def level_settings(sample_rate: float, hop: int) -> dict:
    """``hop``, ``warmup`` and ``attack`` of the running level for a model at ``sample_rate`` (0: rate-agnostic)
    with STFT hop ``hop``: one definition for the stream, offline and training, which must scale alike."""
    return {"hop": hop, "warmup": warmup_samples(sample_rate, hop), "attack": attack_samples(sample_rate)}


class RunningLevel:
    """Sums of a signal's samples and squares at every hop boundary, fed in order by :meth:`add`.

    :meth:`track` gives the offset and RMS that apply to a stretch of positions (model-rate samples
    from the real start; the mirrored edges lie before 0 and after the end). Prefix sums older than
    :meth:`forget` allows are dropped, so a stream of any length holds a bounded amount.
    """

    def __init__(self, channels: int, *, hop: int, warmup: int, attack: int = 0):
        self.hop, self.warmup, self.attack = hop, warmup, attack
        self.count = 0  # samples added
        self.final: int | None = None  # the signal's length, once it has ended
        self._first_hop = 0  # self._sums[:, :, i] holds the prefix sums at hop boundary self._first_hop + i
        self._sums = np.zeros((2, channels, 1))  # (sum, sum of squares), float64
        self._tail = np.zeros((2, channels, 0))  # the samples of the current, unfinished hop
        self._recent = np.zeros((channels, 0))  # raw samples from self._recent_start on, for the attack
        self._recent_start = 0

    def add(self, x: np.ndarray) -> None:
        """Append samples ``[channels, n]``."""
        x = np.asarray(x, np.float64)
        self.count += x.shape[-1]
        if self.attack:
            self._recent = np.concatenate([self._recent, x], axis=-1)
        pending = np.concatenate([self._tail, np.stack([x, x * x])], axis=-1)
        whole = pending.shape[-1] // self.hop * self.hop
        if whole:
            per_hop = pending[..., :whole].reshape(*pending.shape[:2], -1, self.hop).sum(-1)
            self._sums = np.concatenate([self._sums, self._sums[..., -1:] + np.cumsum(per_hop, axis=-1)], axis=-1)
        self._tail = pending[..., whole:]

    def end(self) -> None:
        """No more samples: positions past the end take the statistics of the whole signal."""
        self.final = self.count

    def needs(self, stop: int) -> int:
        """Samples that must have been added before :meth:`track` can serve positions up to ``stop``."""
        last_hop_start = max(0, (stop - 1) // self.hop * self.hop)
        return max(self.warmup, last_hop_start)

    def _prefix(self, ends: np.ndarray) -> np.ndarray:
        """Prefix sums ``[2, channels, len(ends)]`` at sample counts ``ends`` (hop boundaries, or the count)."""
        out = np.empty((*self._sums.shape[:2], len(ends)))
        on_grid = ends % self.hop == 0
        idx = ends[on_grid] // self.hop - self._first_hop
        if len(idx) and idx.min() < 0:
            raise RuntimeError("level statistics asked for a stretch already forgotten")
        out[..., on_grid] = self._sums[..., idx]
        if not on_grid.all():  # only the signal's end, inside its last hop
            assert np.all(ends[~on_grid] == self.count)
            out[..., ~on_grid] = (self._sums[..., -1] + self._tail.sum(-1))[..., None]
        return out

    def track(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Offset and RMS ``[channels, stop - start]`` (float64) for positions ``start..stop-1``."""
        first, last = math.floor(start / self.hop), math.floor((stop - 1) / self.hop)
        hops = np.arange(first, last + 1)
        ends = np.maximum(hops * self.hop, self.warmup)
        limit = self.count if self.final is None else self.final
        ends = np.minimum(ends, limit)
        if self.final is None and np.any(ends < np.maximum(hops * self.hop, self.warmup)):
            raise RuntimeError(f"level statistics need {self.needs(stop)} samples, have {self.count}")
        sums = self._prefix(ends)
        n = np.maximum(ends, 1)
        mean = sums[0] / n
        level = np.sqrt(np.maximum(sums[1] / n - mean ** 2, 0.0))
        at = np.arange(start, stop) // self.hop - first  # each position's hop
        level = level[:, at]
        if self.attack:
            level = np.maximum(level, self._recent_rms(start, stop, limit) / ATTACK_RATIO)
        return mean[:, at], level

    def _recent_rms(self, start: int, stop: int, limit: int) -> np.ndarray:
        """RMS (about its own mean) of the ``attack`` samples up to and including each position, inside
        the signal: 0 before it, the last ``attack`` samples after it."""
        lo = max(0, min(start, limit) - self.attack + 1)
        hi = max(lo, min(stop, limit))
        if lo < self._recent_start:
            raise RuntimeError("level statistics asked for a stretch already forgotten")
        x = self._recent[:, lo - self._recent_start:hi - self._recent_start]
        zero = np.zeros((x.shape[0], 1))
        s1, s2 = np.concatenate([zero, np.cumsum(x, -1)], -1), np.concatenate([zero, np.cumsum(x * x, -1)], -1)
        ends = np.clip(np.arange(start, stop) + 1, 0, limit)  # window (ends - attack, ends]
        begins = np.clip(ends - self.attack, 0, None)
        ends, begins = np.maximum(ends, lo) - lo, np.maximum(begins, lo) - lo
        n = np.maximum(ends - begins, 1)
        mean = (s1[:, ends] - s1[:, begins]) / n
        return np.sqrt(np.maximum((s2[:, ends] - s2[:, begins]) / n - mean ** 2, 0.0))

    def forget(self, before: int) -> None:
        """Drop prefix sums for positions before ``before`` (never the warm-up's)."""
        keep_from = max(before, self.warmup) // self.hop - 1
        drop = keep_from - self._first_hop
        if drop > 0:
            self._sums = self._sums[..., drop:]
            self._first_hop += drop
        drop = min(before - self.attack, self.count) - self._recent_start
        if self.attack and drop > 0:
            self._recent = self._recent[:, drop:]
            self._recent_start += drop


def running_level(x: np.ndarray, *, hop: int, warmup: int, attack: int = 0, lead: int = 0,
                  trail: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Offline: the offset and RMS a stream would use at every sample of ``x`` ``[channels, lead + n + trail]``,
    whose first ``lead`` and last ``trail`` samples are mirrored edges outside the statistics."""
    n = x.shape[-1] - lead - trail
    track = RunningLevel(x.shape[0], hop=hop, warmup=warmup, attack=attack)
    track.add(x[:, lead:lead + n])
    track.end()
    return track.track(-lead, n + trail)


def scale_as_opening(clean: np.ndarray, noisy: np.ndarray, *, hop: int, warmup: int, attack: int,
                     target_rms: float, keep_offset: bool) -> tuple[np.ndarray, np.ndarray]:
    """Training examples ``[B, n]`` centred and scaled as a ``running_level`` model is fed the opening of a
    signal: by the running offset and RMS of the noisy input, hop by hop (the target gets the same gain)."""
    offset, level = running_level(noisy, hop=hop, warmup=warmup, attack=attack)
    gain = target_rms / np.maximum(level, 1e-9)
    target = (clean - offset) * gain if keep_offset else clean * gain
    return target.astype(clean.dtype), ((noisy - offset) * gain).astype(noisy.dtype)
