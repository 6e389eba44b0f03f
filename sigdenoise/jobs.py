"""Read -> denoise -> write, once: the API (:func:`denoise_file`), the batch runner and the web UI all go
through these, so a recording or a log with NaN samples, an all-NaN channel or columns left out comes
back the same way from every front end.

- Audio: NaN and Inf samples are repaired (and counted); the output keeps the input's format, subtype
  and MP3 bit rate.
- Logs: only the chosen channels are denoised, the others come back exactly as they went in (their
  spread NaN: nothing was estimated there); gaps in a chosen channel are filled and flagged; a chosen
  channel with no values at all is denoised as zeros and flagged throughout; a log whose chosen channels
  hold no values at all is refused.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io import AudioClip, SensorLog, SignalFileError, read_signal, write_audio, write_denoised_log


@dataclass(frozen=True)
class Settings:
    """How a front end asked for a signal to be denoised (``None``: the model's default)."""

    steps: int | None = None
    seed: int = 0
    strength: float | None = None
    num_samples: int = 1
    remove_hum: bool = True
    shifts: int = 1
    repair_nan: bool = True  # False: a NaN sample is an error instead


@dataclass
class Denoised:
    """A denoised signal, shaped as its input: ``mean``, the posterior ``std`` (or None) and the samples that
    were missing and filled in (``repaired``, or None when there were none)."""

    mean: np.ndarray
    std: np.ndarray | None
    repaired: np.ndarray | None


def _detailed(model, x: np.ndarray, sample_rate: float, settings: Settings, progress):
    """``model.denoise_detailed`` with a front end's settings."""
    return model.denoise_detailed(x, sample_rate=sample_rate, progress=progress, **dataclasses.asdict(settings))


def denoise_audio(model, clip: AudioClip, settings: Settings = Settings(), progress=None) -> Denoised:
    result = _detailed(model, clip.data, clip.sample_rate, settings, progress)
    return Denoised(result.mean, result.std, result.repaired)


def write_audio_like(path: str | Path, data: np.ndarray, clip: AudioClip) -> None:
    """``data`` as ``clip`` was stored: format, subtype and (MP3) bit rate."""
    write_audio(path, data, clip.sample_rate, format=clip.format, subtype=clip.subtype, bitrate=clip.bitrate)


def no_values(source: str) -> SignalFileError:
    return SignalFileError(f"{source}: every sample is missing (NaN or empty cells); there is nothing to denoise; "
                           "check the export or leave the file out (or choose other columns)", path=source)


def denoise_values(model, data: np.ndarray, *, sample_rate: float, rows: list[int] | None = None,
                   settings: Settings = Settings(), progress=None) -> Denoised:
    """Denoise ``[channels, time]`` values: the ``rows`` chosen (default all), the rest passed through. A piece
    of a longer log may hold no values at all (a long gap): it comes back as the model's output for zeros."""
    data = np.asarray(data, dtype=np.float64)
    picked = list(range(data.shape[0])) if rows is None else list(rows)
    values = data[picked]
    finite = np.isfinite(values)
    dead = ~finite.any(axis=1)  # a channel with no values at all: zeros in, flagged throughout
    result = _detailed(model, np.where(dead[:, None], 0.0, values) if dead.any() else values, sample_rate,
                       settings, progress)
    mean = data.copy()
    mean[picked] = result.mean
    std = None
    if result.std is not None:
        std = np.full(data.shape, np.nan)
        std[picked] = result.std
    repaired = None
    if not finite.all():
        repaired = np.zeros(data.shape, dtype=bool)
        repaired[picked] = ~finite
    return Denoised(mean, std, repaired)


def denoise_log(model, log: SensorLog, *, rows: list[int] | None = None, settings: Settings = Settings(),
                progress=None, source: str | Path | None = None) -> Denoised:
    """A whole log (read from ``source``); refused when its chosen channels hold no values at all."""
    if not np.isfinite(log.data if rows is None else log.data[list(rows)]).any():
        raise no_values(str(source or log.metadata.get("source", "the log")))
    return denoise_values(model, log.data, sample_rate=log.sample_rate, rows=rows, settings=settings,
                          progress=progress)


def write_log_like(path: str | Path, log: SensorLog, result: Denoised) -> None:
    """The denoised log in ``path``'s format, the input's time column and metadata kept, with ``*_std`` and
    ``*_repaired`` columns where there is a spread or filled gaps."""
    write_denoised_log(path, dataclasses.replace(log, data=result.mean), std=result.std, repaired=result.repaired)


def denoise_file(input_path: str | Path, output_path: str | Path, *, model="speech",
                 steps: int | None = None, seed: int = 0, strength: float | None = None, num_samples: int = 1,
                 repair_nan: bool = True, remove_hum: bool = True, shifts: int = 1, **read_kwargs) -> dict:
    """Denoise one audio file or sensor log into ``output_path`` (same format; written atomically).

    Returns a small summary (rate, duration, seconds taken). Never writes over the input.
    """
    from .pipeline import DenoiseModel, load_model  # here: the batch runner imports this module before torch

    input_path, output_path = Path(input_path), Path(output_path)
    if output_path.exists() and input_path.exists() and output_path.resolve() == input_path.resolve():
        raise ValueError(f"{output_path}: refusing to overwrite the input file; choose another output path")
    model = model if isinstance(model, DenoiseModel) else load_model(model)
    settings = Settings(steps=steps, seed=seed, strength=strength, num_samples=num_samples, remove_hum=remove_hum,
                        shifts=shifts, repair_nan=repair_nan)
    started = time.time()
    signal = read_signal(input_path, **read_kwargs)
    if isinstance(signal, AudioClip):
        result = denoise_audio(model, signal, settings)
        if input_path.suffix.lower() == output_path.suffix.lower():
            write_audio_like(output_path, result.mean, signal)
        else:  # another extension: let it decide the format
            write_audio(output_path, result.mean, signal.sample_rate)
    else:
        write_log_like(output_path, signal, denoise_log(model, signal, settings=settings, source=input_path))
    return {"sample_rate": signal.sample_rate, "seconds_of_signal": signal.data.shape[-1] / signal.sample_rate,
            "seconds_taken": time.time() - started}
