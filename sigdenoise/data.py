"""Training examples: clean + noise mixed on the fly, or paired noisy/clean folders.

Every example is a (clean, noisy) pair of float32 waveforms at the model rate, both
scaled by the gain that brings the *noisy* one to the model's target RMS, exactly as
the pipeline scales inputs at inference time.
"""
from __future__ import annotations

import fnmatch
import io as _io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import DEFAULT_EVENT_KINDS, EVENT_KIND_ODDS, DataConfig
from .io import AUDIO_EXTENSIONS, read_audio
from .paths import CACHE
from .preprocess import resample
from .sensor_data import SensorCorruptor
from .synth import coloured_noise

# Validation holds out whole speakers and whole noise files (DATA.md asks for voices
# and noises the model never heard). The benchmark imports this same rule.
VALIDATION_SPEECH_GROUPS = {"fr", "klettres-de", "klettres-nl"}
TRAIN_CZECH_GROUPS = {"cs-m", "cs-v"}  # the two main Fillets voices train; the minor voices validate
NOT_SPEECH_GROUPS = {"cs-x", "nl-x"}  # Fillets character effects (grunts, "huhu"): in neither split


def is_validation(clip: dict, role: str) -> bool:
    """True when a manifest entry belongs to the held-out validation split."""
    if role == "speech":
        group = clip["group"]
        if group in NOT_SPEECH_GROUPS:
            return False
        return group in VALIDATION_SPEECH_GROUPS or (group.startswith("cs-") and group not in TRAIN_CZECH_GROUPS)
    try:
        return int(clip["md5"], 16) % 5 == 0
    except ValueError:
        return False


def is_excluded(group: str, patterns) -> bool:
    """True when a speaker group matches one of ``data.exclude_speakers``' glob patterns."""
    return any(fnmatch.fnmatchcase(group, pattern) for pattern in patterns)


def load_corpus(folder: str | Path, *, role: str, split: str, sample_rate: int = 16000) -> list[dict]:
    """Entries of one split ("train" or "validation") with their audio loaded.

    A folder prepared by :mod:`sigdenoise.sources` has a ``manifest.json``; any other folder
    (DNS-Challenge style ``clean/`` or ``noise/``) is scanned for audio files, each file's
    parent folder standing for its speaker, and one file in ten (by path hash) validates.
    """
    folder = Path(folder)
    manifest = folder / "manifest.json"
    want_validation = split == "validation"
    if not manifest.exists():
        return [c for c in _scan_audio_folder(folder, sample_rate=sample_rate)
                if (int(c["md5"], 16) % 10 == 0) == want_validation]
    clips = json.loads(manifest.read_text())["clips"]
    out = []
    for clip in clips:
        if role == "speech" and clip["group"] in NOT_SPEECH_GROUPS:
            continue
        if is_validation(clip, role) == want_validation:
            out.append({**clip, "audio": np.load(folder / clip["file"], mmap_mode="r")})
    return out


def _scan_audio_folder(folder: Path, *, sample_rate: int) -> list[dict]:
    import hashlib


    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (and no manifest.json); for the bundled corpora run "
                                "`sigdenoise fetch-data`")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise FileNotFoundError(f"{folder}: no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))}) found")
    entries = []
    for path in files:
        clip = read_audio(path)
        audio = resample(clip.data.mean(0), orig_sr=clip.sample_rate, target_sr=sample_rate).astype(np.float32)
        rel = str(path.relative_to(folder))
        entries.append({"file": rel, "group": str(path.parent.relative_to(folder)) or ".", "audio": audio,
                        "md5": hashlib.md5(rel.encode()).hexdigest(), "seconds": audio.size / sample_rate})
    return entries


def speaker_streams(clips: list[dict], *, sample_rate: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Concatenate each speaker's clips (short gaps between) into one long stream per speaker."""
    streams: dict[str, list[np.ndarray]] = {}
    for clip in clips:
        gap = np.zeros(int(rng.uniform(0.1, 0.3) * sample_rate), np.float32)
        streams.setdefault(clip["group"], []).extend([np.asarray(clip["audio"], np.float32), gap])
    return {g: np.concatenate(parts) for g, parts in streams.items()}


def frame_energy_db(audio: np.ndarray, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """A recording cut into 20 ms frames ``[F, n]`` (the tail dropped) and each frame's energy in dBFS."""
    n = max(1, int(0.02 * sample_rate))
    frames = np.asarray(audio[: audio.size // n * n], np.float32).reshape(-1, n)
    return frames, 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)


def pauses(audio: np.ndarray, sample_rate: int, *, min_seconds: float = 0.14) -> list[np.ndarray]:
    """The pauses of one speech recording: runs of 20 ms frames within 6 dB of its noise floor.

    The floor is the 5th percentile of frame energy; frames must also sit 20 dB under the loud ones
    (a take with no pauses gives nothing) and above -80 dBFS (digital silence teaches nothing). One frame
    is trimmed from each end of a run so that no speech onset or tail leaks in.
    """
    frames, energy = frame_energy_db(audio, sample_rate)
    n = frames.shape[1]
    if len(frames) < 3:
        return []
    low, high = np.percentile(energy, [5, 95])
    quiet = (energy < low + 6) & (energy < high - 20) & (energy > -80)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    runs = []
    for start, stop in zip(edges[::2], edges[1::2]):
        if (stop - start) * n >= min_seconds * sample_rate:
            runs.append(frames[start + 1:stop - 1].reshape(-1))
    return runs


def pause_streams(clips: list[dict], patterns: tuple[str, ...], *, sample_rate: int) -> list[np.ndarray]:
    """Per matching speaker group, its pauses joined into one noise stream (5 ms fades at the joins)."""
    fade = np.sin(np.linspace(0, np.pi / 2, int(0.005 * sample_rate), dtype=np.float32)) ** 2
    streams: dict[str, list[np.ndarray]] = {}
    for clip in clips:
        if not any(fnmatch.fnmatchcase(clip["group"], pattern) for pattern in patterns):
            continue
        for run in pauses(clip["audio"], sample_rate):
            run = run.copy()
            run[:fade.size] *= fade
            run[-fade.size:] *= fade[::-1]
            streams.setdefault(clip["group"], []).append(run)
    return [np.concatenate(runs) for runs in streams.values() if sum(r.size for r in runs) >= sample_rate]


# --------------------------------------------------------------------------- synthetic noise
def mains_hum(n: int, *, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """50 or 60 Hz hum with a few random-amplitude harmonics, unit RMS."""
    f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.995, 1.005)
    t = np.arange(n) / sample_rate
    x = np.zeros(n)
    for k in range(1, 8):
        if k * f0 < sample_rate / 2:
            x += rng.uniform(0, 1) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    return (x / (x.std() + 1e-12)).astype(np.float32)


def machine_drone(n: int, *, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """A motor, fan or engine: harmonics of a random 30-400 Hz fundamental that wanders slowly, unit RMS."""
    t = np.arange(n) / sample_rate
    f0 = float(np.exp(rng.uniform(np.log(30.0), np.log(400.0))))
    wander = 1.0 + rng.uniform(0.0, 0.03) * np.sin(2 * np.pi * rng.uniform(0.1, 2.0) * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * f0 * np.cumsum(wander) / sample_rate
    slope = rng.uniform(0.3, 2.0)  # how fast the harmonics fall off: buzzing (small) to humming (large)
    x = np.zeros(n)
    for k in range(1, 40):
        if k * f0 * 1.03 >= sample_rate / 2:
            break
        x += rng.uniform(0.2, 1.0) / k ** slope * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    return (x / (x.std() + 1e-12)).astype(np.float32)


# Relative odds of each kind of event stream. The first three are stage 4's recipe; the others are opt-in
# (DataConfig.event_kinds) so that the recipe's draws do not change when they are not asked for.


def event_noise(n: int, *, sample_rate: float, rng: np.random.Generator,
                kinds: tuple[str, ...] = DEFAULT_EVENT_KINDS) -> np.ndarray:
    """Noise made of events over a coloured bed, unit RMS: what ~40 min of real recordings have too few of.

    Impacts (band-passed bursts decaying in 5-200 ms, 0.3-30 per second: hammering, footsteps, rain or
    crackle at the fast end), bird-like chirps (fast sweeps above 1.5 kHz) and sirens or alarms (a tone of
    0.4-1.5 kHz sweeping up and down); opt-in: whines (saws, drills, turbines), notes (music) and strokes
    (sawing, scything, sweeping), see the functions named after them. Pitched events keep their fundamentals
    above speaking voices' (sirens from 400 Hz, whines from 450 Hz, notes from 330 Hz) and do not glide like
    a voice, so the model is not taught to remove speech-like sounds.
    """
    from scipy.signal import butter, sosfilt

    odds = np.array([EVENT_KIND_ODDS[k] for k in kinds])
    if tuple(kinds) != DEFAULT_EVENT_KINDS:  # the recipe's odds already sum to 1: its draws stay bit-identical
        odds = odds / odds.sum()
    t = np.arange(n) / sample_rate
    x = np.zeros(n)
    for _ in range(rng.integers(1, 4)):  # a few event streams of different kinds
        kind = rng.choice(list(kinds), p=odds)
        stream = np.zeros(n)
        if kind in OPT_IN_EVENT_STREAMS:
            stream = OPT_IN_EVENT_STREAMS[kind](n, sample_rate=sample_rate, rng=rng)
        elif kind == "impacts":
            rate = float(np.exp(rng.uniform(np.log(0.3), np.log(30.0))))
            decay = float(np.exp(rng.uniform(np.log(0.005), np.log(0.2))))
            onsets = rng.uniform(0, n / sample_rate, size=rng.poisson(rate * n / sample_rate) + 1)
            length = min(int(5 * decay * sample_rate), n)
            shape = np.exp(-np.arange(length) / (decay * sample_rate))
            for onset in (onsets * sample_rate).astype(int):
                burst = rng.standard_normal(length) * shape * rng.uniform(0.3, 1.0)
                end = min(onset + length, n)
                stream[onset:end] += burst[: end - onset]
            centre = float(np.exp(rng.uniform(np.log(150.0), np.log(0.35 * sample_rate))))
            low, high = centre / rng.uniform(1.2, 4.0), min(centre * rng.uniform(1.2, 4.0), 0.45 * sample_rate)
            stream = sosfilt(butter(2, [low, max(high, low * 1.1)], btype="bandpass", fs=sample_rate, output="sos"),
                             stream)
        elif kind == "chirps":
            top = 0.45 * sample_rate
            for _ in range(rng.integers(1, 12)):
                start, dur = rng.uniform(0, n / sample_rate), rng.uniform(0.03, 0.3)
                f_from, f_to = (min(float(np.exp(rng.uniform(np.log(1500.0), np.log(6000.0)))), top) for _ in range(2))
                inside = (t >= start) & (t < start + dur)
                u = (t[inside] - start) / dur
                freq = f_from + (f_to - f_from) * u
                stream[inside] += np.sin(2 * np.pi * np.cumsum(freq) / sample_rate) * np.sin(np.pi * u) ** 2
        else:
            low = float(rng.uniform(400.0, 1000.0))
            high = low * rng.uniform(1.2, 1.6)
            sweep = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(0.2, 3.0) * t + rng.uniform(0, 2 * np.pi)))
            phase = 2 * np.pi * np.cumsum(low + (high - low) * sweep) / sample_rate
            stream = np.sin(phase) + rng.uniform(0, 0.5) * np.sin(2 * phase) + rng.uniform(0, 0.3) * np.sin(3 * phase)
        x += rng.uniform(0.3, 1.0) * stream / (stream.std() + 1e-12)
    bed = random_equaliser(coloured_noise(n, exponent=rng.uniform(0.0, 2.0), rng=rng), rng)
    x += float(10 ** rng.uniform(-2.0, 0.0)) * bed  # -40..0 dB relative: events alone or over a hiss
    return (x / (x.std() + 1e-12)).astype(np.float32)


def _gate(n: int, *, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """On/off envelope of a machine run in bursts: on 0.2-1.5 s, off 0.1-1 s, 10-100 ms ramps; half the
    time always on."""
    if rng.uniform() < 0.5:
        return np.ones(n)
    gate, i, on = np.zeros(n), int(rng.uniform(0, 0.5) * sample_rate), True
    while i < n:
        span = int(rng.uniform(*((0.2, 1.5) if on else (0.1, 1.0))) * sample_rate)
        gate[i:i + span] = float(on)
        i, on = i + span, not on
    ramp = max(int(rng.uniform(0.01, 0.1) * sample_rate), 1)
    return np.convolve(gate, np.ones(ramp) / ramp, mode="same")


def whine(n: int, *, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """A saw, drill, grinder or turbine: harmonics of a 450 Hz-3 kHz fundamental that spins up and down with
    the load, with a band of cutting noise, run continuously or in bursts."""
    from scipy.signal import butter, lfilter, sosfilt

    f0 = float(np.exp(rng.uniform(np.log(450.0), np.log(3000.0))))
    targets = np.repeat(rng.uniform(0.7, 1.3, size=8), -(-n // 8))[:n]  # the load changes a few times
    tau = rng.uniform(0.05, 0.5) * sample_rate  # how fast the motor follows it
    speed = lfilter([1 / tau], [1, 1 / tau - 1], targets, zi=[targets[0] * (1 - 1 / tau)])[0]
    phase = 2 * np.pi * f0 * np.cumsum(speed) / sample_rate
    slope = rng.uniform(0.5, 2.0)
    x = np.zeros(n)
    for k in range(1, 9):
        if k * f0 * 1.3 >= sample_rate / 2:
            break
        x += rng.uniform(0.2, 1.0) / k ** slope * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    centre = float(np.exp(rng.uniform(np.log(1000.0), np.log(0.35 * sample_rate))))
    cutting = sosfilt(butter(2, [centre / 1.5, min(centre * 1.5, 0.45 * sample_rate)], btype="bandpass",
                             fs=sample_rate, output="sos"), rng.standard_normal(n))
    x = x / (x.std() + 1e-12) + rng.uniform(0.0, 1.0) * cutting / (cutting.std() + 1e-12)
    return x * _gate(n, sample_rate=sample_rate, rng=rng)


def notes(n: int, *, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Music in the background: notes of steady pitch from E4 to C7 (330-2093 Hz, above speaking voices'
    fundamentals), 1-8 a second, plucked (decaying) or held, one to three at a time."""
    x = np.zeros(n)
    slope = rng.uniform(0.7, 2.5)  # flute-like (steep) to brassy (shallow)
    plucked = rng.uniform() < 0.5
    onsets = np.sort(rng.uniform(0, n, size=rng.poisson(rng.uniform(1.0, 8.0) * n / sample_rate) + 1)).astype(int)
    for i, onset in enumerate(onsets):
        end = n if i + 1 == len(onsets) else onsets[i + 1]
        length = min(n - onset, int(rng.uniform(0.1, 1.0) * sample_rate) if plucked else max(end - onset, 1) + 800)
        u = np.arange(length) / sample_rate
        envelope = (np.exp(-u / rng.uniform(0.05, 0.4)) if plucked else np.ones(length))
        envelope *= np.minimum(u / 0.01, 1.0)  # 10 ms attack, no click
        root = int(rng.integers(4, 40))  # semitones above C4: E4..D#7
        for semitone in [root] + [root + int(d) for d in rng.choice([3, 4, 5, 7, 12], size=rng.integers(0, 3))]:
            f = 261.63 * 2 ** (semitone / 12)
            for k in range(1, 8):
                if k * f >= 0.45 * sample_rate:
                    break
                x[onset:onset + length] += envelope / k ** slope * np.sin(2 * np.pi * k * f * u + rng.uniform(0, 2 * np.pi))
    return x


def strokes(n: int, *, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Sawing, scything, sweeping or filing: band-passed noise swelling and fading in 80-600 ms strokes,
    0.5-4 a second with some irregularity."""
    from scipy.signal import butter, sosfilt

    period = sample_rate / rng.uniform(0.5, 4.0)
    stroke = int(min(rng.uniform(0.08, 0.6) * sample_rate, period))
    envelope, i = np.zeros(n), int(rng.uniform(-1, 0) * period)
    while i < n:
        start, stop = max(i, 0), min(i + stroke, n)
        if stop > start:
            envelope[start:stop] = np.sin(np.pi * (np.arange(start, stop) - i) / stroke) ** 2 * rng.uniform(0.5, 1.0)
        i += int(period * rng.uniform(0.8, 1.2))
    centre = float(np.exp(rng.uniform(np.log(300.0), np.log(0.3 * sample_rate))))
    band = sosfilt(butter(2, [centre / rng.uniform(1.3, 3.0), min(centre * rng.uniform(1.3, 3.0), 0.45 * sample_rate)],
                          btype="bandpass", fs=sample_rate, output="sos"), rng.standard_normal(n))
    return band * envelope


OPT_IN_EVENT_STREAMS = {"whine": whine, "notes": notes, "strokes": strokes}  # data.event_kinds beyond the recipe's


def random_equaliser(x: np.ndarray, rng: np.random.Generator, max_db: float = 12.0) -> np.ndarray:
    """``x`` through a random smooth gain curve (up to +-``max_db``, a few bumps across the band)."""
    spec = np.fft.rfft(x)
    knots = rng.uniform(-max_db, max_db, size=rng.integers(3, 8))
    gain_db = np.interp(np.linspace(0, 1, spec.size), np.linspace(0, 1, knots.size), knots)
    return np.fft.irfft(spec * 10 ** (gain_db / 20), x.size).astype(np.float32)


def at_level_of(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``y`` scaled to ``x``'s RMS: a filter changes a voice's or a noise's colour, not its level."""
    return (y * np.sqrt(np.mean(x ** 2)) / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)


def room_reverb(x: np.ndarray, *, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """``x`` heard across a room: a direct path plus an exponentially decaying diffuse tail (RT60 0.2-1.2 s),
    at the input's RMS."""
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.2, 1.2)
    t = np.arange(int(rt60 * sample_rate)) / sample_rate
    tail = rng.standard_normal(t.size) * np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    tail *= 10 ** (rng.uniform(-6, 6) / 20) / (np.sqrt(np.sum(tail ** 2)) + 1e-12)  # direct-to-reverb ratio
    tail[0] += 1.0
    y = fftconvolve(x, tail)[: x.size]
    return at_level_of(y, x)


def room_pair(x: np.ndarray, *, sample_rate: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``x`` heard across a synthetic room: (direct path + reflections of the first 50 ms, the whole
    reverberant signal), both scaled by one gain that keeps the second at ``x``'s RMS.

    The impulse response is a direct path, 4-16 sparse early reflections at 2-50 ms (image sources of a
    small or mid-size room) and an exponentially decaying diffuse tail (RT60 0.2-1.0 s, direct-to-reverb
    ratio -3..+9 dB). The early part stays in the target: listeners hear it as the voice, not as the room.
    """
    from scipy.signal import fftconvolve

    rt60 = rng.uniform(0.2, 1.0)
    n_ir = int(rt60 * sample_rate)
    t = np.arange(n_ir) / sample_rate
    ir = rng.standard_normal(n_ir) * np.exp(-6.9 * t / rt60)
    ir[: int(0.005 * sample_rate)] = 0.0  # the diffuse tail builds up after the first reflections
    ir *= 10 ** (-rng.uniform(-3, 9) / 20) / (np.sqrt(np.sum(ir ** 2)) + 1e-12)
    for _ in range(int(rng.integers(4, 17))):
        delay = rng.uniform(0.002, 0.05)
        ir[int(delay * sample_rate)] += rng.choice([-1, 1]) * rng.uniform(0.2, 0.8) * np.exp(-6.9 * delay / rt60)
    ir[0] = 1.0
    early = ir[: int(0.05 * sample_rate)]
    heard = fftconvolve(x, ir)[: x.size]
    target = fftconvolve(x, early)[: x.size]
    gain = np.sqrt(np.mean(np.square(x)) / (np.mean(np.square(heard)) + 1e-20))
    return (target * gain).astype(np.float32), (heard * gain).astype(np.float32)


def codec_pair(clean: np.ndarray, noisy: np.ndarray, *, sample_rate: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``clean`` and ``noisy`` through one lossy codec setting (MP3 or Vorbis at a random bit rate, via
    libsndfile), each realigned to its input (MP3 adds an encoder delay) and kept at its length."""
    import soundfile as sf
    from scipy.signal import correlate

    fmt, subtype = ("MP3", "MPEG_LAYER_III") if rng.uniform() < 0.5 else ("OGG", "VORBIS")
    level = float(rng.uniform(0.5, 0.95))  # libsndfile's compression level: higher is a lower bit rate

    def through(x: np.ndarray) -> np.ndarray:
        buffer = _io.BytesIO()
        peak = float(np.max(np.abs(x))) + 1e-9
        sf.write(buffer, x / peak * 0.9, sample_rate, format=fmt, subtype=subtype, compression_level=level)
        buffer.seek(0)
        y, _ = sf.read(buffer, dtype="float32")
        y = y.reshape(-1)
        reach = min(4096, y.size - 1)
        lags = correlate(y[: x.size + reach], x[: min(x.size, 8192)], mode="valid", method="fft")
        lag = int(np.argmax(lags[: reach + 1]))
        y = y[lag: lag + x.size]
        return (np.pad(y, (0, x.size - y.size)) * peak / 0.9).astype(np.float32)

    return through(clean), through(noisy)


def band_limit(x: np.ndarray, *, sample_rate: float, rng: np.random.Generator,
               high_hz: tuple[float, float] = (3000.0, 7000.0)) -> np.ndarray:
    """``x`` through a random band-pass (half the time low-pass only), as a telephone, radio or small
    loudspeaker passes a voice: edges at 100-500 Hz and ``high_hz``, at the input's RMS. (Edges down to
    1.8 kHz, before the wide noise, taught a model to keep muffled noises too: noise-only attenuation fell
    from 17.2 to 12.5 dB.)"""
    from scipy.signal import butter, sosfilt

    high_edge = min(float(np.exp(rng.uniform(np.log(high_hz[0]), np.log(high_hz[1])))), 0.45 * sample_rate)
    if rng.uniform() < 0.5:
        sos = butter(4, high_edge, btype="lowpass", fs=sample_rate, output="sos")
    else:
        low_edge = float(np.exp(rng.uniform(np.log(100.0), np.log(500.0))))
        sos = butter(4, [low_edge, high_edge], btype="bandpass", fs=sample_rate, output="sos")
    y = sosfilt(sos, x)
    return at_level_of(y, x)


def slow_swing(n: int, *, sample_rate: float, rng: np.random.Generator) -> np.ndarray:
    """A level envelope swinging at 0.2-4 Hz by up to 80 %: machines ramping, traffic passing."""
    t = np.arange(n) / sample_rate
    depth = rng.uniform(0.2, 0.8)
    swing = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(0.2, 4.0) * t + rng.uniform(0, 2 * np.pi)))
    return (1.0 - depth * swing).astype(np.float32)


def set_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Scale ``noise`` so that clean/noise power ratio is ``snr_db``."""
    p_clean = np.mean(clean ** 2) + 1e-10
    p_noise = np.mean(noise ** 2) + 1e-10
    return noise * np.sqrt(p_clean / (p_noise * 10 ** (snr_db / 10)))


@dataclass
class SpeechMixer:
    """Draws (clean, noisy) segments: training speech + real or synthetic noise at a random SNR."""

    speech: dict[str, np.ndarray]
    noise: list[np.ndarray]
    config: DataConfig
    sample_rate: int
    target_rms: float
    # Training only: new voices from the ones we have. Speed perturbation (x0.85-1.15 moves pitch and
    # formants together) and a random spectral tilt change the timbre; without them a model trained on
    # ~20 voices gained 5.3 dB SI-SDR on its training speakers but only 2.6 dB on held-out ones.
    augment: bool = False
    # Training only: new noises from the ones we have. A model trained on ~40 min of real noise came
    # within 0.6 dB SI-SDR of DTLN on held-out voices over training noises, but 2.7 dB behind it on
    # training voices over held-out noises: the noises, not the voices, were what it had not generalised.
    noise_augment: bool = False
    # Room tone from the pauses of recordings we do not use as targets (pause_streams).
    pause_noise: list[np.ndarray] = field(default_factory=list)

    def _window(self, stream: np.ndarray, n: int, rng) -> np.ndarray:
        if stream.size <= n:
            reps = int(np.ceil(n / max(stream.size, 1))) + 1
            stream = np.tile(stream, reps)
        start = rng.integers(0, stream.size - n + 1)
        return np.asarray(stream[start:start + n], np.float32)

    def _speech(self, n, rng) -> np.ndarray:
        groups = list(self.speech)
        # flatten speaker imbalance (2 voices hold a third of the audio); more so when augmenting
        power = 0.25 if self.augment else 0.5
        weights = np.array([self.speech[g].size for g in groups], float) ** power
        g = groups[rng.choice(len(groups), p=weights / weights.sum())]
        if not self.augment:
            return self._window(self.speech[g], n, rng)
        import soxr
        from scipy.signal import lfilter

        slowest, fastest = self.config.speed_range
        speed = float(np.exp(rng.uniform(np.log(slowest), np.log(fastest))))
        span = int(round(n * speed))
        x = soxr.resample(self._window(self.speech[g], span, rng), span, n)[:n]
        x = np.pad(x, (0, n - x.size))
        tilt = rng.uniform(-0.6, 0.6)  # y[k] = x[k] - tilt x[k-1]: brighter (> 0) or darker (< 0) voice
        x = lfilter([1.0, -tilt], [1.0], x)
        if self.config.speech_band_prob and rng.uniform() < self.config.speech_band_prob:  # 0: same draws as before
            x = band_limit(x, sample_rate=self.sample_rate, rng=rng, high_hz=self.config.speech_band_high_hz)
        return x.astype(np.float32)

    def _real_noise(self, n, rng, sources: list[np.ndarray] | None = None) -> np.ndarray:
        sources = sources or self.noise
        if not self.noise_augment:
            return self._window(sources[rng.integers(len(sources))], n, rng)
        import soxr

        speed = float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))  # moves the spectrum and the tempo
        span = max(int(round(n * speed)), 1)
        x = soxr.resample(self._window(sources[rng.integers(len(sources))], span, rng), span, n)[:n]
        x = random_equaliser(np.pad(x, (0, n - x.size)), rng)
        if self.config.noise_reverb_prob and rng.uniform() < self.config.noise_reverb_prob:  # 0: same draws as before
            x = room_reverb(x, sample_rate=self.sample_rate, rng=rng)
        if rng.uniform() < 0.3:
            x = x * slow_swing(n, sample_rate=self.sample_rate, rng=rng)
        return x.astype(np.float32)

    def _noise(self, n, rng) -> np.ndarray:
        if self.pause_noise and rng.uniform() < self.config.pause_noise_prob:
            return self._real_noise(n, rng, self.pause_noise)
        # training only, so that in-training validation stays comparable across runs; 0: same draws as before
        if self.noise_augment and self.config.event_noise_prob and rng.uniform() < self.config.event_noise_prob:
            events = event_noise(n, sample_rate=self.sample_rate, rng=rng, kinds=self.config.event_kinds)
            if self.noise and self.config.event_over_noise_prob and rng.uniform() < self.config.event_over_noise_prob:
                # a scene: events over a real background, -10..+10 dB relative to it
                return events + float(10 ** rng.uniform(-0.5, 0.5)) * at_level_of(self._real_noise(n, rng), events)
            return events
        if rng.uniform() >= self.config.synthetic_noise_prob and self.noise:
            x = self._real_noise(n, rng)
            if rng.uniform() < 0.3:  # layer two real noises: factories are rarely one machine
                x = x + rng.uniform(0.2, 1.0) * self._real_noise(n, rng)
            return x
        kinds = ["white", "pink", "brown", "hum", "babble"] + (["drone", "coloured"] if self.noise_augment else [])
        kind = rng.choice(kinds)
        if kind in ("hum", "drone"):  # a tonal source over a faint pink bed
            tone = (mains_hum if kind == "hum" else machine_drone)(n, sample_rate=self.sample_rate, rng=rng)
            return tone + 0.1 * coloured_noise(n, exponent=1, rng=rng)
        if kind == "coloured":
            return random_equaliser(coloured_noise(n, exponent=rng.uniform(-1.0, 2.5), rng=rng), rng)
        if kind == "babble":
            return sum(self._speech(n, rng) for _ in range(rng.integers(3, 7)))
        return coloured_noise(n, exponent={"white": 0.0, "pink": 1.0, "brown": 2.0}[kind], rng=rng)

    def example(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n = int(self.config.segment_seconds * self.sample_rate)
        config = self.config
        clean = self._speech(n, rng)
        heard = clean  # what reaches the microphone; differs from the target in a reverberant room
        if self.augment and config.speech_reverb_prob and rng.uniform() < config.speech_reverb_prob:  # 0: same draws
            clean, heard = room_pair(clean, sample_rate=self.sample_rate, rng=rng)
        roll = rng.uniform()
        clean_share, noise_share = config.clean_input_prob, config.noise_only_prob
        if roll < clean_share:  # clean in, clean out: teaches the model to leave clean speech alone
            noisy = heard.copy()
        elif roll < clean_share + noise_share:  # noise only: teaches it not to invent speech
            noise = self._noise(n, rng)
            clean = np.zeros(n, np.float32)
            noisy = noise / (np.sqrt(np.mean(noise ** 2)) + 1e-8) * 0.05
        else:
            snr = rng.uniform(*config.snr_db)
            noisy = heard + set_snr(heard, self._noise(n, rng), snr)
        if self.augment and config.codec_prob and rng.uniform() < config.codec_prob:
            clean, noisy = codec_pair(clean, noisy, sample_rate=self.sample_rate, rng=rng)
        if self.augment and config.clip_prob and rng.uniform() < config.clip_prob:
            limit = rng.uniform(0.3, 0.9) * float(np.max(np.abs(noisy)))
            noisy = np.clip(noisy, -limit, limit)
        gain = self.target_rms / (np.sqrt(np.mean(noisy ** 2)) + 1e-8)
        if self.augment and config.level_jitter_db:  # 0: same draws as before
            gain *= 10 ** (rng.uniform(-config.level_jitter_db, config.level_jitter_db) / 20)
        return (clean * gain).astype(np.float32), (noisy * gain).astype(np.float32)

    def batch(self, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``size`` examples: clean ``[B, n]``, noisy ``[B, n]`` and their sample rates ``[B]``."""
        pairs = [self.example(rng) for _ in range(size)]
        return (np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs]),
                np.full(size, float(self.sample_rate)))


@dataclass
class PairedFolder:
    """VoiceBank-DEMAND style pairs: ``clean*/NAME.wav`` beside ``noisy*/NAME.wav``."""

    pairs: list[tuple[np.ndarray, np.ndarray]]
    config: DataConfig
    sample_rate: int
    target_rms: float

    @classmethod
    def from_dir(cls, root: str | Path, *, config: DataConfig, sample_rate: int, target_rms: float):

        root = Path(root)
        clean_dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower().startswith("clean"))
        noisy_dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower().startswith("noisy"))
        if not clean_dirs or not noisy_dirs:
            raise FileNotFoundError(f"{root}: expected sub-folders named clean*/ and noisy*/ (VoiceBank-DEMAND layout)")
        pairs = []
        for clean_dir, noisy_dir in zip(clean_dirs, noisy_dirs):
            for clean_path in sorted(clean_dir.glob("*.wav")):
                noisy_path = noisy_dir / clean_path.name
                if not noisy_path.exists():
                    continue
                c, n = read_audio(clean_path), read_audio(noisy_path)
                pairs.append(tuple(resample(a.data.mean(0), orig_sr=a.sample_rate, target_sr=sample_rate)
                                   for a in (c, n)))
        if not pairs:
            raise FileNotFoundError(f"{root}: no matching file names between {clean_dirs[0].name}/ and {noisy_dirs[0].name}/")
        return cls(pairs=pairs, config=config, sample_rate=sample_rate, target_rms=target_rms)

    def example(self, rng):
        n = int(self.config.segment_seconds * self.sample_rate)
        clean, noisy = self.pairs[rng.integers(len(self.pairs))]
        if clean.size < n:
            clean, noisy = np.pad(clean, (0, n - clean.size)), np.pad(noisy, (0, n - noisy.size))
        start = rng.integers(0, clean.size - n + 1)
        clean, noisy = clean[start:start + n], noisy[start:start + n]
        gain = self.target_rms / (np.sqrt(np.mean(noisy ** 2)) + 1e-8)
        return (clean * gain).astype(np.float32), (noisy * gain).astype(np.float32)

    batch = SpeechMixer.batch


def default_cache(role: str, sample_rate: int) -> Path:

    return CACHE / f"{role}-{sample_rate}"


def _extra_folder(extra: str, sample_rate: int, setting: str) -> Path:
    """A folder named in ``data.extra_noise_dirs`` or ``data.extra_speech_dirs``: a prepared role's cache
    (such as "noise-wide") or a path."""
    folder = Path(extra) if ("/" in extra or Path(extra).is_dir()) else default_cache(extra, sample_rate)
    if not (folder / "manifest.json").exists() and not folder.is_dir():
        raise FileNotFoundError(f"data.{setting}: {folder} not found; run `sigdenoise fetch-data {extra}` for a "
                                "prepared role, or give an existing folder")
    return folder


def build_training_data(config: DataConfig, *, sample_rate: int, target_rms: float, split: str = "train",
                        seed: int = 0):
    """The example source a training config asks for."""
    if config.kind == "paired":
        return PairedFolder.from_dir(config.paired_dir, config=config, sample_rate=sample_rate, target_rms=target_rms)
    if config.kind == "speech_mix":
        rng = np.random.default_rng(seed)
        clean_dir = config.clean_dir or default_cache("speech", sample_rate)
        noise_dir = config.noise_dir or default_cache("noise", sample_rate)
        corpus = load_corpus(clean_dir, role="speech", split=split, sample_rate=sample_rate)
        for extra in config.extra_speech_dirs if split == "train" else ():
            corpus = corpus + load_corpus(_extra_folder(extra, sample_rate, "extra_speech_dirs"), role="speech",
                                          split=split, sample_rate=sample_rate)
        clips = [clip for clip in corpus if not is_excluded(clip["group"], config.exclude_speakers)]
        if not clips:
            raise ValueError(f"no {split} speech left in {clean_dir} after exclude_speakers = "
                             f"{list(config.exclude_speakers)}")
        speech = speaker_streams(clips, sample_rate=sample_rate, rng=rng)
        noise = [np.asarray(c["audio"], np.float32)
                 for c in load_corpus(noise_dir, role="noise", split=split, sample_rate=sample_rate)]
        for extra in config.extra_noise_dirs if split == "train" else ():
            noise += [np.asarray(c["audio"], np.float32)
                      for c in load_corpus(_extra_folder(extra, sample_rate, "extra_noise_dirs"), role="noise",
                                           split=split, sample_rate=sample_rate)]
        pause_noise = pause_streams(corpus, config.pause_noise_groups, sample_rate=sample_rate)
        if config.pause_noise_groups and config.pause_noise_prob > 0 and not pause_noise and split == "train":
            raise ValueError(f"no pauses of a second or more found for pause_noise_groups = "
                             f"{list(config.pause_noise_groups)} in {clean_dir}")
        return SpeechMixer(speech=speech, noise=noise, config=config, sample_rate=sample_rate, target_rms=target_rms,
                           augment=config.augment and split == "train",
                           noise_augment=config.noise_augment and split == "train", pause_noise=pause_noise)
    if config.kind == "sensor":

        return SensorCorruptor.from_cache(config, sample_rate=sample_rate, target_rms=target_rms, split=split,
                                          augment=config.augment and split == "train")
    raise ValueError(f"unknown data kind {config.kind!r}; known: speech_mix, paired, sensor")
