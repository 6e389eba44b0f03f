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

from .atomic import atomic_write
from .audio import AudioClip, read_audio, write_audio
from .common import (AUDIO_EXTENSIONS, SENSOR_EXTENSIONS, IrregularTimesError, NoRateError, PathLike, SensorLog,
                     SignalFileError)
from .sensor import iter_sensor_log_chunks, read_sensor_log, read_signal
from .writers import DENOISED_CSV_DIGITS, write_denoised_log, write_sensor_log

__all__ = [
    "AUDIO_EXTENSIONS", "SENSOR_EXTENSIONS", "AudioClip", "IrregularTimesError", "NoRateError", "PathLike",
    "SensorLog", "SignalFileError", "atomic_write", "iter_sensor_log_chunks", "read_audio", "read_sensor_log",
    "read_signal", "write_audio", "write_denoised_log", "write_sensor_log", "DENOISED_CSV_DIGITS",
]
