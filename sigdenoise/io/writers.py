"""Sensor logs out, in the format of the extension and the time style they were read with."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .common import (PathLike, SENSOR_EXTENSIONS, SensorLog, _TIME_UNITS, _error, _require, _suffix,
                     _unknown_extension)
from .timebase import _default_decimals, _format_iso, _iso_parts, _zone_offset_ns


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
