"""Sensor logs in: one entry point per use (a whole log, its pieces, audio or log by extension) and one
reader per format (CSV/TSV, NPY, NPZ, Parquet, HDF5, MAT, TDMS)."""
from __future__ import annotations

import importlib
import json
import math
import warnings
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .audio import AudioClip, read_audio
from .common import (AUDIO_EXTENSIONS, NoRateError, PathLike, SENSOR_EXTENSIONS, SensorLog, SignalFileError,
                     _EXTRA, _RATE_NAMES, _TIME_UNITS, _check_readable, _error, _require, _suffix,
                     _unknown_extension)
from .csv_log import _iter_csv
from .timebase import (_find_time_column, _format_iso, _iso_parts, _ns_resolution, _rate_from_times, _resolution,
                       _shift_iso)


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
