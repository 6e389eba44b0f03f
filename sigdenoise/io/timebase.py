"""Time columns: finding one, its unit, the sample rate its spacing implies, and ISO timestamps."""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .common import IrregularTimesError, NoRateError, _TIME_NAME, _braces, _error, _require


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
        from ..options import render

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
