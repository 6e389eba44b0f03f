"""What every reader and writer shares: the formats, the error type and its wording, optional libraries,
and the sensor log's in-memory form."""
from __future__ import annotations

import importlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np


PathLike = Union[str, "os.PathLike[str]"]


# extension -> (soundfile format, default subtype when writing)
_AUDIO_FORMATS = {
    ".wav": ("WAV", "PCM_16"),
    ".flac": ("FLAC", "PCM_16"),
    ".ogg": ("OGG", "VORBIS"),
    ".oga": ("OGG", "VORBIS"),
    ".opus": ("OGG", "OPUS"),
    ".mp3": ("MP3", "MPEG_LAYER_III"),
}
# libsndfile reports some .wav files as these (WAVE_FORMAT_EXTENSIBLE, > 4 GB RIFF variants)
_WAV_FAMILY = {"WAV", "WAVEX", "RF64", "W64"}
AUDIO_EXTENSIONS = frozenset(_AUDIO_FORMATS)
SENSOR_EXTENSIONS = frozenset({".csv", ".tsv", ".npy", ".npz", ".parquet", ".h5", ".hdf5", ".mat", ".tdms"})

_PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}
_FLOAT_SUBTYPES = {"FLOAT": np.float32, "DOUBLE": np.float64, "VORBIS": np.float32, "OPUS": np.float32}
# The encoders only take these rates; libsndfile's own error does not say so.
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

_EXTRA = "pip install 'sigdenoise[formats]'"
_RATE_NAMES = ("sample_rate", "sampling_rate", "fs", "Fs", "sample_rate_hz", "SampleRate")
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_TIME_NAME = re.compile(
    r"^(?:t|time|times|timestamp|timestamps|datetime|date_time|date|elapsed|elapsed_time|seconds|sec|secs)"
    r"(?:[\s_]*[\[(]?\s*(s|sec|secs|seconds|ms|us|µs|ns)\s*[\])]?)?$", re.IGNORECASE)
_HEAD_ROWS = 20_000  # rows read up front to find the columns and the sample rate


class SignalFileError(ValueError):
    """A signal file cannot be read or written; the message names the file, the problem and the fix.

    ``template`` (when set) spells options as ``{sample_rate}`` placeholders, so each front end can
    name its own flag (:func:`sigdenoise.options.message_for`); ``str()`` reads as the API says it.
    """

    def __init__(self, message: str, *, path: PathLike | None = None, template: str | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)
        if template is not None:
            self.template = template


class NoRateError(SignalFileError):
    """The file states no sample rate of its own (no time column, no stored rate)."""


class IrregularTimesError(SignalFileError):
    """The time column is not evenly spaced; ``finding`` says where, without advice."""

    def __init__(self, message: str, *, path: PathLike | None = None, template: str | None = None,
                 finding: str = ""):
        super().__init__(message, path=path, template=template)
        self.finding = finding


def _braces(text: Any) -> str:
    return str(text).replace("{", "{{").replace("}", "}}")


def _error(path: PathLike, problem: str, fix: str, cls: type = SignalFileError) -> SignalFileError:
    """``fix`` may name options as ``{sample_rate}``, ``{time_column}``, ``{columns}`` (see sigdenoise.options)."""
    from ..options import render

    template = f"{_braces(path)}: {_braces(problem)}; {fix}"
    return cls(render(template, "api"), path=path, template=template)


def _require(module: str, what: str, package: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{what} needs {package}: {_EXTRA}") from exc


def _suffix(path: Path) -> str:
    return path.suffix.lower()


def _unknown_extension(path: Path, supported: frozenset[str] | set[str], kind: str) -> SignalFileError:
    what = f"the extension {path.suffix!r}" if path.suffix else "no extension"
    return _error(path, f"{what} is not a supported {kind} format",
                  f"use one of {', '.join(sorted(supported))} (convert the file, or rename it if the extension "
                  "is wrong)")


def _check_readable(path: Path) -> None:
    """Raise a SignalFileError for a missing, unreadable, directory or empty input."""
    if not path.exists():
        hint = ("check the spelling and the working folder" if path.parent.is_dir()
                else f"the folder {path.parent} does not exist either")
        raise _error(path, "file not found", hint)
    if path.is_dir():
        raise _error(path, "is a folder, not a file", "pass one file inside it (folders go to the batch command)")
    try:
        with open(path, "rb") as handle:
            first = handle.read(1)
    except PermissionError:
        raise _error(path, "permission denied when opening it for reading",
                     "check its permissions (ls -l) or copy it somewhere readable") from None
    except OSError as exc:
        raise _error(path, f"cannot be opened ({exc.strerror or exc})", "check the disk and the path") from None
    if not first:
        raise _error(path, "file is empty (0 bytes)",
                           "the recording or export was probably interrupted; export it again")


@dataclass
class SensorLog:
    """A multichannel sensor recording: float64 ``data [channels, time]`` at ``sample_rate`` Hz.

    ``metadata`` is free-form; the readers put the source file, the time column's name and
    style (``time_format``: "seconds", "iso" or "none", ``time_unit``, ``time_decimals``,
    ``time_separator``, ``time_zone``, ``time_start``), the delimiter and the header comments
    there, and the writers use them to write the file back in the same style.
    """

    data: np.ndarray
    sample_rate: float
    channel_names: list[str]
    start_time: str | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data, dtype=np.float64)
        if self.data.ndim != 2:
            raise ValueError(f"SensorLog.data must be [channels, time], got shape {self.data.shape}")
        self.channel_names = [str(n) for n in self.channel_names]
        if len(self.channel_names) != self.data.shape[0]:
            raise ValueError(f"SensorLog has {self.data.shape[0]} channels but {len(self.channel_names)} names")
        if not (math.isfinite(self.sample_rate) and self.sample_rate > 0):
            raise ValueError(f"SensorLog.sample_rate must be positive, got {self.sample_rate}")

    @property
    def duration_s(self) -> float:
        return self.data.shape[1] / self.sample_rate
