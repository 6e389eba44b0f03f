"""CSV/TSV logs: the layout (delimiter, header, time column) read from the first rows, then the values
streamed in chunks through pandas."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .common import NoRateError, SensorLog, SignalFileError, _HEAD_ROWS, _TIME_UNITS, _error, _require, _suffix
from .timebase import (_Spacing, _check_increasing, _check_spacing, _find_time_column, _format_iso, _iso_parts,
                       _rate_from_times, _shift_iso)


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
