"""Audio files (WAV, FLAC, OGG Vorbis/Opus, MP3) <-> float32 ``[channels, time]`` through soundfile."""
from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .common import (AUDIO_EXTENSIONS, PathLike, _AUDIO_FORMATS, _FLOAT_SUBTYPES, _MP3_RATES, _OPUS_RATES,
                     _PCM_BITS, _WAV_FAMILY, _check_readable, _error, _suffix, _unknown_extension)


@dataclass
class AudioClip:
    """Decoded audio: ``data`` is float32 ``[channels, time]``, in [-1, 1] for integer formats."""

    data: np.ndarray
    sample_rate: int
    format: str  # soundfile format: "WAV", "FLAC", "OGG", "MP3"
    subtype: str  # "PCM_16", "PCM_24", "PCM_32", "FLOAT", "VORBIS", "OPUS", "MPEG_LAYER_III", ...
    bitrate: float | None = None  # MP3: the file's mean bit rate in kbit/s (size / duration), for write_audio

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise ValueError(f"AudioClip.data must be [channels, time], got shape {self.data.shape}")

    @property
    def channels(self) -> int:
        return int(self.data.shape[0])

    @property
    def duration_s(self) -> float:
        return self.data.shape[1] / self.sample_rate


def read_audio(path: PathLike) -> AudioClip:
    """Read an audio file into float32 ``[channels, time]`` with its rate, format and subtype."""
    path = Path(path)
    if _suffix(path) not in AUDIO_EXTENSIONS:
        raise _unknown_extension(path, AUDIO_EXTENSIONS, "audio")
    _check_readable(path)
    import soundfile as sf

    try:
        info = sf.info(str(path))
        frames, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise _error(path, f"cannot be decoded as {_AUDIO_FORMATS[_suffix(path)][0]} audio ({exc})",
                     "the file is truncated or corrupt, or is not really this format; re-export it "
                     "or convert it (e.g. ffmpeg -i in out.wav)") from None
    bitrate = None
    if info.format == "MP3" and frames.shape[0]:
        bitrate = round(os.path.getsize(path) * 8 / (frames.shape[0] / rate) / 1000, 1)
    return AudioClip(np.ascontiguousarray(frames.T), int(rate), info.format, info.subtype, bitrate)


def write_audio(path: PathLike, data: np.ndarray, sample_rate: int, *, format: str | None = None,
                subtype: str | None = None, bitrate: float | None = None) -> None:
    """Write ``data`` (``(time,)`` or ``[channels, time]``, float) to an audio file, atomically.

    ``format`` and ``subtype`` default from the extension (WAV/FLAC: PCM_16, .ogg: VORBIS,
    .opus: OPUS, .mp3: MPEG_LAYER_III); pass an AudioClip's to keep them. ``format`` must
    agree with the extension (.wav takes WAV, WAVEX, RF64 and W64). Integer subtypes are
    quantised here (round to nearest, clip to [-1, 1]) so a PCM read -> write round trip is
    sample-exact; float subtypes are not clipped. Float WAVs get no write-time stamp, so
    the same samples always give the same bytes. ``bitrate`` (MP3 only, kbit/s; an AudioClip's)
    writes constant bit rate at the nearest rate the encoder offers, instead of its default.
    """
    path = Path(path)
    ext = _suffix(path)
    if ext not in _AUDIO_FORMATS:
        raise _unknown_extension(path, AUDIO_EXTENSIONS, "audio")
    import soundfile as sf

    ext_format, default_subtype = _AUDIO_FORMATS[ext]
    fmt = ext_format if format is None else str(format).upper()
    if fmt != ext_format and not (ext == ".wav" and fmt in _WAV_FAMILY):
        raise _error(path, f"format={format!r} does not match the extension {ext} ({ext_format})",
                     "leave format=None to follow the extension, or change the file name")
    sub = default_subtype if subtype is None else str(subtype).upper()
    if sub not in sf.available_subtypes(fmt):
        raise _error(path, f"subtype {sub!r} cannot be written as {fmt}",
                     f"use one of {', '.join(sorted(sf.available_subtypes(fmt)))} or leave subtype=None")
    rate = _int_rate(path, sample_rate)
    arr = _audio_array(path, data)
    if sub == "OPUS" and rate not in _OPUS_RATES:
        raise _error(path, f"Opus cannot store {rate} Hz", f"resample to one of {_OPUS_RATES} or write .flac/.wav")
    if fmt == "FLAC" and (rate > 655350 or (rate > 65535 and rate % 10)):
        raise _error(path, f"FLAC cannot store {rate} Hz (above 65535 Hz the rate must be a multiple of 10, "
                           "at most 655350)", "resample, or write .wav")
    if fmt == "MP3" and (rate not in _MP3_RATES or arr.shape[0] > 2):
        raise _error(path, f"MP3 cannot store {arr.shape[0]} channels at {rate} Hz",
                     f"MP3 takes 1-2 channels at {_MP3_RATES} Hz; resample/downmix or write .flac/.wav")

    if sub in _PCM_BITS:
        # Quantise ourselves: libsndfile scales float->int by 2**(bits-1)-1 but int->float by
        # 2**(bits-1), which would shift every sample of a read -> write round trip.
        bits = _PCM_BITS[sub]
        scale = 2.0 ** (bits - 1)
        q = np.clip(np.round(arr.astype(np.float64) * scale), -scale, scale - 1).astype(np.int64)
        frames = np.ascontiguousarray((q << (32 - bits)).astype(np.int32).T)
    elif sub in _FLOAT_SUBTYPES:
        frames = np.ascontiguousarray(arr.astype(_FLOAT_SUBTYPES[sub]).T)
    else:  # mu-law, A-law, ADPCM, MPEG: integer-like codecs that expect [-1, 1]
        frames = np.ascontiguousarray(np.clip(arr, -1.0, 1.0).astype(np.float32).T)

    quality = {}
    if fmt == "MP3" and bitrate is not None:
        quality = dict(compression_level=_mp3_level(rate, float(bitrate)), bitrate_mode="CONSTANT")

    def _write(tmp: Path) -> None:
        try:
            sf.write(str(tmp), frames, rate, format=fmt, subtype=sub, **quality)
            if sub in ("FLOAT", "DOUBLE"):
                _clear_peak_timestamp(tmp)
        except (RuntimeError, ValueError, TypeError) as exc:
            if _disk_full(exc, tmp.parent, frames.nbytes):
                raise _error(path, "the disk is full", "free some space (or write to another disk) and try "
                                   "again") from None
            raise _error(path, f"libsndfile could not write {arr.shape[0]} channel(s) at {rate} Hz as "
                               f"{fmt}/{sub} ({exc})",
                         "try another format or subtype (WAV/FLOAT accepts almost anything)") from None

    atomic_write(path, _write)


def _mp3_level(rate: int, kbps: float) -> float:
    """libsndfile's MP3 ``compression_level`` for a constant ``kbps``: it maps 0..1 linearly onto the
    MPEG version's bit rates, highest first (MPEG-1 320-32, MPEG-2 160-8, MPEG-2.5 64-8 kbit/s)."""
    high, low = (320.0, 32.0) if rate >= 32000 else (160.0, 8.0) if rate >= 16000 else (64.0, 8.0)
    return float(np.clip((high - kbps) / (high - low), 0.0, 0.99))


def _disk_full(exc: Exception, folder: Path, needed: int) -> bool:
    """Whether a codec's write error was a full disk (libsndfile reports it as a plain RuntimeError)."""
    if "no space left" in str(exc).lower() or "quota exceeded" in str(exc).lower():
        return True
    try:
        return shutil.disk_usage(folder).free < needed
    except OSError:
        return False


def _clear_peak_timestamp(path: Path) -> None:
    """Zero the write time that libsndfile puts in a float WAV's PEAK chunk.

    Without this the same samples give different bytes from one second to the next,
    which defeats comparing outputs (batch reruns, caches, tests).
    """
    with open(path, "r+b") as handle:
        head = handle.read(4096)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= len(head):
            chunk, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
            if chunk == b"data":
                return
            if chunk == b"PEAK" and size >= 8:
                handle.seek(pos + 12)  # after id, size and version
                handle.write(b"\0\0\0\0")
                return
            pos += 8 + size + (size & 1)


def _int_rate(path: Path, sample_rate: Any) -> int:
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise _error(path, f"sample_rate={sample_rate!r} is not a number", "pass the rate in Hz as an int") from None
    if not math.isfinite(rate) or rate <= 0 or rate != int(rate):
        raise _error(path, f"sample_rate={sample_rate!r} is not a positive whole number of Hz",
                     "audio files store integer rates; resample to one first")
    return int(rate)


def _audio_array(path: Path, data: Any) -> np.ndarray:
    arr = np.asarray(data)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise _error(path, f"audio data must be (time,) or [channels, time], got shape {arr.shape}",
                     "squeeze batch dimensions before writing")
    if not np.issubdtype(arr.dtype, np.floating):
        raise _error(path, f"audio data has dtype {arr.dtype}; floats in [-1, 1] are expected",
                     "convert it, e.g. int16 samples / 32768")
    if arr.shape[0] > 256:
        raise _error(path, f"data has shape {arr.shape}, i.e. {arr.shape[0]} channels",
                     "data must be [channels, time]: transpose a [time, channels] array")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise _error(path, f"{int(bad.sum())} samples are NaN or Inf",
                     "repair them first (sigdenoise.preprocess.repair_nonfinite)")
    return arr
