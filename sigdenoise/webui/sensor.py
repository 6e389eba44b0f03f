"""The Sensor-log tab: inspect a log's columns, denoise them with a 90 % band, plot before and after."""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import gradio as gr
import numpy as np

import sigdenoise
from sigdenoise import jobs
from sigdenoise.band import Z90
from sigdenoise.io import SensorLog, SignalFileError, read_sensor_log
from sigdenoise.sanity import output_warnings

from .files import _check_work, _duration, _output_dir, _private, _progress_callback, _readable, _user_errors, work_seconds
from .models import get_model
from .voice import SENSOR_TOO_LONG, _warning_lines

log = logging.getLogger(__name__)


SENSOR_SAMPLES = 8  # posterior samples for the sensor tab's mean and spread
BAND_Z = Z90  # +-1.645 sigma: a 90% interval if the spread were Gaussian
PLOT_POINTS = 4000  # points per trace sent to the browser; the download has every sample
PLOT_CHANNELS = 6


def _rate_or_none(sample_rate: float | None) -> float | None:
    return float(sample_rate) if sample_rate else None  # 0 or an empty box mean "from the file"


def _band_samples(model: "sigdenoise.DenoiseModel") -> int:
    """Posterior samples the sensor tab draws: 8 for a band, 1 when the model's band is not calibrated
    (a "90 %" band that covers far less would mislead; ``DenoiseModel.band_calibrated``)."""
    return SENSOR_SAMPLES if model.band_calibrated else 1


def _sensor_work(signal: SensorLog, channels: int, model: "sigdenoise.DenoiseModel") -> float:
    return work_seconds(signal.data.shape[1], channels, signal.sample_rate, model.config.sample_rate,
                        _band_samples(model))


def make_inspect_sensor_log(max_minutes: float = math.inf):
    def inspect_sensor_log(path: str | None, sample_rate: float | None, model_name: str | None = None):
        """After an upload: fill the column picker and say what the file holds (or why it cannot be used)."""
        if not path:
            return gr.update(choices=[], value=[]), ""
        try:
            signal = read_sensor_log(path, sample_rate=_rate_or_none(sample_rate))
        except (SignalFileError, ValueError, ImportError) as exc:  # the same words the Denoise button would say
            return gr.update(choices=[], value=[]), f"**Cannot use this file:** {_readable(exc, path)}"
        names = signal.channel_names
        time_column = signal.metadata.get("time_column")
        info = (f"{len(names)} column(s), {signal.data.shape[1]:,} samples at {signal.sample_rate:g} Hz "
                f"({_duration(signal.duration_s)})" + (f"; time column: {time_column}" if time_column else "")
                + (f"; starts {signal.start_time}" if signal.start_time else ""))
        if model_name:
            try:  # said now, not after the press; the picker stays filled, so fewer columns can be picked
                _check_work(_sensor_work(signal, len(names), get_model(model_name)), max_minutes,
                            "This log with every column", SENSOR_TOO_LONG)
            except gr.Error as exc:
                info += f"\n\n**{exc.title}:** {exc.message}"
        return gr.update(choices=names, value=[]), info  # empty = every column

    return inspect_sensor_log


def _wall_clock(start_time: str | None) -> np.datetime64 | None:
    """The log's start as a naive datetime64 in its own wall-clock time, or None when absent or unparsable."""
    if not start_time:
        return None
    try:
        import pandas as pd

        return np.datetime64(pd.Timestamp(start_time).replace(tzinfo=None).to_datetime64(), "ns")
    except (ImportError, ValueError, TypeError):
        return None


def _decimate(n: int) -> slice:
    return slice(None, None, max(1, math.ceil(n / PLOT_POINTS)))


def _filled_points(repaired: np.ndarray | None, row: int) -> np.ndarray:
    """Indices of samples that were missing in ``row`` (at most :data:`PLOT_POINTS`, evenly picked)."""
    if repaired is None:
        return np.empty(0, dtype=np.int64)
    idx = np.flatnonzero(repaired[row])
    return idx[_decimate(idx.size)]


def sensor_figure(raw: np.ndarray, mean: np.ndarray, std: np.ndarray | None, sample_rate: float, names: list[str],
                  start_time: str | None, repaired: np.ndarray | None = None):
    """Raw vs denoised with the +-1.645 sigma band (when ``std`` is given), one panel per channel, and the
    filled-in gaps (``repaired``) marked (plotly: zoom and pan in the page)."""
    shown = names[:PLOT_CHANNELS]
    n = raw.shape[-1]
    step = _decimate(n)
    seconds = np.arange(n) / sample_rate
    start = _wall_clock(start_time)
    if start is None:
        clock, xlabel = (lambda s: s), "time (s)"
    else:  # clock time on the axis: what a maintenance log is read by
        clock = lambda s: start + np.round(s * 1e9).astype("timedelta64[ns]")  # noqa: E731
        xlabel = f"time (log starts {start_time})"
    t = clock(seconds[step])
    note = f" (every {step.step}th sample shown; the download has all)" if step.step > 1 else ""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        return _sensor_figure_matplotlib(raw, mean, std, t, step, shown, xlabel, note,
                                         [(clock(seconds[i]), mean[r][i]) for r, i in
                                          ((r, _filled_points(repaired, r)) for r in range(len(shown)))])
    fig = make_subplots(rows=len(shown), cols=1, shared_xaxes=True, subplot_titles=shown,
                        vertical_spacing=0.1 / max(1, len(shown) - 1) ** 0.5)
    legend_shown = set()
    for row, name in enumerate(shown):
        def add(trace, group):
            trace.update(legendgroup=group, showlegend=group not in legend_shown and trace.showlegend is not False)
            if trace.showlegend:
                legend_shown.add(group)
            fig.add_trace(trace, row=row + 1, col=1)

        if std is not None:
            lo, hi = (mean[row] - BAND_Z * std[row])[step], (mean[row] + BAND_Z * std[row])[step]
            add(go.Scatter(x=t, y=hi, mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False), "band")
            add(go.Scatter(x=t, y=lo, mode="lines", line=dict(width=0), fill="tonexty",
                           fillcolor="rgba(13, 148, 136, 0.25)", name="90% band (±1.645σ)", hoverinfo="skip"), "band")
        add(go.Scatter(x=t, y=raw[row][step], mode="lines", line=dict(color="#9ca3af", width=1), name="raw"), "raw")
        add(go.Scatter(x=t, y=mean[row][step], mode="lines", line=dict(color="#0f766e", width=1.6),
                       name="denoised"), "denoised")
        filled = _filled_points(repaired, row)
        if filled.size:  # a gap the model filled in: an estimate, not a measurement
            add(go.Scatter(x=clock(seconds[filled]), y=mean[row][filled], mode="markers", name="filled-in gap",
                           marker=dict(color="#dc2626", size=5, symbol="x")), "filled")
    fig.update_xaxes(title_text=xlabel + note, row=len(shown), col=1)
    fig.update_layout(template="plotly_white", height=160 + 200 * len(shown), margin=dict(l=60, r=20, t=90, b=50),
                      title=dict(text="Raw vs denoised", x=0.01, y=0.98, yanchor="top"),
                      legend=dict(orientation="h", yref="container", y=0.98, yanchor="top", x=1, xanchor="right"),
                      hovermode="x unified")
    return fig


def _sensor_figure_matplotlib(raw, mean, std, t, step, shown, xlabel, note, filled=()):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 1.2 + 2.0 * len(shown)), dpi=100, layout="constrained")
    axes = fig.subplots(len(shown), 1, sharex=True, squeeze=False)[:, 0]
    for row, (ax, name) in enumerate(zip(axes, shown)):
        if std is not None:
            ax.fill_between(t, (mean[row] - BAND_Z * std[row])[step], (mean[row] + BAND_Z * std[row])[step],
                            color="#0d9488", alpha=0.25, lw=0, label="90% band (±1.645σ)")
        ax.plot(t, raw[row][step], color="#9ca3af", lw=0.8, label="raw")
        ax.plot(t, mean[row][step], color="#0f766e", lw=1.2, label="denoised")
        if row < len(filled) and len(filled[row][0]):
            ax.plot(*filled[row], "x", color="#dc2626", ms=4, label="filled-in gap")
        ax.set_title(name, fontsize=10)
    axes[0].legend(loc="upper right", ncols=4, fontsize=8)
    axes[-1].set_xlabel(xlabel + note)
    return fig


def _picked_rows(names: list[str], columns: list[str] | None) -> list[int]:
    """Row indices of the picked columns in file order; none picked means all."""
    if not columns:
        return list(range(len(names)))
    wanted = [str(c) for c in columns]
    unknown = [c for c in wanted if c not in names]
    if unknown:
        raise gr.Error(f"No column named {', '.join(map(repr, unknown))} in this file; its columns are "
                       f"{', '.join(names)}.", title="Unknown column", duration=None, print_exception=False)
    return [i for i, name in enumerate(names) if name in wanted]


def make_denoise_sensor(max_minutes: float):
    @_user_errors
    def denoise_sensor(log_path: str | None, sample_rate: float | None, columns: list[str] | None, model_name: str,
                       steps: float, output_format: str, keep_mains: bool = False, progress=gr.Progress()):
        """Denoise the picked columns of a sensor log (8 posterior samples when the model's band is calibrated);
        the download holds every column, the ones not picked unchanged. Returns (plot, download file, summary)."""
        if not log_path:
            raise gr.Error("Upload a sensor log first.", title="No file")
        progress(0, desc="Reading the log")
        signal = read_sensor_log(log_path, sample_rate=_rate_or_none(sample_rate))
        rows = _picked_rows(signal.channel_names, columns)
        model = get_model(model_name)
        samples = _band_samples(model)
        _check_work(_sensor_work(signal, len(rows), model), max_minutes, "This log", SENSOR_TOO_LONG)
        started = time.time()
        raw = signal.data[rows]
        # Every column goes into the download: the picked ones denoised, the rest exactly as they came in
        # (their *_std cells stay empty: nothing was estimated there).
        result = jobs.denoise_log(model, signal, rows=rows,
                                  settings=jobs.Settings(steps=int(steps), num_samples=samples,
                                                         remove_hum=not keep_mains),
                                  progress=_progress_callback(progress, 0.02, 0.9, "Denoising"),
                                  source=Path(log_path).name)
        taken = time.time() - started
        progress(0.92, desc="Writing the file")
        suffix = ".parquet" if output_format == "Parquet" else ".csv"
        out_path = _output_dir() / f"{Path(log_path).stem}-denoised{suffix}"
        jobs.write_log_like(out_path, signal, result)
        progress(0.96, desc="Drawing the plot")
        names = [signal.channel_names[i] for i in rows]
        picked_mean = result.mean[rows]
        picked_std = None if result.std is None else result.std[rows]
        picked_repaired = None if result.repaired is None else result.repaired[rows]
        figure = sensor_figure(raw, picked_mean, picked_std, signal.sample_rate, names, signal.start_time,
                               picked_repaired)
        total, picked = len(signal.channel_names), len(rows)
        summary = (f"**Done**: {picked} of {total} column(s) × {signal.data.shape[1]:,} samples at "
                   f"{signal.sample_rate:g} Hz ({_duration(signal.duration_s)}) cleaned in {taken:.1f} s: "
                   f"`{out_path.name}` holds all {total} column(s)")
        summary += f", the {total - picked} not picked unchanged." if picked < total else "."
        if result.std is not None:
            summary += (f" The shaded band is ±{BAND_Z}σ of {samples} model samples (about 90% of the plausible "
                        "values); the file has a `*_std` column per denoised column.")
        else:
            summary += " No uncertainty band: this model's band is not calibrated (`sigdenoise calibrate`)."
        filled = 0 if picked_repaired is None else int(picked_repaired.sum())
        if filled:
            summary += (f" {filled:,} missing value(s) were filled in (red × in the plot; the `*_repaired` "
                        "columns in the file).")
        if picked > PLOT_CHANNELS:
            summary += f" The plot shows the first {PLOT_CHANNELS} denoised columns; the download has all."
        notes = output_warnings(raw, picked_mean, signal.sample_rate, audio=False)
        summary += _warning_lines([n.replace("listen before using it, or lower the strength", "check the plot "
                                             "before using it") for n in notes])
        return figure, _private(out_path), summary

    return denoise_sensor
