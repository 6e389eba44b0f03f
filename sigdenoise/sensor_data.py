"""Sensor-trace training examples: real clean series, corrupted on the fly by named recipes.

The "prepare" side of the sensor model: :func:`sigdenoise.sources.prepare_sensor` writes
real series (ECG, seismometers, accelerometers, appliance power/current, ...) at their
native rate into a cache; :class:`SensorCorruptor` cuts segments from them and applies a
factory-noise recipe from :data:`RECIPES`. The readers for the formats those series ship in
live in :mod:`sigdenoise.sensor_formats`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .config import DataConfig
from .paths import CACHE
from .preprocess import repair_nonfinite
from .synth import coloured_noise

# --------------------------------------------------------------------------- hold-out rule
# Whole series families are held out, never parts of a record, so validation measures
# traces of a kind the model never saw: a pressure sensor (pig CVP), a different
# accelerometer set-up (Daphnet), a second ECG (not MIT-BIH record 208), and two wide-band
# families sampled far above the rest (bearing acoustic emission at 500 kHz, motor sound at 50 kHz).
# The two seismometers recorded the same ground motion side by side: they stay together
# (both train). The benchmark imports this same rule.
VALIDATION_SENSOR_GROUPS = frozenset({"pigcvp", "daphnet", "ecg-pywt", "bearing-ae", "motor-sound"})


def is_sensor_validation(entry: dict) -> bool:
    """True when a sensor manifest entry belongs to the held-out validation split."""
    return entry["group"] in VALIDATION_SENSOR_GROUPS


# --------------------------------------------------------------------------- corruption recipes
# Every recipe is a pure function ``recipe(clean, rng, sample_rate, *, snr_db) -> noisy``
# (float64, same length; ``dropouts`` leaves NaNs). ``snr_db`` is the severity range:
# additive recipes draw their SNR from it; the others map a drawn SNR to their own knob,
# documented per recipe. ``sample_rate`` is the series' true rate in Hz.
SNR_DB = (-5.0, 20.0)
Recipe = Callable[..., np.ndarray]


def _signal_power(clean: np.ndarray) -> float:
    """Power of the clean trace about its mean: a sensor's DC offset is not signal to protect."""
    return float(np.var(clean)) + 1e-20


def _scaled(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``noise`` scaled so that var(clean) / mean(noise**2) is ``snr_db``; zero noise stays zero."""
    p_noise = float(np.mean(noise ** 2))
    if p_noise < 1e-30:  # e.g. hum aliased exactly onto DC and then centred away
        return np.zeros_like(noise)
    return noise * math.sqrt(_signal_power(clean) / (p_noise * 10 ** (snr_db / 10)))


def _affected_share(snr: float, cap: float) -> float:
    """Share of samples a non-additive recipe touches for a drawn SNR: 10^(-SNR/10), capped."""
    return float(min(cap, 10 ** (-snr / 10)))


def white(clean, rng, sample_rate, *, snr_db=SNR_DB):
    """White Gaussian sensor noise at an SNR drawn from ``snr_db``."""
    noise = rng.standard_normal(clean.size)
    return clean + _scaled(clean, noise - noise.mean(), rng.uniform(*snr_db))


def coloured(clean, rng, sample_rate, *, snr_db=SNR_DB):
    """Gaussian noise with a 1/f^beta spectrum, beta ~ U(0.5, 2) (pink to brown), at an SNR from ``snr_db``."""
    noise = coloured_noise(clean.size, exponent=rng.uniform(0.5, 2.0), rng=rng).astype(np.float64)
    return clean + _scaled(clean, noise - noise.mean(), rng.uniform(*snr_db))


def mains_hum(n: int, *, sample_rate: float, rng: np.random.Generator, harmonics: int = 5) -> np.ndarray:
    """50 or 60 Hz (+-0.5 %) hum and harmonics as a sampler without anti-alias filter sees it, zero mean.

    Frequencies above Nyquist fold back (taken modulo the sample rate), so on a 64 Hz
    accelerometer 50 Hz hum shows up at 14 Hz and 60 Hz at 4 Hz.
    """
    f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.995, 1.005)
    idx = np.arange(n)
    x = np.zeros(n)
    for k in range(1, harmonics + 1):
        cycles_per_sample = (k * f0 / sample_rate) % 1.0  # exact aliasing, no precision loss at slow rates
        amplitude = 1.0 if k == 1 else rng.uniform(0.0, 1.0) / k
        x += amplitude * np.sin(2 * np.pi * cycles_per_sample * idx + rng.uniform(0, 2 * np.pi))
    return x - x.mean()


def hum(clean, rng, sample_rate, *, snr_db=SNR_DB):
    """Mains hum at the series' true rate (aliased when the rate is under 2x the harmonic), SNR from ``snr_db``."""
    return clean + _scaled(clean, mains_hum(clean.size, sample_rate=sample_rate, rng=rng), rng.uniform(*snr_db))


def spikes(clean, rng, sample_rate, *, snr_db=SNR_DB):
    """Sparse impulsive spikes (0.1-1 % of samples, 1-3 samples wide, heavy-tailed heights).

    The spike train's energy sits 10 dB below a draw from ``snr_db`` (so -15 to 10 dB by
    default): spread over so few samples, each spike is several times the trace's spread.
    """
    n = clean.size
    count = max(1, rng.binomial(n, 10 ** rng.uniform(-3, -2)))
    noise = np.zeros(n)
    for start in rng.integers(0, n, count):
        width = int(min(rng.integers(1, 4), n - start))
        height = rng.choice([-1.0, 1.0]) * (1.0 + rng.exponential(1.0))
        noise[start:start + width] += height * np.hanning(width + 2)[1:-1]
    return clean + _scaled(clean, noise, rng.uniform(*snr_db) - 10.0)


def drift(clean, rng, sample_rate, *, snr_db=SNR_DB):
    """Slow baseline wander: a random ramp plus 0.2-3 cycles per segment of smooth wander, SNR from ``snr_db``."""
    n = clean.size
    u = np.linspace(0.0, 1.0, n)
    wander = rng.uniform(-1, 1) * (u - 0.5)
    for _ in range(int(rng.integers(1, 4))):
        wander += rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * rng.uniform(0.2, 3.0) * u + rng.uniform(0, 2 * np.pi))
    return clean + _scaled(clean, wander - wander.mean(), rng.uniform(*snr_db))


def quantisation(clean, rng, sample_rate, *, snr_db=SNR_DB):
    """A coarse ADC: step d with d^2/12 = var(clean) / 10^(SNR/10), SNR from ``snr_db`` but at least 5 dB."""
    snr = max(5.0, rng.uniform(*snr_db))
    step = math.sqrt(12 * _signal_power(clean) / 10 ** (snr / 10))
    offset = rng.uniform(0, step)
    return np.round((clean - offset) / step) * step + offset


def clipping(clean, rng, sample_rate, *, snr_db=SNR_DB):
    """Saturation at the sensor's rails: a share 10^(-SNR/10) (at most 30 %) of the segment's range cut off.

    The share is of the *range*, not of the samples: a trace that idles and bursts (an
    appliance) loses the tops of its bursts, as a saturating sensor would, not the bursts.
    Often one-sided: a random split of the share between the two rails.
    """
    share = _affected_share(rng.uniform(*snr_db), cap=0.3)
    upper_part = rng.choice([0.0, 1.0, rng.uniform()])  # which rail takes the cut
    low, high = float(clean.min()), float(clean.max())
    span = high - low
    return np.clip(clean, low + share * (1 - upper_part) * span, high - share * upper_part * span)


def dropouts(clean, rng, sample_rate, *, snr_db=SNR_DB):
    """1-6 NaN gaps covering a share 10^(-SNR/10) (at most 25 %) of the samples; the rest untouched."""
    n = clean.size
    missing = int(round(n * _affected_share(rng.uniform(*snr_db), cap=0.25)))
    out = np.array(clean, dtype=np.float64)
    if missing < 1:
        missing = 1
    gaps = int(rng.integers(1, 7))
    lengths = np.maximum(1, np.round(rng.dirichlet(np.ones(gaps)) * missing)).astype(int)
    for length in lengths:
        start = int(rng.integers(0, max(1, n - length)))
        out[start:start + length] = np.nan
    return out


# Applied in this order when combined: additive noise first, then the front end's
# saturation and quantisation, and lost samples last (a gap loses whatever was there).
_ADDITIVE = ("drift", "hum", "coloured", "white", "spikes")
_FRONT_END = ("clipping", "quantisation", "dropouts")


def combined(clean, rng, sample_rate, *, snr_db=SNR_DB):
    """2-4 distinct recipes at once; each additive one 10 log10(k) dB milder so the sum stays in ``snr_db``."""
    names = [str(x) for x in rng.choice(_ADDITIVE + _FRONT_END, size=int(rng.integers(2, 5)), replace=False)]
    additive = [name for name in _ADDITIVE if name in names]
    shift = 10 * math.log10(max(1, len(additive)))
    out = np.array(clean, dtype=np.float64)
    for name in additive:
        out += RECIPES[name](clean, rng, sample_rate, snr_db=(snr_db[0] + shift, snr_db[1] + shift)) - clean
    for name in _FRONT_END:
        if name in names:
            out = RECIPES[name](out, rng, sample_rate, snr_db=snr_db)
    return out


RECIPES: dict[str, Recipe] = {
    "white": white, "coloured": coloured, "hum": hum, "spikes": spikes, "drift": drift,
    "quantisation": quantisation, "clipping": clipping, "dropouts": dropouts, "combined": combined,
}


# --------------------------------------------------------------------------- synthetic clean shapes
# Ten real training families cannot stand for every machine a user owns: a model trained on them
# alone learned their shapes and "cleaned" the shapes of held-out families away. Mixed into training
# (DataConfig.synthetic_clean_prob), these generic shapes teach what noise looks like on top of
# signal structure the corpus lacks. Validation and the benchmark stay real.
SYNTHETIC_RATES = (10.0, 25.0, 50.0, 64.0, 100.0, 128.0, 200.0, 250.0, 256.0, 300.0, 360.0, 500.0, 1000.0, 2000.0)


def _pulse_train(n: int, rng: np.random.Generator) -> np.ndarray:
    """A quasi-periodic beat (heart, pump, press): a few Gaussian bumps per cycle, period jittered."""
    period = rng.uniform(20, 400)
    bumps = [(rng.uniform(0, 1), rng.uniform(0.01, 0.15), rng.normal(0, 1)) for _ in range(rng.integers(1, 5))]
    phase = np.cumsum(1.0 / (period * np.exp(0.05 * rng.standard_normal(n)).clip(0.8, 1.25)))
    cycle = phase % 1.0
    out = np.zeros(n)
    for centre, width, height in bumps:
        d = (cycle - centre + 0.5) % 1.0 - 0.5
        out += height * np.exp(-0.5 * (d / width) ** 2)
    return out


def _tones(n: int, rng: np.random.Generator) -> np.ndarray:
    """One to four sinusoids whose frequency and amplitude wander slowly (rotating machinery)."""
    t = np.arange(n)
    out = np.zeros(n)
    for _ in range(rng.integers(1, 5)):
        f0 = np.exp(rng.uniform(np.log(1 / 500), np.log(0.2)))
        wander = 1 + rng.uniform(0, 0.2) * np.sin(2 * np.pi * t / rng.uniform(n / 4, 4 * n) + rng.uniform(0, 6.3))
        amp = 1 + 0.5 * np.sin(2 * np.pi * t / rng.uniform(n / 4, 4 * n) + rng.uniform(0, 6.3))
        out += rng.uniform(0.2, 1) * amp * np.sin(2 * np.pi * np.cumsum(f0 * wander) + rng.uniform(0, 6.3))
    return out


def _steps(n: int, rng: np.random.Generator) -> np.ndarray:
    """Set points and on/off states: levels joined by ramps of random length."""
    k = rng.integers(2, 12)
    edges = np.sort(rng.integers(0, n, k))
    levels = rng.normal(0, 1, k + 1)
    out = levels[np.searchsorted(edges, np.arange(n), side="right")]
    ramp = int(rng.integers(1, max(2, n // 50)))
    return np.convolve(np.pad(out, (ramp, ramp), mode="edge"), np.ones(ramp) / ramp, mode="same")[ramp:ramp + n]


def _waves(n: int, rng: np.random.Generator) -> np.ndarray:
    """Square, triangle or sawtooth cycles (valves, drives, PWM), edges smoothed a little."""
    cycle = (np.arange(n) / rng.uniform(10, 500) + rng.uniform()) % 1.0
    kind = rng.integers(3)
    out = np.where(cycle < rng.uniform(0.2, 0.8), 1.0, -1.0) if kind == 0 else \
        (np.abs(2 * cycle - 1) * 2 - 1 if kind == 1 else 2 * cycle - 1)
    width = int(rng.integers(1, 6))
    return np.convolve(out, np.ones(width) / width, mode="same")


def _bursts(n: int, rng: np.random.Generator) -> np.ndarray:
    """Decaying ringing after impacts (hammer taps, seismic events, a bearing's hits)."""
    out = np.zeros(n)
    t = np.arange(n)
    for start in rng.integers(0, n, rng.integers(1, 8)):
        f = np.exp(rng.uniform(np.log(0.005), np.log(0.3)))
        decay = rng.uniform(5, n / 4)
        after = t >= start
        out[after] += rng.normal(0, 1) * np.exp(-(t[after] - start) / decay) * np.sin(2 * np.pi * f * (t[after] - start))
    return out


def _resonance(n: int, rng: np.random.Generator) -> np.ndarray:
    """A narrow-band vibration: white noise through a resonator with Q 10-100 (a structure's mode)."""
    from scipy.signal import lfilter

    f = np.exp(rng.uniform(np.log(0.005), np.log(0.3)))
    r = np.exp(-np.pi * f / rng.uniform(10, 100))
    x = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f), r * r], rng.standard_normal(n + 500))[500:]
    return x


def _broadband(n: int, rng: np.random.Generator, highpass_prob: float = 0.0) -> np.ndarray:
    """Stationary broadband vibration: Gaussian noise under a random smooth spectral envelope.

    A walking subject's accelerometer or a machine's casing looks like this, and so does a sensor's
    own noise floor, which every real "clean" reference carries. Without such shapes the model took
    any broadband content for noise and removed held-out accelerometer traces almost entirely.
    With probability ``highpass_prob`` the envelope also falls 40 dB/decade below a corner of 0.005-0.2
    cycles per sample (acoustic emission, a microphone on a casing): nothing slow is signal there.
    """
    freq = np.fft.rfftfreq(n)  # cycles per sample, 0 .. 0.5
    corner = np.exp(rng.uniform(np.log(0.002), np.log(0.5)))
    envelope = (1 + (freq / corner) ** 2) ** (-rng.uniform(0, 1.5) / 2)  # flat up to the corner, then 0-30 dB/decade
    for _ in range(rng.integers(0, 3)):  # a few broad humps (resonances of the mount)
        centre, width = rng.uniform(0.01, 0.45), rng.uniform(0.01, 0.1)
        envelope = envelope + rng.uniform(0.5, 3) * np.exp(-0.5 * ((freq - centre) / width) ** 2)
    if highpass_prob > 0 and rng.uniform() < highpass_prob:
        low = np.exp(rng.uniform(np.log(0.005), np.log(0.2)))
        envelope = envelope * (freq / low) ** 2 / (1 + (freq / low) ** 2)
    spectrum = envelope * (rng.standard_normal(freq.size) + 1j * rng.standard_normal(freq.size))
    spectrum[0] = 0
    return np.fft.irfft(spectrum, n)


SHAPES = (_pulse_train, _tones, _steps, _waves, _bursts, _resonance)


def synthetic_trace(n: int, rng: np.random.Generator, *, broadband_prob: float = 0.0,
                    highpass_prob: float = 0.0) -> tuple[np.ndarray, float]:
    """A clean-looking trace of ``n`` samples: one to three :data:`SHAPES` summed, and a plausible rate.

    With probability ``broadband_prob`` a :func:`_broadband` part is added at 0.1-1x the level of the
    rest (or alone) and, half of those times, the trace is rounded to ADC counts as many loggers store
    it. At 0 the random stream is the one earlier recipes trained on.
    """
    out = np.zeros(n)
    for k in range(rng.integers(1, 4)):
        part = SHAPES[rng.integers(len(SHAPES))](n, rng)
        out += part / (part.std() + 1e-12) * (1.0 if k == 0 else rng.uniform(0.1, 0.7))
    if broadband_prob > 0 and rng.uniform() < broadband_prob:
        floor = _broadband(n, rng, highpass_prob)
        weight = 0.0 if rng.uniform() < 0.3 else 1.0  # broadband alone, or on top of the structure
        out = weight * out / (out.std() + 1e-12) + floor / (floor.std() + 1e-12) * rng.uniform(0.1, 1.0)
        if rng.uniform() < 0.5:
            count = out.std() / rng.uniform(10, 300)
            out = np.round(out / count) * count
    return out, float(SYNTHETIC_RATES[rng.integers(len(SYNTHETIC_RATES))])


# --------------------------------------------------------------------------- training examples
def mirror_window(series: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``n``-sample window; a shorter series is first extended by mirror-tiling (x, reversed x, x, ...).

    Mirroring keeps the extended series continuous, so the joins add no artificial steps.
    """
    series = np.asarray(series, dtype=np.float64)
    if series.size < n + 1:
        reps = n // max(series.size, 1) + 2
        series = np.concatenate([series if k % 2 == 0 else series[::-1] for k in range(reps)])
    start = int(rng.integers(0, series.size - n + 1))
    return series[start:start + n].copy()


def default_sensor_cache() -> Path:

    return CACHE / "sensor"


def load_sensor_corpus(folder: str | Path, *, split: str) -> list[dict]:
    """Manifest entries of one split ("train" or "validation"), each with its series as ``signal``."""
    if split not in ("train", "validation"):
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}")
    folder = Path(folder)
    manifest = folder / "manifest.json"
    if not manifest.exists():
        raise FileNotFoundError(f"{manifest} not found: run `python -c 'from sigdenoise.sources import "
                                "prepare_sensor; prepare_sensor()'` first")
    entries = json.loads(manifest.read_text())["series"]
    want = split == "validation"
    return [{**e, "signal": np.load(folder / e["file"])} for e in entries if is_sensor_validation(e) == want]


@dataclass
class SensorCorruptor:
    """Draws (clean, noisy) segments: a real series corrupted by one of :data:`RECIPES`.

    Segment length: the sensor model is rate-agnostic (``sample_rate = 0``: it sees sample
    sequences at whatever rate the trace has), so ``segment_seconds`` is read as thousands
    of samples: n = int(segment_seconds * 1000), e.g. 2.048 -> 2048 samples.

    A family is picked with probability ~ sqrt(min(its total samples, 2**18)), then a series
    within it ~ its length, so the hour-long seismograms do not drown 100-sample motion traces.
    Corrupted segments whose level is under a fifth of the clean one's are drawn again.
    Series shorter than a segment are mirror-tiled (:func:`mirror_window`). Both outputs are
    centred on the *noisy* segment's mean and scaled by the gain that brings the noisy one
    to ``target_rms``, as :meth:`sigdenoise.pipeline.DenoiseModel.denoise_detailed` does;
    dropout gaps are filled by :func:`sigdenoise.preprocess.repair_nonfinite` first, as
    the pipeline repairs inputs before the network.
    """

    series: list[dict]  # manifest entries with "signal" (1-D array) and "sample_rate"
    config: DataConfig
    target_rms: float
    recipes: tuple[str, ...] = tuple(RECIPES)
    clean_prob: float = 0.04  # clean in, clean out: teaches the model to leave a clean trace alone
    # Training only: stretch the time axis (x0.5-2), flip sign and direction, and sum two families'
    # traces, so that a dozen training families stand for the shapes of unseen ones.
    augment: bool = False
    _family_p: np.ndarray = field(init=False, repr=False)
    _members: list[list[int]] = field(init=False, repr=False)
    _member_p: list[np.ndarray] = field(init=False, repr=False)

    def __post_init__(self):
        unknown = set(self.recipes) - set(RECIPES)
        if unknown:
            raise ValueError(f"unknown recipe(s) {sorted(unknown)}; known: {sorted(RECIPES)}")
        self.series = [s for s in self.series if np.asarray(s["signal"]).size >= 2 and np.std(s["signal"]) > 0]
        if not self.series:
            raise ValueError("no usable sensor series (all empty or constant) in this split")
        families: dict[str, list[int]] = {}
        for i, s in enumerate(self.series):
            families.setdefault(s["group"], []).append(i)
        self._members = list(families.values())
        sizes = [np.array([np.asarray(self.series[i]["signal"]).size for i in m], float) for m in self._members]
        self._member_p = [s / s.sum() for s in sizes]
        weights = np.minimum([s.sum() for s in sizes], 2.0 ** 18) ** 0.5
        self._family_p = weights / weights.sum()

    @classmethod
    def from_cache(cls, config: DataConfig, *, sample_rate: float, target_rms: float, split: str = "train",
                   folder: str | Path | None = None, augment: bool = False) -> "SensorCorruptor":
        """The series of one split from the prepared cache (``config.clean_dir`` or ~/.cache/sigdenoise/sensor)."""
        if sample_rate != 0:
            raise ValueError(f"the sensor corpus mixes native rates from months to 360 Hz; a sensor model must be "
                             f"rate-agnostic (model sample_rate = 0), got sample_rate={sample_rate}")
        folder = folder or config.clean_dir or default_sensor_cache()
        return cls(series=load_sensor_corpus(folder, split=split), config=config, target_rms=target_rms,
                   clean_prob=config.clean_input_prob, augment=augment)

    @property
    def segment_samples(self) -> int:
        return int(round(self.config.segment_seconds * 1000))

    @property
    def families(self) -> list[str]:
        return sorted({s["group"] for s in self.series})

    def _clean_segment(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        if self.augment and rng.uniform() < self.config.synthetic_clean_prob:
            segment, rate = synthetic_trace(n, rng, broadband_prob=self.config.synthetic_broadband_prob,
                                            highpass_prob=self.config.synthetic_highpass_prob)
            return segment, {"group": "synthetic", "source": "sigdenoise.sensor_data.synthetic_trace",
                             "sample_rate": rate}
        segment, entry = self._draw_segment(n, rng)
        if self.augment and rng.uniform() < 0.2:
            other, _ = self._draw_segment(n, rng)
            other = (other - other.mean()) / (other.std() + 1e-12) * segment.std() * rng.uniform(0.2, 1.0)
            segment = segment + other
        return segment, entry

    def _draw_segment(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
        stretch = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))) if self.augment else 1.0
        span = max(2, int(round(n * stretch)))
        for _ in range(20):  # idle stretches (a switched-off appliance) teach nothing: draw again
            family = rng.choice(len(self._members), p=self._family_p)
            entry = self.series[self._members[family][rng.choice(len(self._members[family]), p=self._member_p[family])]]
            signal = np.asarray(entry["signal"], np.float64)
            segment = mirror_window(signal, span, rng)
            if segment.std() > 1e-3 * signal.std():
                break
        if self.augment:
            if span != n:
                import soxr

                segment = soxr.resample(segment, span, n)[:n]
                segment = np.pad(segment, (0, n - segment.size), mode="edge")
            segment = segment * rng.choice([-1.0, 1.0])
            if rng.uniform() < 0.5:
                segment = segment[::-1].copy()
        return segment, entry

    def example_detailed(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
        """One scaled (clean, noisy) pair plus what made it: group, source, rate and recipe."""
        n = self.segment_samples
        for _ in range(20):
            clean, entry = self._clean_segment(n, rng)
            if rng.uniform() < self.clean_prob:
                name, noisy = "none", clean.copy()
            else:
                name = str(self.recipes[rng.integers(len(self.recipes))])
                noisy = RECIPES[name](clean, rng, entry["sample_rate"], snr_db=tuple(self.config.snr_db))
            noisy, _ = repair_nonfinite(noisy, repair=True, name="corrupted segment")
            mean = noisy.mean()
            level = float(np.sqrt(np.mean((noisy - mean) ** 2)))
            # A coarse quantiser can flatten a spiky segment to a constant, and clipping can shave
            # off nearly all of an ECG's or appliance's energy: targets over 5x the input's level
            # are guesses, and at 25x the weight in the loss they would swamp everything else.
            if level > 0.2 * clean.std():
                break
        gain = self.target_rms / max(level, 1e-9)
        info = {"group": entry["group"], "source": entry["source"], "sample_rate": entry["sample_rate"],
                "recipe": name}
        return ((clean - mean) * gain).astype(np.float32), ((noisy - mean) * gain).astype(np.float32), info

    def example(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One scaled (clean, noisy) pair, each ``[n]`` float32."""
        clean, noisy, _ = self.example_detailed(rng)
        return clean, noisy

    def batch(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``size`` pairs stacked: clean ``[B, n]``, noisy ``[B, n]`` (float32) and each trace's rate ``[B]``."""
        examples = [self.example_detailed(rng) for _ in range(size)]
        return (np.stack([e[0] for e in examples]), np.stack([e[1] for e in examples]),
                np.array([float(e[2]["sample_rate"]) for e in examples]))
