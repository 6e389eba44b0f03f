"""Audio files and sensor logs <-> numpy arrays with their sample rate.

The "load" and "save" ends of load -> prepare -> sample -> restore -> save. Nothing
here knows about models. Every writer is atomic (temp file in the same folder, then
``os.replace``), and every problem with a file raises :class:`SignalFileError`, whose
message names the file, the problem and what to do about it.

Audio (WAV, FLAC, OGG Vorbis/Opus, MP3) goes through soundfile. Sensor logs: CSV/TSV
(streamed in chunks, needs pandas), NPY, NPZ, and with the ``[formats]`` extra also
Parquet, HDF5, MATLAB v5/v7.3 and TDMS. Optional libraries are imported lazily.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "AUDIO_EXTENSIONS", "SENSOR_EXTENSIONS", "AudioClip", "SensorLog", "SignalFileError", "atomic_write",
    "iter_sensor_log_chunks", "read_audio", "read_sensor_log", "read_signal", "write_audio", "write_sensor_log",
]

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
    from .options import render

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


# --------------------------------------------------------------------------- atomic writes
def _umask() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no other portable way to read it
    os.umask(mask)
    return mask


def atomic_write(path: PathLike, write_fn: Callable[[Path], None]) -> None:
    """Write ``path`` atomically: ``write_fn(tmp_path)``, fsync, then ``os.replace`` onto ``path``.

    The temp file sits in the same folder (so the rename is atomic) and ends with the same
    extension (so libraries that pick the format from the name behave). Readers never see
    a half-written file; on any error the temp file is removed and an existing ``path`` is
    left exactly as it was. A replaced file keeps its permission bits.
    """
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise _error(path, "is a folder, so a file cannot be written there", "give a file name inside it")
    if not folder.is_dir():
        raise _error(path, f"the output folder {folder} does not exist", "create it first (mkdir -p)")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=folder)
    except PermissionError:
        raise _error(path, f"permission denied: cannot create files in {folder}",
                     "choose an output folder you can write to") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write_fn(tmp)
        mode = (os.stat(path).st_mode & 0o7777) if path.exists() else (0o666 & ~_umask())
        os.chmod(tmp, mode)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, SignalFileError):
            raise _error(path, f"could not be written ({exc.strerror or exc})",
                         "check free disk space and write permission on the folder") from exc
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable; not possible everywhere
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# --------------------------------------------------------------------------- audio
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


# --------------------------------------------------------------------------- sensor logs
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


def read_signal(path: PathLike, **kw: Any) -> AudioClip | SensorLog:
    """Read an audio file or a sensor log, chosen by extension; ``kw`` go to :func:`read_sensor_log`."""
    path = Path(path)
    ext = _suffix(path)
    if ext in AUDIO_EXTENSIONS:
        if kw:
            raise TypeError(f"read_signal({path}): audio files take no options, got {sorted(kw)}")
        return read_audio(path)
    if ext in SENSOR_EXTENSIONS:
        return read_sensor_log(path, **kw)
    raise _unknown_extension(path, AUDIO_EXTENSIONS | SENSOR_EXTENSIONS, "signal")


def read_sensor_log(path: PathLike, *, sample_rate: float | None = None, time_column: str | None = None,
                    columns: list[str] | None = None, dataset: str | None = None) -> SensorLog:
    """Read a sensor log into float64 ``[channels, time]`` with its sample rate.

    The rate comes from, in order: ``sample_rate=``; a rate stored in the file (NPZ/HDF5/
    MAT ``sample_rate`` entry, TDMS ``wf_increment``, Parquet written by us); the time
    column (numeric seconds -- or ms/us/ns when its name says so -- or ISO-8601 timestamps),
    found by name (time, timestamp, t, datetime, ...) or given as ``time_column=``. Its
    spacing must be regular within 1%; irregular timestamps are an error unless
    ``sample_rate=`` is given (then a warning). Empty cells become NaN and are kept.
    ``columns`` picks value channels by name; ``dataset`` picks the array inside an
    HDF5/MAT/NPZ file or the group (``"group"`` or ``"group/channel"``) in a TDMS file.
    Arrays in NPY/NPZ/HDF5 files are ``[channels, time]``; MATLAB arrays are one column
    per channel (MATLAB's convention).
    """
    path = Path(path)
    ext = _check_sensor_args(path, sample_rate, dataset)
    if ext in (".csv", ".tsv"):
        pieces = list(_iter_csv(path, chunk_rows=1_000_000, sample_rate=sample_rate, time_column=time_column,
                                columns=columns))
        first = pieces[0]
        data = np.concatenate([p.data for p in pieces], axis=1) if len(pieces) > 1 else first.data
        meta = {k: v for k, v in first.metadata.items() if k != "first_sample"}
        if "time_values" in meta:
            meta["time_values"] = np.concatenate([p.metadata["time_values"] for p in pieces])
        return SensorLog(data, first.sample_rate, first.channel_names, first.start_time, meta)
    return _read_whole(path, ext, sample_rate=sample_rate, time_column=time_column, columns=columns, dataset=dataset)


def iter_sensor_log_chunks(path: PathLike, *, chunk_rows: int, sample_rate: float | None = None,
                           time_column: str | None = None, columns: list[str] | None = None,
                           dataset: str | None = None) -> Iterator[SensorLog]:
    """Yield a sensor log in pieces of at most ``chunk_rows`` samples, all with the same rate and names.

    CSV/TSV files are streamed (pandas ``read_csv(chunksize=)``): the columns and the rate
    come from the first rows, and later rows are checked against them as they arrive, so
    a multi-GB file never sits in memory whole. NPY files are memory-mapped; the other
    formats are read whole and then sliced. Each piece's ``metadata["first_sample"]`` is
    the index of its first sample in the whole log and ``start_time`` is its own.
    """
    path = Path(path)
    if int(chunk_rows) != chunk_rows or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    ext = _check_sensor_args(path, sample_rate, dataset)  # errors now, not at the first next()
    if ext in (".csv", ".tsv"):
        return _iter_csv(path, chunk_rows=int(chunk_rows), sample_rate=sample_rate, time_column=time_column,
                         columns=columns)
    log = _read_whole(path, ext, sample_rate=sample_rate, time_column=time_column, columns=columns,
                      dataset=dataset, mmap=True)
    return _slices(log, int(chunk_rows))


def _slices(log: SensorLog, chunk_rows: int) -> Iterator[SensorLog]:
    for start in range(0, max(log.data.shape[1], 1), chunk_rows):
        piece = np.array(log.data[:, start:start + chunk_rows], dtype=np.float64)
        yield SensorLog(piece, log.sample_rate, list(log.channel_names),
                        _shift_iso(log.start_time, start / log.sample_rate), {**log.metadata, "first_sample": start})


def _check_sensor_args(path: Path, sample_rate: float | None, dataset: str | None) -> str:
    ext = _suffix(path)
    if ext not in SENSOR_EXTENSIONS:
        if ext in AUDIO_EXTENSIONS:
            raise _error(path, "is an audio file, not a sensor log", "read it with read_audio (or read_signal)")
        raise _unknown_extension(path, SENSOR_EXTENSIONS, "sensor-log")
    if sample_rate is not None and not (isinstance(sample_rate, (int, float, np.number))
                                        and math.isfinite(sample_rate) and sample_rate > 0):
        raise _error(path, f"sample_rate={sample_rate!r} is not a positive number", "pass the rate in Hz")
    if dataset is not None and ext not in (".h5", ".hdf5", ".mat", ".npz", ".tdms"):
        raise _error(path, f"dataset={dataset!r} does not apply to {ext} files",
                           "drop it (it is for HDF5/MAT/NPZ/TDMS)")
    _check_readable(path)
    return ext


# ----------------------------------------------------------------- time columns and rates
def _time_unit(name: str) -> str | None:
    """The unit a time-like column name implies ("s", "ms", "us", "ns"), or None if not time-like."""
    m = _TIME_NAME.match(name.strip())
    if not m or name.strip() == "T":  # a capital T is usually a temperature
        return None
    unit = (m.group(1) or "s").lower().replace("µ", "u")
    return "s" if unit.startswith("s") else unit


def _unit_from_explicit(name: str) -> str:
    m = re.search(r"(?:[\s_\[(])(ms|us|µs|ns|s|sec)\s*[\])]?\s*$", name.strip(), re.IGNORECASE)
    unit = m.group(1).lower().replace("µ", "u") if m else "s"
    return "s" if unit.startswith("s") else unit


def _find_time_column(path: Path, names: list[str], time_column: str | None) -> tuple[str | None, str]:
    if time_column is not None:
        if time_column not in names:
            raise _error(path, f"time_column={time_column!r} is not a column", f"the columns are {names}")
        return time_column, _unit_from_explicit(time_column)
    for name in names:
        unit = _time_unit(name)
        if unit is not None:
            return name, unit
    return None, "s"


def _resolution(t: np.ndarray) -> float:
    """The timestamps' resolution in seconds (1, 0.1, ... 1e-9), or 0.0 when they look unrounded."""
    t = t[np.isfinite(t)]
    for d in range(10):
        x = t * 10.0 ** d
        if np.all(np.abs(x - np.round(x)) <= 1e-3 + 1e-12 * np.abs(x)):
            return 10.0 ** -d
    return 0.0


def _ns_resolution(ns: np.ndarray) -> float:
    for d in range(10):
        if np.all(ns % (10 ** (9 - d)) == 0):
            return 10.0 ** -d
    return 1e-9


@dataclass
class _Spacing:
    """What the first rows say about the time column; later rows are checked against it."""

    period: float  # mean spacing over the first rows, s
    low: float  # shortest and longest interval allowed, s
    high: float
    strict: bool  # raise on irregular spacing (no sample_rate= given) or only warn
    column: str
    warned: bool = False


def _spacing_for(period: float, resolution: float, *, strict: bool, column: str) -> _Spacing:
    """Allowed intervals: the period within 1%, widened by the timestamps' rounding.

    Times rounded to ``resolution`` r give intervals of floor(P/r)*r or ceil(P/r)*r (64 Hz
    logged to the ms: 15 or 16 ms). When P is a whole number of r (10 Hz logged to 0.1 s)
    rounding adds nothing, so a missing sample still shows.
    """
    low = high = period
    if resolution > 0:
        q = period / resolution
        if abs(q - round(q)) < 1e-3 * max(q, 1.0):
            low = high = round(q) * resolution
        else:
            low, high = math.floor(q) * resolution, math.ceil(q) * resolution
    return _Spacing(period, low - 0.01 * period, high + 0.01 * period, strict, column)


def _rate_from_times(path: Path, t: np.ndarray, resolution: float, *, column: str, sample_rate: float | None
                     ) -> tuple[float, _Spacing | None]:
    """Sample rate from relative timestamps ``t`` (seconds) of the first rows, and the spacing to hold to.

    The rate is (rows - 1) / span rather than one over the median interval: with rounded
    timestamps the median is one of the rounded steps (16 ms for 64 Hz logged to the ms).
    """
    if t.size < 2:
        if sample_rate is None:
            raise _error(path, f"only {t.size} timestamp(s), so the time column {column!r} cannot give a sample rate",
                         "pass {sample_rate}", NoRateError)
        return float(sample_rate), None
    dt = np.diff(t)
    _check_increasing(path, dt, 0, column)
    span = float(t[-1] - t[0])
    spacing = _spacing_for(span / (t.size - 1), resolution, strict=sample_rate is None, column=column)
    _check_spacing(path, dt, spacing, first_row=0)
    estimate = (t.size - 1) / span
    if sample_rate is not None:
        if abs(estimate - sample_rate) > 0.01 * sample_rate:
            warnings.warn(f"{path}: sample_rate={sample_rate} given, but the time column {column!r} says "
                          f"{estimate:.6g} Hz; using {sample_rate}", stacklevel=4)
        return float(sample_rate), spacing
    # Snap to a whole number of Hz when it lies within the timestamps' rounding error.
    uncertainty = (resolution + 1e-9 * max(abs(float(t[-1])), 1.0)) / span
    nearest = round(estimate)
    if nearest > 0 and abs(estimate - nearest) <= estimate * uncertainty:
        estimate = float(nearest)
    return float(estimate), spacing


def _check_increasing(path: Path, dt: np.ndarray, first_row: int, column: str) -> None:
    bad = np.flatnonzero(~(dt > 0))
    if bad.size:
        row = first_row + int(bad[0]) + 1
        raise _error(path, f"the time column {column!r} does not increase at data row {row + 1} "
                           f"(step {dt[bad[0]]:.6g} s)",
                     f"sort the rows by time and remove duplicate rows (or pass {{time_column}} if {_braces(column)!r} "
                     "is not the time)")


def _check_spacing(path: Path, dt: np.ndarray, spacing: _Spacing, *, first_row: int) -> None:
    off = np.flatnonzero((dt < spacing.low) | (dt > spacing.high))
    if not off.size:
        return
    i = int(off[0])
    msg = (f"{path}: the time column {spacing.column!r} is irregular: {off.size} of {dt.size} intervals "
           f"(the first between data rows {first_row + i + 1} and {first_row + i + 2}: {float(dt[i]):.6g} s) "
           f"are off the spacing {spacing.period:.6g} s by more than 1%")
    if spacing.strict:
        template = (_braces(msg) + "; resample it to a uniform rate first, or pass {sample_rate} to treat the "
                                   "samples as evenly spaced")
        from .options import render

        raise IrregularTimesError(render(template, "api"), path=path, template=template, finding=msg)
    if not spacing.warned:
        spacing.warned = True
        warnings.warn(msg + "; the samples are treated as evenly spaced at the given sample_rate", stacklevel=4)


def _iso_parts(stamp: Any) -> tuple[np.datetime64, str]:
    """Wall-clock time (naive, ns) and zone suffix ("Z", "+02:00" or "") of one timestamp."""
    pd = _require("pandas", "ISO timestamps", "pandas")
    text = str(stamp).strip()
    ts = pd.Timestamp(text)
    if ts.tzinfo is None:
        zone = ""
    elif text.endswith("Z") or str(ts.tzinfo) in ("UTC", "utc"):
        zone = "Z"
    else:
        minutes = int(ts.utcoffset().total_seconds() // 60)
        zone = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    wall = ts.tz_localize(None) if ts.tzinfo is not None else ts
    return np.datetime64(wall.as_unit("ns").to_datetime64(), "ns"), zone


def _format_iso(wall_ns: np.ndarray, *, decimals: int, separator: str = "T", zone: str = "") -> np.ndarray:
    """Format naive datetime64[ns] wall-clock times as ISO-8601 strings with ``decimals`` fraction digits."""
    decimals = max(0, min(9, int(decimals)))
    step = 10 ** (9 - decimals)
    ns = wall_ns.astype("datetime64[ns]").astype(np.int64)
    ns = (ns + step // 2) // step * step
    text = np.datetime_as_string(ns.astype("datetime64[ns]"), unit="ns")
    text = text.astype(f"U{20 + decimals if decimals else 19}")  # cutting a numpy string dtype truncates
    if separator != "T":
        text = np.char.replace(text, "T", separator)
    return np.char.add(text, zone) if zone else text


def _shift_iso(start: str | None, seconds: float) -> str | None:
    if start is None or seconds == 0:
        return start
    wall, zone = _iso_parts(start)
    shifted = np.array([wall + np.timedelta64(int(round(seconds * 1e9)), "ns")])
    return str(_format_iso(shifted, decimals=9)[0]).rstrip("0").rstrip(".") + zone


def _zone_offset_ns(zone: str) -> int:
    """UTC offset of a zone suffix as written by :func:`_iso_parts` ("", "Z" or "+HH:MM")."""
    if zone in ("", "Z"):
        return 0
    hours, minutes = zone[1:].split(":")
    return (1 if zone[0] == "+" else -1) * (int(hours) * 3600 + int(minutes) * 60) * 10 ** 9


def _default_decimals(rate: float) -> int:
    for d in (0, 3, 6):
        if abs(10 ** d / rate - round(10 ** d / rate)) < 1e-9:
            return d
    return 6


# --------------------------------------------------------------------------- CSV
@dataclass
class _CsvLayout:
    """How to stream one CSV: what _csv_layout learnt from its first rows."""

    time_col: str | None
    time_kind: str  # "seconds", "iso" or "none"
    unit: str
    value_cols: list[str]
    rate: float
    spacing: _Spacing | None
    t0: float | int  # first numeric time (file units) or first instant (int ns since the epoch, UTC)
    start_time: str | None
    read_kwargs: dict
    metadata: dict


def _csv_layout(path: Path, pd: Any, *, sample_rate: float | None, time_column: str | None,
                columns: list[str] | None) -> _CsvLayout:
    """Find delimiter, header, time column, value columns and the rate from the first rows."""
    comments: list[str] = []
    first_line = ""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for line in handle:
                if line.startswith("#"):
                    comments.append(line.rstrip("\r\n"))
                    continue
                first_line = line
                break
    except UnicodeDecodeError:
        raise _error(path, "is not UTF-8 text", "re-save it as UTF-8 CSV") from None
    if not first_line.strip():
        raise _error(path, "holds no header and no data rows", "export the log again")
    if _suffix(path) == ".tsv":
        sep = "\t"
    else:
        counts = {c: first_line.count(c) for c in (",", ";", "\t")}
        sep = max(counts, key=counts.get) if max(counts.values()) else ","
    fields = [f.strip() for f in first_line.rstrip("\r\n").split(sep)]
    has_header = not all(_is_number(f) for f in fields)
    kwargs = dict(sep=sep, skiprows=len(comments), skipinitialspace=True, encoding="utf-8-sig")
    if not has_header:
        kwargs.update(header=None, names=[f"ch{i}" for i in range(len(fields))])
    try:
        head = pd.read_csv(path, nrows=_HEAD_ROWS, dtype=str, **kwargs)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise _error(path, f"is not a readable CSV ({exc})", "check the delimiter, quoting and encoding") from None
    names = [str(c) for c in head.columns]
    if head.empty:
        raise _error(path, "has a header but no data rows", "export the log again")

    time_col, unit = _find_time_column(path, names, time_column)
    if columns is not None:
        missing = [c for c in columns if c not in names]
        if missing:
            raise _error(path, f"columns {missing} are not in the file", f"the columns are {names}")
        candidates = [c for c in columns if c != time_col]
    else:
        candidates = [c for c in names if c != time_col]
    value_cols, skipped = [], []
    for col in candidates:
        kind, bad_row, bad_value = _column_kind(pd, head[col])
        if kind == "mixed" or (kind == "text" and columns is not None):
            raise _error(path, f"column {col!r} is not numeric (data row {bad_row + 1} holds {bad_value!r})",
                         "fix that value or leave the column out with {columns}")
        (value_cols if kind == "numeric" else skipped).append(col)
    if not value_cols:
        raise _error(path, f"has no numeric value columns (columns: {names})",
                     "a sensor log needs at least one column of numbers")
    if skipped:
        warnings.warn(f"{path}: skipping non-numeric columns {skipped}", stacklevel=4)

    metadata: dict = {"source": str(path), "format": _suffix(path)[1:], "delimiter": sep, "header": has_header,
                      "header_comments": comments, "skipped_columns": skipped, "time_column": time_col}
    start_time = None
    spacing = None
    t0: float | int = 0.0
    if time_col is None:
        if sample_rate is None:
            raise _error(path, f"has no time column (looked for time/timestamp/t/datetime in {names})",
                         "pass {sample_rate} (Hz), or {time_column} naming the column that holds the time",
                         NoRateError)
        rate, kind = float(sample_rate), "none"
        metadata["time_format"] = "none"
    else:
        raw = head[time_col]
        if raw.isna().any():
            row = int(np.flatnonzero(raw.isna().to_numpy())[0])
            raise _error(path, f"the time column {time_col!r} is empty at data row {row + 1}",
                         "fill in or drop rows without a time")
        numeric = pd.to_numeric(raw, errors="coerce")
        if not numeric.isna().any():
            kind = "seconds"
            t_file = numeric.to_numpy(np.float64)
            t0 = float(t_file[0])
            scale = _TIME_UNITS[unit]
            decimals = _fraction_digits(raw, r"^\s*[-+]?\d*[.,](\d+)\s*$", exponent_means_none=True)
            res_file = 0.0 if decimals is None else 10.0 ** -decimals
            t = (t_file - t0) * scale
            rate, spacing = _rate_from_times(path, t, res_file * scale, column=time_col, sample_rate=sample_rate)
            metadata.update(time_format="seconds", time_unit=unit, time_start=t0, time_decimals=decimals)
        else:
            kind = "iso"
            ns = _parse_iso(path, pd, raw, time_col, first_row=0)
            t0 = int(ns[0])  # a float64 would lose ~100 ns at today's epoch offsets
            wall, zone = _iso_parts(raw.iloc[0])
            decimals = _fraction_digits(raw, r":\d\d[.,](\d+)") or 0
            rate, spacing = _rate_from_times(path, (ns - ns[0]) / 1e9, 10.0 ** -decimals, column=time_col,
                                             sample_rate=sample_rate)
            separator = " " if " " in str(raw.iloc[0]).strip() else "T"
            start_time = str(_format_iso(np.array([wall]), decimals=decimals, zone=zone)[0])
            metadata.update(time_format="iso", time_decimals=decimals, time_separator=separator, time_zone=zone)
    return _CsvLayout(time_col, kind, unit, value_cols, rate, spacing, t0, start_time, kwargs, metadata)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _fraction_digits(raw: Any, pattern: str, *, exponent_means_none: bool = False) -> int | None:
    """Most digits after the decimal point among time strings: how the file writes its times."""
    if exponent_means_none and raw.str.contains("[eE]", regex=True).any():
        return None
    digits = raw.str.extract(pattern, expand=False).str.len()
    return 0 if digits.isna().all() else int(digits.max())


def _column_kind(pd: Any, col: Any) -> tuple[str, int, Any]:
    """("numeric" | "text" | "mixed", first bad row, its value) for a column of strings."""
    present = col.notna().to_numpy()
    parsed = pd.to_numeric(col, errors="coerce").to_numpy(np.float64)
    bad = present & np.isnan(parsed)
    # A cell written as "nan" parses to NaN too: that is a number, not text.
    bad &= ~col.str.strip().str.lower().isin(["nan", "-nan", "+nan"]).to_numpy()
    if not bad.any():
        return "numeric", -1, None
    row = int(np.flatnonzero(bad)[0])
    return ("text" if bad.sum() == present.sum() else "mixed"), row, col.iloc[row]


def _parse_iso(path: Path, pd: Any, raw: Any, column: str, *, first_row: int) -> np.ndarray:
    """ISO-8601 strings -> int64 ns since the epoch (UTC; naive stamps are taken as UTC)."""
    try:
        parsed = pd.to_datetime(raw, format="ISO8601", utc=True)
    except (ValueError, TypeError) as exc:
        raise _error(path, f"the time column {column!r} holds neither numbers nor ISO-8601 timestamps "
                           f"(e.g. {str(raw.iloc[0])!r}; {str(exc).splitlines()[0]})",
                     "write times as seconds or as 2024-01-31T12:00:00.000, or pass {time_column} for the right "
                     "column") from None
    if parsed.isna().any():
        row = first_row + int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise _error(path, f"the time column {column!r} is empty at data row {row + 1}",
                     "fill in or drop rows without a time")
    return parsed.dt.tz_localize(None).to_numpy("datetime64[ns]").view(np.int64)


def _iter_csv(path: Path, *, chunk_rows: int, sample_rate: float | None, time_column: str | None,
              columns: list[str] | None) -> Iterator[SensorLog]:
    pd = _require("pandas", "reading CSV", "pandas")
    layout = _csv_layout(path, pd, sample_rate=sample_rate, time_column=time_column, columns=columns)
    kwargs = layout.read_kwargs
    start_time = layout.start_time
    usecols = ([layout.time_col] if layout.time_col else []) + layout.value_cols
    dtype = {c: np.float64 for c in layout.value_cols}
    if layout.time_col is not None:  # read as text: the output gives these very strings back
        dtype[layout.time_col] = str
    offset = 0
    prev_t: float | None = None
    reader = pd.read_csv(path, usecols=usecols, dtype=dtype, chunksize=chunk_rows, **kwargs)
    chunks = iter(reader)
    with reader:
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except (ValueError, pd.errors.ParserError) as exc:
                raise _csv_row_error(path, pd, layout, kwargs, offset, chunk_rows, exc) from None
            n = len(chunk)
            data = np.ascontiguousarray(chunk[layout.value_cols].to_numpy(np.float64).T)
            chunk_start = start_time
            extra: dict = {}
            if layout.time_col is not None:
                raw_times = chunk[layout.time_col]
                extra["time_values"] = raw_times.fillna("").str.strip().to_numpy(dtype=str)
                if layout.time_kind == "seconds":
                    t_file = pd.to_numeric(raw_times, errors="coerce").to_numpy(np.float64)
                    if np.isnan(t_file).any():
                        row = int(np.flatnonzero(np.isnan(t_file))[0])
                        cell = raw_times.iloc[row]
                        what = "is empty" if cell is None or not str(cell).strip() else f"holds {str(cell)!r}"
                        raise _error(path, f"the time column {layout.time_col!r} {what} at data row "
                                           f"{offset + row + 1}", "fill in or drop rows without a time")
                    t = (t_file - layout.t0) * _TIME_UNITS[layout.unit]
                else:
                    ns = _parse_iso(path, pd, chunk[layout.time_col], layout.time_col, first_row=offset)
                    t = (ns - int(layout.t0)) / 1e9
                    if offset:
                        chunk_start = _shift_iso(start_time, float(t[0]))
                if layout.spacing is not None:
                    full = t if prev_t is None else np.concatenate([[prev_t], t])
                    dt = np.diff(full)
                    first = offset - (0 if prev_t is None else 1)
                    _check_increasing(path, dt, first, layout.time_col)
                    _check_spacing(path, dt, layout.spacing, first_row=first)
                prev_t = float(t[-1]) if n else prev_t
            yield SensorLog(data, layout.rate, list(layout.value_cols), chunk_start,
                            {**layout.metadata, "first_sample": offset, **extra})
            offset += n


def _csv_row_error(path: Path, pd: Any, layout: _CsvLayout, kwargs: dict, offset: int, chunk_rows: int,
                   exc: Exception) -> SignalFileError:
    """Find the cell that broke a chunk (re-reading that chunk as text) for a precise message."""
    if isinstance(exc, pd.errors.ParserError):
        return _error(path, f"malformed CSV ({str(exc).strip()})",
                            "every row needs the same number of fields as the header")
    numeric_cols = layout.value_cols + ([layout.time_col] if layout.time_kind == "seconds" else [])
    try:
        reader = pd.read_csv(path, usecols=numeric_cols, dtype=str, chunksize=chunk_rows, **kwargs)
        with reader:
            for k, chunk in enumerate(reader):
                if k * chunk_rows < offset:
                    continue
                for col in numeric_cols:
                    kind, row, value = _column_kind(pd, chunk[col].reset_index(drop=True))
                    if kind != "numeric":
                        return _error(path, f"column {col!r} holds {value!r} at data row {offset + row + 1}, "
                                            "not a number", "fix that value or leave the column out with {columns}")
                break
    except Exception:  # the diagnosis is best effort; fall back to pandas' own words
        pass
    return _error(path, f"cannot be parsed after data row {offset} ({exc})", "check that row")


# --------------------------------------------------------------------------- other readers
def _read_whole(path: Path, ext: str, *, sample_rate: float | None, time_column: str | None,
                columns: list[str] | None, dataset: str | None, mmap: bool = False) -> SensorLog:
    readers = {".npy": _read_npy, ".npz": _read_npz, ".parquet": _read_parquet, ".h5": _read_hdf5,
               ".hdf5": _read_hdf5, ".mat": _read_mat, ".tdms": _read_tdms}
    kw: dict = dict(sample_rate=sample_rate, time_column=time_column, columns=columns, dataset=dataset)
    if ext == ".npy":
        kw["mmap"] = mmap
    return readers[ext](path, **kw)


def _channels_first(path: Path, arr: np.ndarray, *, layout: str = "channels_first") -> np.ndarray:
    """A 1-D or 2-D numeric array as [channels, time].

    ``layout``: "channels_first" (NPY/NPZ/HDF5), "matlab" (scipy.io: one column per channel)
    or "matlab_hdf5" (v7.3 through h5py, which sees MATLAB arrays transposed). MATLAB vectors
    are one channel whichever way they stand.
    """
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise _error(path, f"holds an array of dtype {arr.dtype}, not numbers", "store the samples as numbers")
    if np.iscomplexobj(arr):
        raise _error(path, "holds complex numbers", "store real samples (e.g. magnitude or real/imag as channels)")
    if layout != "channels_first" and arr.ndim == 2:
        if 1 in arr.shape:
            arr = arr.reshape(1, -1)
        elif layout == "matlab":
            arr = arr.T
    if arr.ndim == 1:
        return arr[None, :]
    if arr.ndim != 2:
        raise _error(path, f"holds an array of shape {arr.shape}", "store a 1-D signal or a 2-D [channels, time] array")
    if layout == "channels_first" and arr.shape[0] > arr.shape[1] and arr.shape[0] > 64:
        raise _error(path, f"holds an array of shape {arr.shape}, which would be {arr.shape[0]} channels of "
                           f"{arr.shape[1]} samples", "store it as [channels, time] (transpose it)")
    return arr


def _finish(path: Path, data: np.ndarray, names: list[str] | None, *, sample_rate: float | None,
            stored_rate: float | None, columns: list[str] | None, start_time: str | None, metadata: dict) -> SensorLog:
    """Pick the rate (argument over file), name and select channels, build the SensorLog."""
    if sample_rate is not None:
        if stored_rate is not None and abs(stored_rate - sample_rate) > 0.01 * sample_rate:
            warnings.warn(f"{path}: sample_rate={sample_rate} given, the file says {stored_rate}; "
                          f"using {sample_rate}", stacklevel=4)
        rate = float(sample_rate)
    elif stored_rate is not None:
        rate = float(stored_rate)
    else:
        raise _error(path, "does not store a sample rate", "pass {sample_rate} (Hz)", NoRateError)
    if names is None or len(names) != data.shape[0]:
        names = [f"ch{i}" for i in range(data.shape[0])]
    if columns is not None:
        missing = [c for c in columns if c not in names]
        if missing:
            raise _error(path, f"channels {missing} are not in the file", f"the channels are {names}")
        data = data[[names.index(c) for c in columns]]
        names = list(columns)
    return SensorLog(np.asarray(data, dtype=np.float64), rate, list(names), start_time,
                     {"source": str(path), "format": _suffix(path)[1:], "time_format": "none", **metadata})


def _no_time_column(path: Path, time_column: str | None) -> None:
    if time_column is not None:
        raise _error(path, "time_column= applies to tables (CSV, Parquet, TDMS)", "drop it")


def _read_npy(path: Path, *, sample_rate, time_column, columns, dataset, mmap: bool = False) -> SensorLog:
    _no_time_column(path, time_column)
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _error(path, f"is not a readable .npy array ({exc})",
                     "the file is truncated or corrupt, or holds Python objects; save it again with np.save") from None
    stored = {"array_shape": list(arr.shape), "array_dtype": arr.dtype.str}  # the writer gives them back
    arr = _channels_first(path, arr)
    if sample_rate is None:
        raise _error(path, ".npy files do not store a sample rate", "pass {sample_rate} (Hz)", NoRateError)
    if not mmap:
        arr = np.asarray(arr, dtype=np.float64)
    return _finish(path, arr, None, sample_rate=sample_rate, stored_rate=None, columns=columns, start_time=None,
                   metadata=stored)


def _read_npz(path: Path, *, sample_rate, time_column, columns, dataset) -> SensorLog:
    _no_time_column(path, time_column)
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if dataset is not None:
                if dataset not in keys:
                    raise _error(path, f"dataset={dataset!r} is not in the archive", f"the arrays are {keys}")
                key = dataset
            elif "data" in keys:
                key = "data"
            else:
                meta_keys = {"sample_rate", "channel_names", "start_time", *_RATE_NAMES}
                arrays = [k for k in keys if k not in meta_keys]
                if not arrays:
                    raise _error(path, "holds no data array", "save the samples under the key 'data'")
                key = arrays[0]
            data = _channels_first(path, archive[key]).astype(np.float64)
            stored = next((float(archive[k]) for k in _RATE_NAMES if k in keys and archive[k].size == 1), None)
            names = [str(n) for n in archive["channel_names"].ravel()] if "channel_names" in keys else None
            start = str(archive["start_time"]) if "start_time" in keys and str(archive["start_time"]) else None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        if isinstance(exc, SignalFileError):
            raise
        raise _error(path, f"is not a readable .npz archive ({exc})",
                     "the file is truncated or corrupt, or holds Python objects; save it again with np.savez") from None
    return _finish(path, data, names, sample_rate=sample_rate, stored_rate=stored, columns=columns, start_time=start,
                   metadata={"dataset": key})


def _table_to_log(path: Path, table: dict[str, np.ndarray], *, sample_rate: float | None, time_column: str | None,
                  columns: list[str] | None, stored_rate: float | None, stored_start: str | None,
                  metadata: dict) -> SensorLog:
    """Typed columns (Parquet, TDMS) -> SensorLog, finding the time column like the CSV reader."""
    names = list(table)
    time_col, unit = _find_time_column(path, names, time_column)
    if time_col is None:  # a datetime-typed column is a time column whatever its name
        time_col = next((n for n in names if np.issubdtype(table[n].dtype, np.datetime64)), None)
    wanted = [c for c in (columns if columns is not None else names) if c != time_col]
    missing = [c for c in wanted if c not in table]
    if missing:
        raise _error(path, f"columns {missing} are not in the file", f"the columns are {names}")
    numeric = [c for c in wanted if np.issubdtype(table[c].dtype, np.number) or table[c].dtype == bool]
    skipped = [c for c in wanted if c not in numeric]
    if skipped and columns is not None:
        raise _error(path, f"columns {skipped} are not numeric", "leave them out of {columns}")
    if not numeric:
        raise _error(path, f"has no numeric value columns (columns: {names})",
                     "a sensor log needs at least one column of numbers")
    if skipped:
        warnings.warn(f"{path}: skipping non-numeric columns {skipped}", stacklevel=4)
    data = np.stack([np.asarray(table[c], dtype=np.float64) for c in numeric])
    meta = {**metadata, "time_column": time_col, "skipped_columns": skipped, "time_format": "none"}
    start = stored_start
    rate = None
    if time_col is not None:
        values = table[time_col]
        if np.issubdtype(values.dtype, np.datetime64):
            ns = values.astype("datetime64[ns]").view(np.int64)
            if np.isnat(values).any():
                raise _error(path, f"the time column {time_col!r} has empty cells",
                                   "fill in or drop rows without a time")
            res = _ns_resolution(ns)
            rate, _ = _rate_from_times(path, (ns - ns[0]) / 1e9, res, column=time_col, sample_rate=sample_rate)
            zone = metadata.get("time_zone", "")
            wall0 = ns[0] + int(metadata.get("zone_offset_ns", 0))
            decimals = int(round(-math.log10(res)))
            start = str(_format_iso(np.array([wall0]).astype("datetime64[ns]"), decimals=decimals, zone=zone)[0])
            meta.update(time_format="iso", time_decimals=decimals, time_separator="T", time_zone=zone)
        else:
            t_file = np.asarray(values, dtype=np.float64)
            if np.isnan(t_file).any():
                raise _error(path, f"the time column {time_col!r} has empty cells",
                                   "fill in or drop rows without a time")
            res = _resolution(t_file)
            scale = _TIME_UNITS[unit]
            rate, _ = _rate_from_times(path, (t_file - t_file[0]) * scale, res * scale, column=time_col,
                                       sample_rate=sample_rate)
            meta.update(time_format="seconds", time_unit=unit, time_start=float(t_file[0]) if t_file.size else 0.0,
                        time_decimals=None if res == 0 else int(round(-math.log10(res))))
        if stored_rate is not None and sample_rate is None:
            if abs(stored_rate - rate) <= 0.01 * rate:
                rate = stored_rate  # the stored value is exact; the estimate only agrees with it
            else:
                warnings.warn(f"{path}: the file says {stored_rate} Hz but the time column {time_col!r} says "
                              f"{rate:.6g} Hz; using the time column", stacklevel=4)
    meta.pop("zone_offset_ns", None)
    if sample_rate is not None:
        rate = sample_rate
        if stored_rate is not None and abs(stored_rate - sample_rate) > 0.01 * sample_rate:
            warnings.warn(f"{path}: sample_rate={sample_rate} given, the file says {stored_rate}; "
                          f"using {sample_rate}", stacklevel=4)
    return _finish(path, data, numeric, sample_rate=rate, stored_rate=stored_rate if rate is None else None,
                   columns=None, start_time=start, metadata=meta)


def _read_parquet(path: Path, *, sample_rate, time_column, columns, dataset) -> SensorLog:
    pq = _require("pyarrow.parquet", "reading Parquet", "pyarrow")
    pa = _require("pyarrow", "reading Parquet", "pyarrow")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise _error(path, f"is not a readable Parquet file ({exc})",
                     "the file is truncated or corrupt; write it again") from None
    stored = json.loads((table.schema.metadata or {}).get(b"sigdenoise", b"{}"))
    columns_map: dict[str, np.ndarray] = {}
    types: dict[str, str] = {}  # numeric column -> numpy dtype string, so the writer keeps float32 float32
    zone, offset_ns = "", 0
    for name, col in zip(table.column_names, table.columns):
        if pa.types.is_timestamp(col.type):
            tz = col.type.tz
            values = col.cast(pa.timestamp("ns", tz=tz)).to_numpy(zero_copy_only=False).astype("datetime64[ns]")
            if tz:  # arrow stores instants in UTC; keep the wall clock of the stored zone
                pd = _require("pandas", "reading Parquet", "pandas")
                first = pd.Timestamp(values[0]).tz_localize("UTC").tz_convert(tz)
                offset_ns = int(first.utcoffset().total_seconds() * 1e9)
                zone = "Z" if str(tz).upper() in ("UTC", "Z", "+00:00") else _iso_parts(first.isoformat())[1]
            columns_map[str(name)] = values
        elif pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type):
            columns_map[str(name)] = col.to_numpy(zero_copy_only=False).astype(np.float64)
            if not pa.types.is_boolean(col.type):
                types[str(name)] = col.type.to_pandas_dtype()().dtype.str
        else:
            columns_map[str(name)] = np.asarray(col.to_pylist(), dtype=object)
    if not columns_map or not table.num_rows:
        raise _error(path, "holds no rows", "write the log again")
    log = _table_to_log(path, columns_map, sample_rate=sample_rate, time_column=time_column, columns=columns,
                        stored_rate=stored.get("sample_rate"), stored_start=stored.get("start_time"),
                        metadata={"time_zone": zone, "zone_offset_ns": offset_ns, "column_dtypes": types})
    time_col = log.metadata.get("time_column")
    if time_col is not None:  # the writer gives the column back as it was, type and zone included
        log.metadata["time_column_data"] = table.column(time_col)
    return log


def _h5_rate(obj: Any) -> float | None:
    while obj is not None:
        for key in _RATE_NAMES:
            if key in obj.attrs:
                return float(np.asarray(obj.attrs[key]).ravel()[0])
        obj = obj.parent if obj.name != "/" else None
    return None


def _h5_text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_h5_text(v) for v in value.ravel()]
    return str(value)


def _read_hdf5(path: Path, *, sample_rate, time_column, columns, dataset, matlab: bool = False) -> SensorLog:
    h5py = _require("h5py", "reading HDF5", "h5py")
    _no_time_column(path, time_column)
    if not h5py.is_hdf5(path):
        raise _error(path, "is not an HDF5 file (bad or truncated header)", "the file is corrupt; write it again")
    try:
        with h5py.File(path, "r") as f:
            found: list[str] = []
            f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
            numeric = [n for n in found if f[n].dtype.kind in "iufb" and f[n].size > 1
                       and not n.startswith("#") and n not in _RATE_NAMES]
            if dataset is not None:
                if dataset.strip("/") not in found:
                    raise _error(path, f"dataset={dataset!r} is not in the file", f"the datasets are {found[:20]}")
                key = dataset.strip("/")
            elif "data" in found:
                key = "data"
            elif len(numeric) == 1:
                key = numeric[0]
            else:
                raise _error(path, f"holds {len(numeric)} numeric datasets ({numeric[:20]})",
                                   "pass dataset= to pick one")
            obj = f[key]
            data = _channels_first(path, obj[()], layout="matlab_hdf5" if matlab else "channels_first")
            data = data.astype(np.float64)
            rate = _h5_rate(obj)
            if matlab and rate is None:
                for name in _RATE_NAMES:
                    if name in f and f[name].size == 1:
                        rate = float(np.asarray(f[name]).ravel()[0])
                        break
            names = _h5_text(obj.attrs["channel_names"]) if "channel_names" in obj.attrs else None
            start = _h5_text(obj.attrs["start_time"]) if "start_time" in obj.attrs else None
    except OSError as exc:
        raise _error(path, f"is not a readable HDF5 file ({exc})",
                           "the file is truncated or corrupt; write it again") from None
    return _finish(path, data, names, sample_rate=sample_rate, stored_rate=rate, columns=columns,
                   start_time=start or None, metadata={"dataset": key})


def _read_mat(path: Path, *, sample_rate, time_column, columns, dataset) -> SensorLog:
    sio = _require("scipy.io", "reading MAT files", "scipy")
    h5py = importlib.util.find_spec("h5py")
    try:
        variables = sio.loadmat(path)
    except NotImplementedError:  # v7.3 is HDF5 inside
        if h5py is None:
            raise ImportError(f"reading MATLAB v7.3 files needs h5py: {_EXTRA}") from None
        log = _read_hdf5(path, sample_rate=sample_rate, time_column=time_column, columns=columns, dataset=dataset,
                         matlab=True)
        log.metadata["format"] = "mat"
        return log
    except Exception as exc:  # scipy raises many kinds (MatReadError, ValueError, ...) for bad files
        raise _error(path, f"is not a readable MAT file ({exc})",
                           "the file is truncated or corrupt; save it again") from None
    _no_time_column(path, time_column)
    arrays = {k: v for k, v in variables.items() if not k.startswith("__")}
    numeric = [k for k, v in arrays.items() if isinstance(v, np.ndarray) and v.dtype.kind in "iufb" and v.size > 1
               and k not in _RATE_NAMES]
    if dataset is not None:
        if dataset not in arrays:
            raise _error(path, f"dataset={dataset!r} is not a variable in the file",
                         f"the variables are {list(arrays)}")
        key = dataset
    elif "data" in arrays:
        key = "data"
    elif len(numeric) == 1:
        key = numeric[0]
    else:
        raise _error(path, f"holds {len(numeric)} numeric variables ({numeric})", "pass dataset= to pick one")
    data = _channels_first(path, arrays[key], layout="matlab").astype(np.float64)
    stored = next((float(np.asarray(arrays[k]).ravel()[0]) for k in _RATE_NAMES if k in arrays
                   and np.asarray(arrays[k]).size == 1), None)
    names = None
    if "channel_names" in arrays:
        raw = arrays["channel_names"]
        if raw.dtype == object:  # a cell array: each cell is an array holding one string
            names = [str(np.asarray(c).ravel()[0]).strip() if np.asarray(c).size else "" for c in raw.ravel()]
        else:  # a char matrix: one row per name
            names = [str(row).strip() for row in raw.ravel()]
    start = None
    if "start_time" in arrays and np.asarray(arrays["start_time"]).size:
        start = str(np.asarray(arrays["start_time"]).ravel()[0]).strip() or None
    return _finish(path, data, names, sample_rate=sample_rate, stored_rate=stored, columns=columns, start_time=start,
                   metadata={"dataset": key})


def _read_tdms(path: Path, *, sample_rate, time_column, columns, dataset) -> SensorLog:
    nptdms = _require("nptdms", "reading TDMS", "nptdms")
    try:
        tdms = nptdms.TdmsFile.read(path)
    except Exception as exc:  # nptdms raises many kinds for bad files
        raise _error(path, f"is not a readable TDMS file ({exc})",
                           "the file is truncated or corrupt; export it again") from None
    groups = [g for g in tdms.groups() if g.channels()]
    group_name, channel_name = (dataset.split("/", 1) + [None])[:2] if dataset else (None, None)
    if group_name is not None:
        match = [g for g in groups if g.name == group_name]
        if not match:
            raise _error(path, f"group {group_name!r} is not in the file", f"the groups are {[g.name for g in groups]}")
        group = match[0]
    elif len(groups) == 1:
        group = groups[0]
    else:
        raise _error(path, f"holds {len(groups)} groups with channels ({[g.name for g in groups]})",
                     "pass dataset='group' to pick one")
    channels = group.channels()
    if channel_name is not None:
        channels = [c for c in channels if c.name == channel_name]
        if not channels:
            raise _error(path, f"channel {channel_name!r} is not in group {group.name!r}",
                         f"the channels are {[c.name for c in group.channels()]}")
    lengths = {len(c) for c in channels}
    if len(lengths) > 1:
        raise _error(path, f"the channels of group {group.name!r} have different lengths {sorted(lengths)}",
                     "pick one channel with dataset='group/channel'")
    table = {c.name: np.asarray(c[:]) for c in channels}
    props = channels[0].properties
    stored = 1.0 / float(props["wf_increment"]) if props.get("wf_increment") else None
    start = None
    if props.get("wf_start_time") is not None:
        stamp = np.datetime64(props["wf_start_time"], "ns")
        if stamp != np.datetime64(0, "ns"):  # LabVIEW writes 0 when no time is known
            start = str(_format_iso(np.array([stamp]), decimals=6, zone="Z")[0])
    log = _table_to_log(path, table, sample_rate=sample_rate, time_column=time_column, columns=columns,
                        stored_rate=stored, stored_start=start, metadata={"dataset": group.name})
    time_col = log.metadata.get("time_column")
    if time_col is not None:  # the writer gives the channel back as it was
        log.metadata["time_column_data"] = table[time_col]
    return log


# --------------------------------------------------------------------------- writers
# Significant digits of each column's spread that a denoised CSV keeps: a resolution of 1e-6 of the
# signal's standard deviation, far below the model's own error, instead of float64's 17 digits (which
# made a 2 GB log's output 3.8 GB). Binary formats store the floats themselves.
DENOISED_CSV_DIGITS = 7


def write_denoised_log(path: PathLike, log: SensorLog, *, std=None, repaired=None) -> None:
    """Write a denoised log (``log.data`` holds the estimate) the one way every front end does.

    Beside each channel go ``<name>_std`` (the posterior spread, when sampled) and ``<name>_repaired``
    (1 where the input had no value and the output holds an estimate); CSV/TSV values keep
    :data:`DENOISED_CSV_DIGITS` significant digits of their column's spread.
    """
    extra = {}
    if std is not None:
        extra.update({f"{name}_std": row for name, row in zip(log.channel_names, std)})
    if repaired is not None:
        extra.update({f"{name}_repaired": row.astype(np.float64) for name, row in zip(log.channel_names, repaired)})
    write_sensor_log(path, log, extra_channels=extra, digits=DENOISED_CSV_DIGITS)


def write_sensor_log(path: PathLike, log: SensorLog, *, extra_channels: dict[str, np.ndarray] | None = None,
                     digits: int | None = None) -> None:
    """Write a sensor log atomically, in the format of the extension and the time style it was read with.

    CSV/TSV get the same time column (name, numeric seconds or ISO timestamps, delimiter,
    header comments) as the log's metadata describes; logs that did not come from a CSV get
    a ``time`` column in seconds (or ISO when ``start_time`` is set). A CSV read by this module
    gets its own time strings back (``metadata["time_values"]``, when the length still matches);
    otherwise times are written on the uniform grid ``start + i / sample_rate``. NaN stays NaN (an empty CSV cell).
    ``extra_channels`` (e.g. ``{"accel_x_std": std}``, each ``(time,)``) are appended
    after the channels. NPY stores only the array; NPZ/HDF5/MAT/Parquet/TDMS also store
    the rate, channel names and start time. ``digits`` (CSV/TSV only): round each column to that
    many significant digits of its own standard deviation; ``None`` writes every float exactly.
    """
    path = Path(path)
    ext = _suffix(path)
    if ext not in SENSOR_EXTENSIONS:
        raise _unknown_extension(path, SENSOR_EXTENSIONS, "sensor-log")
    names, data = _stack_channels(path, log, extra_channels)
    writers = {".csv": _write_csv, ".tsv": _write_csv, ".npy": _write_npy, ".npz": _write_npz,
               ".parquet": _write_parquet, ".h5": _write_hdf5, ".hdf5": _write_hdf5, ".mat": _write_mat,
               ".tdms": _write_tdms}
    if digits is not None and ext in (".csv", ".tsv"):
        data = _round_to_spread(data, digits)
    writers[ext](path, log, names, data)


def _round_to_spread(data: np.ndarray, digits: int) -> np.ndarray:
    """Each row rounded to ``digits`` significant digits of its standard deviation (NaN stays NaN)."""
    out = np.array(data, dtype=np.float64)
    for row in out:
        finite = row[np.isfinite(row)]
        spread = float(finite.std()) if finite.size > 1 else 0.0
        if spread > 0 and np.isfinite(spread):
            decimals = int(np.clip(digits - 1 - np.floor(np.log10(spread)), 0, 15))
            row[:] = np.round(row, decimals)
    return out


def _stack_channels(path: Path, log: SensorLog, extra: dict[str, np.ndarray] | None) -> tuple[list[str], np.ndarray]:
    names = list(log.channel_names)
    rows = [np.asarray(log.data, dtype=np.float64)]
    for name, values in (extra or {}).items():
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.size != log.data.shape[1]:
            raise _error(path, f"extra channel {name!r} has {values.size} samples, the log {log.data.shape[1]}",
                         "pass one value per sample")
        if name in names or name == log.metadata.get("time_column"):
            raise _error(path, f"extra channel {name!r} clashes with an existing column", "give it another name")
        names.append(str(name))
        rows.append(values[None, :])
    return names, np.concatenate(rows, axis=0)


def _time_style(log: SensorLog) -> str:
    """"seconds", "iso" or "none": as read from a CSV, else ISO when the start is known."""
    style = log.metadata.get("time_format")
    if style == "seconds" or (style == "iso" and log.start_time):
        return style
    if style == "none" and log.metadata.get("format") in ("csv", "tsv"):
        return style
    return "iso" if log.start_time else "seconds"


def _numeric_times(log: SensorLog, n: int) -> tuple[np.ndarray, str, int | None]:
    unit = log.metadata.get("time_unit", "s")
    start = float(log.metadata.get("time_start", 0.0) or 0.0)
    t = start + np.arange(n, dtype=np.float64) / log.sample_rate / _TIME_UNITS[unit]
    decimals = log.metadata.get("time_decimals")
    if decimals is None and "time_unit" not in log.metadata:
        decimals = _default_decimals(log.sample_rate)
    return t, unit, decimals


def _wall_times(log: SensorLog, n: int) -> tuple[np.ndarray, str]:
    wall0, zone = _iso_parts(log.start_time)
    step = np.round(np.arange(n, dtype=np.float64) * (1e9 / log.sample_rate)).astype(np.int64)
    return (wall0.astype(np.int64) + step).astype("datetime64[ns]"), zone


def _write_csv(path: Path, log: SensorLog, names: list[str], data: np.ndarray) -> None:
    pd = _require("pandas", "writing CSV", "pandas")
    meta = log.metadata
    n = data.shape[1]
    sep = "\t" if _suffix(path) == ".tsv" else (";" if meta.get("delimiter") == ";" else ",")
    style = _time_style(log)
    time_name = meta.get("time_column") or "time"
    if style != "none" and time_name in names:
        raise _error(path, f"a channel is named {time_name!r} like the time column", "rename the channel")
    frame: dict[str, Any] = {}
    kept = meta.get("time_values")
    if style != "none" and kept is not None and len(kept) == n:  # the input's own times, exactly as written
        frame[time_name] = np.asarray(kept, dtype=str)
    elif style == "seconds":
        t, _, decimals = _numeric_times(log, n)
        frame[time_name] = np.char.mod(f"%.{decimals}f", t) if decimals is not None else t
    elif style == "iso":
        wall, zone = _wall_times(log, n)
        decimals = meta.get("time_decimals")
        if decimals is None:  # enough digits for the step and for the start's own fraction
            start_digits = re.search(r":\d\d[.,](\d+)", log.start_time)
            decimals = max(_default_decimals(log.sample_rate), len(start_digits.group(1)) if start_digits else 0)
        frame[time_name] = _format_iso(wall, decimals=decimals, separator=meta.get("time_separator", "T"), zone=zone)
    for name, row in zip(names, data):
        frame[name] = row
    table = pd.DataFrame(frame)

    def _write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            for line in meta.get("header_comments", []):
                handle.write(line + "\n")
            table.to_csv(handle, sep=sep, index=False, header=meta.get("header", True), na_rep="", lineterminator="\n")

    atomic_write(path, _write)


def _as_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Values in ``dtype``: floats cast, integers rounded and clipped to the type's range."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(np.nan_to_num(values)), info.min, info.max).astype(dtype)
    if np.issubdtype(dtype, np.floating):
        return values.astype(dtype)
    return values


def _write_npy(path: Path, log: SensorLog, names: list[str], data: np.ndarray) -> None:
    """The array as it was read: a 1-D input stays 1-D, and its dtype is kept (float64 when unknown)."""
    shape, dtype = log.metadata.get("array_shape"), log.metadata.get("array_dtype")
    if dtype is not None:
        data = _as_dtype(data, np.dtype(dtype))
    if shape is not None and len(shape) == 1 and data.shape[0] == 1:
        data = data[0]
    atomic_write(path, lambda tmp: np.save(tmp, data))


def _write_npz(path: Path, log: SensorLog, names: list[str], data: np.ndarray) -> None:
    atomic_write(path, lambda tmp: np.savez(tmp, data=data, sample_rate=np.float64(log.sample_rate),
                                            channel_names=np.array(names, dtype=str),
                                            start_time=np.array(log.start_time or "")))


def _write_parquet(path: Path, log: SensorLog, names: list[str], data: np.ndarray) -> None:
    pa = _require("pyarrow", "writing Parquet", "pyarrow")
    pq = _require("pyarrow.parquet", "writing Parquet", "pyarrow")
    style = _time_style(log)
    time_name = log.metadata.get("time_column") or "time"
    arrays, fields = [], []
    kept = _kept_time_column(log, data.shape[1])
    if kept is not None:
        arrays.append(kept if isinstance(kept, (pa.Array, pa.ChunkedArray)) else pa.array(kept))
        fields.append(time_name)
    elif style == "seconds":
        t, _, _ = _numeric_times(log, data.shape[1])
        arrays.append(pa.array(t))
        fields.append(time_name)
    elif style == "iso":
        wall, zone = _wall_times(log, data.shape[1])
        if zone:  # arrow stores the instant (UTC) and the zone separately
            utc = (wall.astype(np.int64) - _zone_offset_ns(zone)).astype("datetime64[ns]")
            arrays.append(pa.array(utc, type=pa.timestamp("ns", tz="UTC" if zone == "Z" else zone)))
        else:
            arrays.append(pa.array(wall, type=pa.timestamp("ns")))
        fields.append(time_name)
    dtypes = log.metadata.get("column_dtypes") or {}
    arrays += [pa.array(_as_dtype(row, np.dtype(dtypes[name])) if name in dtypes else row)
               for name, row in zip(names, data)]
    fields += names
    meta = {"sample_rate": log.sample_rate, "channel_names": names, "start_time": log.start_time}
    table = pa.Table.from_arrays(arrays, names=fields).replace_schema_metadata({"sigdenoise": json.dumps(meta)})
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _kept_time_column(log: SensorLog, n: int):
    """The time column a Parquet or TDMS file was read with (its own values, type and zone), when the log
    still has its length; else None, and the writer lays an even grid from the rate."""
    kept = log.metadata.get("time_column_data")
    return kept if kept is not None and len(kept) == n and log.metadata.get("time_column") else None


def _write_hdf5(path: Path, log: SensorLog, names: list[str], data: np.ndarray) -> None:
    h5py = _require("h5py", "writing HDF5", "h5py")
    key = log.metadata.get("dataset") if log.metadata.get("format") in ("h5", "hdf5") else None

    def _write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            ds = f.create_dataset(key or "data", data=data)
            ds.attrs["sample_rate"] = float(log.sample_rate)
            ds.attrs["channel_names"] = np.array(names, dtype=h5py.string_dtype())
            if log.start_time:
                ds.attrs["start_time"] = log.start_time

    atomic_write(path, _write)


def _write_mat(path: Path, log: SensorLog, names: list[str], data: np.ndarray) -> None:
    sio = _require("scipy.io", "writing MAT files", "scipy")
    cells = np.empty(len(names), dtype=object)
    cells[:] = names
    variables = {"data": data.T, "sample_rate": float(log.sample_rate), "channel_names": cells,
                 "start_time": log.start_time or ""}
    atomic_write(path, lambda tmp: sio.savemat(tmp, variables))


def _write_tdms(path: Path, log: SensorLog, names: list[str], data: np.ndarray) -> None:
    nptdms = _require("nptdms", "writing TDMS", "nptdms")
    group = log.metadata.get("dataset") if log.metadata.get("format") == "tdms" else None
    group = group or "data"
    props: dict = {"wf_increment": 1.0 / log.sample_rate, "wf_start_offset": 0.0}
    if log.start_time:
        wall, zone = _iso_parts(log.start_time)  # TDMS times are UTC
        props["wf_start_time"] = (wall.astype(np.int64) - _zone_offset_ns(zone)).astype("datetime64[ns]")
    objects = [nptdms.GroupObject(group)] + [nptdms.ChannelObject(group, name, row, properties=props)
                                             for name, row in zip(names, data)]
    kept = _kept_time_column(log, data.shape[1])
    if kept is not None:  # the input's own time channel, first, as it was
        objects.insert(1, nptdms.ChannelObject(group, log.metadata["time_column"], np.asarray(kept)))

    def _write(tmp: Path) -> None:
        with nptdms.TdmsWriter(str(tmp)) as writer:
            writer.write_segment(objects)

    atomic_write(path, _write)
