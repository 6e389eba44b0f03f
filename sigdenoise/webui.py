"""The Gradio web page: a Voice tab and a Sensor-log tab on top of the public API.

It sits at the two ends of load -> prepare -> sample -> restore -> save: files go through
``sigdenoise.io``, signals through ``DenoiseModel.denoise``/``denoise_detailed``; nothing
here touches the network or the sampler. ``app.py`` parses the command line and calls
:func:`serve`. Needs the ``[app]`` extra (gradio, matplotlib, pandas, pyarrow; plotly
for the zoomable sensor plot).
"""
from __future__ import annotations

import atexit
import dataclasses
import functools
import logging
import math
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no phoning home
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

import sigdenoise  # noqa: E402
from sigdenoise.io import (  # noqa: E402
    SENSOR_EXTENSIONS, SignalFileError, read_audio, read_sensor_log, write_audio, write_denoised_log,
)

log = logging.getLogger(__name__)

SENSOR_SAMPLES = 8  # posterior samples for the sensor tab's mean and spread
BAND_Z = 1.645  # +-1.645 sigma: a 90% interval if the spread were Gaussian
PLOT_POINTS = 4000  # points per trace sent to the browser; the download has every sample
PLOT_CHANNELS = 6
REFERENCE_RATE = 16000  # the work limit is counted in seconds of mono audio at this rate
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"

THEME = gr.themes.Soft(primary_hue="teal", secondary_hue="slate",
                       font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                       font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])  # local fonts only
CSS = """
.gradio-container {max-width: 1180px !important; margin: auto;}
#intro p {font-size: 1.05em; margin-top: 0;}
.help p {color: var(--body-text-color-subdued); font-size: 0.95em; margin: 0;}
"""


# --------------------------------------------------------------------------- models
_load_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _load_cached(name: str, folder: str) -> "sigdenoise.DenoiseModel":
    return sigdenoise.load_model(name)


def get_model(name: str) -> "sigdenoise.DenoiseModel":
    """Load a bundled model once per name (and checkpoint folder) and keep it."""
    if name not in available_models():
        raise gr.Error(f"No model named {name!r} in {checkpoint_folder()}. "
                       f"Available: {', '.join(available_models()) or 'none'}.", title="Unknown model")
    with _load_lock:
        return _load_cached(name, str(checkpoint_folder()))


def checkpoint_folder() -> Path:
    from sigdenoise.pipeline import checkpoint_dir

    return checkpoint_dir()


def available_models() -> list[str]:
    import sigdenoise

    return sigdenoise.available_models()


def _models_first(preferred: str) -> tuple[list[str], str | None]:
    names = available_models()
    names.sort(key=lambda n: (n != preferred, n))
    return names, (names[0] if names else None)


def _default_strength(name: str | None) -> float:
    """The dry/wet mix the model uses when a call names none (``ModelConfig.default_strength``)."""
    if name is None:
        return 1.0
    try:
        return float(get_model(name).config.default_strength)
    except Exception:  # a broken checkpoint must not stop the page from loading; denoising will say why
        log.exception("could not load model %r", name)
        return 1.0


def _default_steps(name: str | None, num_samples: int = 1) -> int:
    """The steps a call with ``num_samples`` samples runs by default (``DenoiseModel.resolve_steps``)."""
    if name is None:
        return 2
    try:
        return get_model(name).resolve_steps(None, num_samples=num_samples)
    except Exception:  # a broken checkpoint must not stop the page from loading; denoising will say why
        log.exception("could not load model %r", name)
        return 2


# --------------------------------------------------------------------------- errors and files
def _readable(message: str, upload: str | None) -> str:
    """Say the user's file name instead of the server's temp path, and UI words instead of API words."""
    if upload:
        message = message.replace(str(upload), Path(upload).name)
    return (message.replace(", or time_column= naming the column that holds the time", "")
            .replace("pass sample_rate= (Hz)", "type the sample rate (Hz) in the box")
            .replace("sample_rate=", "the sample-rate box"))


def _user_errors(fn: Callable) -> Callable:
    """Show exceptions as a readable message in the page (a ``gr.Error``); the server keeps serving.

    The wrapped function's first argument is the uploaded file's path.
    """

    @functools.wraps(fn)  # keeps the signature: gradio finds the ``progress`` parameter through it
    def wrapper(upload, *args, **kwargs):
        try:
            return fn(upload, *args, **kwargs)
        except gr.Error:
            raise
        except (SignalFileError, ValueError, ImportError) as exc:  # CheckpointError is a ValueError
            raise gr.Error(_readable(str(exc), upload), title="Could not denoise this file",
                           duration=None, print_exception=False) from None
        except MemoryError:
            raise gr.Error("Out of memory: the file is too large for this machine. Cut it into shorter pieces.",
                           duration=None) from None
        except Exception as exc:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Unexpected error ({type(exc).__name__}: {_readable(str(exc), upload)}). "
                           "The server is still running; the details are in its log.", duration=None) from None
    return wrapper


_work_root: Path | None = None


def _output_dir(max_age_s: float = 3600.0) -> Path:
    """A fresh folder for one request's output files; folders older than an hour are removed."""
    global _work_root
    if _work_root is None:
        _work_root = Path(tempfile.mkdtemp(prefix="sigdenoise-webui-"))
        atexit.register(shutil.rmtree, _work_root, True)
    now = time.time()
    for old in _work_root.iterdir():
        if now - old.stat().st_mtime > max_age_s:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=_work_root))


def _check_work(seconds: float, channels: int, model_rate: float, passes: int, max_minutes: float, what: str) -> None:
    """Refuse a request that costs more than ``max_minutes`` of mono 16 kHz audio (one pass)."""
    work = seconds * channels * passes * model_rate / REFERENCE_RATE
    if work > max_minutes * 60:
        raise gr.Error(f"{what} is too long for this server: {_duration(seconds)} × {channels} channel(s)"
                       f"{f' × {passes} passes' if passes > 1 else ''} is {work / 60 / max_minutes:.1f}× the "
                       f"limit (--max-minutes {max_minutes:g}). Cut it into shorter pieces, pick fewer columns, "
                       "or start the app with a larger --max-minutes.", title="File too long", duration=None)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _progress_callback(progress: gr.Progress, start: float, end: float, desc: str) -> Callable[[float], None]:
    return lambda fraction: progress(start + (end - start) * fraction, desc=desc)


# --------------------------------------------------------------------------- voice
def _power_spectrogram(mono: np.ndarray, sample_rate: int, max_columns: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies and power ``[freq, column]`` of ~32 ms windows; long clips are averaged into ``max_columns``."""
    from scipy.signal import spectrogram, welch

    n = mono.size
    nperseg = min(n, 1 << max(6, round(math.log2(0.032 * sample_rate))))
    hop = max(1, nperseg // 4)
    if n / hop <= max_columns:
        f, _, power = spectrogram(mono, fs=sample_rate, nperseg=nperseg, noverlap=nperseg - hop)
        return f, power
    columns = mono[: n // max_columns * max_columns].reshape(max_columns, -1)
    blocks = [welch(columns[i:i + 64], fs=sample_rate, nperseg=nperseg) for i in range(0, max_columns, 64)]
    return blocks[0][0], np.concatenate([b[1] for b in blocks]).T  # in blocks of rows: bounded memory


def spectrogram_images(before: np.ndarray, after: np.ndarray, sample_rate: int, folder: Path) -> tuple[str, str]:
    """Draw before/after spectrograms (mono mix, shared dB scale) as two PNG files; returns their paths."""
    from matplotlib.figure import Figure

    n = before.shape[-1]
    specs = []
    for x in (before, after):
        f, power = _power_spectrogram(np.asarray(x, dtype=np.float64).reshape(-1, n).mean(0), sample_rate)
        specs.append(10 * np.log10(power + 1e-12))
    top = max(float(s.max()) for s in specs)
    paths = []
    for spec, title, name in zip(specs, ("Before (noisy)", "After (denoised)"), ("before.png", "after.png")):
        fig = Figure(figsize=(6.4, 2.6), dpi=100, layout="constrained")
        ax = fig.add_subplot()
        extent = (0, n / sample_rate, f[0] / 1000, f[-1] / 1000)
        image = ax.imshow(spec, origin="lower", aspect="auto", extent=extent, cmap="magma", vmin=top - 80, vmax=top)
        ax.set(title=title, xlabel="time (s)", ylabel="frequency (kHz)")
        ax.title.set_fontweight("bold")
        fig.colorbar(image, ax=ax, label="dB", pad=0.01)
        path = folder / name
        fig.savefig(path)
        paths.append(str(path))
    return paths[0], paths[1]


def make_denoise_audio(max_minutes: float):
    @_user_errors
    def denoise_audio(audio_path: str | None, model_name: str, steps: float, strength: float,
                      progress=gr.Progress()):
        """Denoise one recording; returns (cleaned audio, before spectrogram, after spectrogram, download, summary)."""
        if not audio_path:
            raise gr.Error("Upload a recording or record one first.", title="No audio")
        progress(0, desc="Reading the file")
        clip = read_audio(audio_path)
        model = get_model(model_name)
        _check_work(clip.duration_s, clip.channels, model.config.sample_rate, 1, max_minutes, "This recording")
        started = time.time()
        cleaned = model.denoise(clip.data, sample_rate=clip.sample_rate, steps=int(steps), strength=float(strength),
                                progress=_progress_callback(progress, 0.02, 0.9, "Denoising"))
        taken = time.time() - started
        progress(0.92, desc="Writing the file")
        folder = _output_dir()
        source = Path(audio_path)
        out_path = folder / f"{source.stem}-denoised{source.suffix.lower()}"
        write_audio(out_path, cleaned, clip.sample_rate, format=clip.format, subtype=clip.subtype)
        progress(0.96, desc="Drawing spectrograms")
        before_png, after_png = spectrogram_images(clip.data, cleaned, clip.sample_rate, folder)
        summary = (f"**Done**: {_duration(clip.duration_s)} of audio ({clip.channels} channel(s), "
                   f"{clip.sample_rate} Hz) cleaned in {taken:.1f} s and saved as {clip.format} "
                   f"({clip.subtype}): `{out_path.name}`.")
        return str(out_path), before_png, after_png, str(out_path), summary

    return denoise_audio


# --------------------------------------------------------------------------- sensor logs
def _rate_or_none(sample_rate: float | None) -> float | None:
    return float(sample_rate) if sample_rate else None  # 0 or an empty box mean "from the file"


def make_inspect_sensor_log():
    def inspect_sensor_log(path: str | None, sample_rate: float | None):
        """After an upload: fill the column picker and say what the file holds."""
        if not path:
            return gr.update(choices=[], value=[]), ""
        try:
            signal = read_sensor_log(path, sample_rate=_rate_or_none(sample_rate))
        except (SignalFileError, ValueError, ImportError) as exc:
            if "sample_rate=" in str(exc) and not sample_rate:
                hint = "No time column found: **type the sample rate (Hz)** above and the columns will appear."
            else:
                hint = f"**Cannot read this file:** {_readable(str(exc), path)}"
            return gr.update(choices=[], value=[]), hint
        names = signal.channel_names
        time_column = signal.metadata.get("time_column")
        info = (f"{len(names)} column(s), {signal.data.shape[1]:,} samples at {signal.sample_rate:g} Hz "
                f"({_duration(signal.duration_s)})" + (f"; time column: {time_column}" if time_column else "")
                + (f"; starts {signal.start_time}" if signal.start_time else ""))
        return gr.update(choices=names, value=names[:PLOT_CHANNELS]), info

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


def sensor_figure(raw: np.ndarray, mean: np.ndarray, std: np.ndarray, sample_rate: float, names: list[str],
                  start_time: str | None):
    """Raw vs denoised with the +-1.645 sigma band, one panel per channel (plotly: zoom and pan in the page)."""
    shown = names[:PLOT_CHANNELS]
    n = raw.shape[-1]
    step = _decimate(n)
    seconds = (np.arange(n) / sample_rate)[step]
    start = _wall_clock(start_time)
    if start is None:
        t, xlabel = seconds, "time (s)"
    else:  # clock time on the axis: what a maintenance log is read by
        t, xlabel = start + np.round(seconds * 1e9).astype("timedelta64[ns]"), f"time (log starts {start_time})"
    note = f" (every {step.step}th sample shown; the download has all)" if step.step > 1 else ""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        return _sensor_figure_matplotlib(raw, mean, std, t, step, shown, xlabel, note)
    fig = make_subplots(rows=len(shown), cols=1, shared_xaxes=True, subplot_titles=shown,
                        vertical_spacing=0.1 / max(1, len(shown) - 1) ** 0.5)
    for row, name in enumerate(shown):
        lo, hi = (mean[row] - BAND_Z * std[row])[step], (mean[row] + BAND_Z * std[row])[step]
        first = row == 0
        fig.add_trace(go.Scatter(x=t, y=hi, mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False,
                                 legendgroup="band"), row=row + 1, col=1)
        fig.add_trace(go.Scatter(x=t, y=lo, mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor="rgba(13, 148, 136, 0.25)", name="90% band (±1.645σ)", legendgroup="band",
                                 showlegend=first, hoverinfo="skip"), row=row + 1, col=1)
        fig.add_trace(go.Scatter(x=t, y=raw[row][step], mode="lines", line=dict(color="#9ca3af", width=1),
                                 name="raw", legendgroup="raw", showlegend=first), row=row + 1, col=1)
        fig.add_trace(go.Scatter(x=t, y=mean[row][step], mode="lines", line=dict(color="#0f766e", width=1.6),
                                 name="denoised", legendgroup="denoised", showlegend=first), row=row + 1, col=1)
    fig.update_xaxes(title_text=xlabel + note, row=len(shown), col=1)
    fig.update_layout(template="plotly_white", height=160 + 200 * len(shown), margin=dict(l=60, r=20, t=90, b=50),
                      title=dict(text="Raw vs denoised", x=0.01, y=0.98, yanchor="top"),
                      legend=dict(orientation="h", yref="container", y=0.98, yanchor="top", x=1, xanchor="right"),
                      hovermode="x unified")
    return fig


def _sensor_figure_matplotlib(raw, mean, std, t, step, shown, xlabel, note):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 1.2 + 2.0 * len(shown)), dpi=100, layout="constrained")
    axes = fig.subplots(len(shown), 1, sharex=True, squeeze=False)[:, 0]
    for row, (ax, name) in enumerate(zip(axes, shown)):
        ax.fill_between(t, (mean[row] - BAND_Z * std[row])[step], (mean[row] + BAND_Z * std[row])[step],
                        color="#0d9488", alpha=0.25, lw=0, label="90% band (±1.645σ)")
        ax.plot(t, raw[row][step], color="#9ca3af", lw=0.8, label="raw")
        ax.plot(t, mean[row][step], color="#0f766e", lw=1.2, label="denoised")
        ax.set_title(name, fontsize=10)
    axes[0].legend(loc="upper right", ncols=3, fontsize=8)
    axes[-1].set_xlabel(xlabel + note)
    return fig


def make_denoise_sensor(max_minutes: float):
    @_user_errors
    def denoise_sensor(log_path: str | None, sample_rate: float | None, columns: list[str] | None, model_name: str,
                       steps: float, output_format: str, keep_mains: bool = False, progress=gr.Progress()):
        """Denoise a sensor log with 8 posterior samples; returns (plot, download file, summary)."""
        if not log_path:
            raise gr.Error("Upload a sensor log first.", title="No file")
        progress(0, desc="Reading the log")
        signal = read_sensor_log(log_path, sample_rate=_rate_or_none(sample_rate),
                                 columns=list(columns) if columns else None)
        model = get_model(model_name)
        channels = signal.data.shape[0]
        _check_work(signal.duration_s, channels, model.config.sample_rate, SENSOR_SAMPLES, max_minutes, "This log")
        started = time.time()
        result = model.denoise_detailed(signal.data, sample_rate=signal.sample_rate, steps=int(steps),
                                        num_samples=SENSOR_SAMPLES, repair_nan=True, remove_hum=not keep_mains,
                                        progress=_progress_callback(progress, 0.02, 0.9, "Denoising"))
        taken = time.time() - started
        progress(0.92, desc="Writing the file")
        suffix = ".parquet" if output_format == "Parquet" else ".csv"
        out_path = _output_dir() / f"{Path(log_path).stem}-denoised{suffix}"
        write_denoised_log(out_path, dataclasses.replace(signal, data=result.mean), std=result.std,
                           repaired=result.repaired)
        progress(0.96, desc="Drawing the plot")
        figure = sensor_figure(signal.data, result.mean, result.std, signal.sample_rate, signal.channel_names,
                               signal.start_time)
        repaired = 0 if result.repaired is None else int(result.repaired.sum())
        summary = (f"**Done**: {channels} column(s) × {signal.data.shape[1]:,} samples at {signal.sample_rate:g} Hz "
                   f"({_duration(signal.duration_s)}) cleaned in {taken:.1f} s: `{out_path.name}`. The shaded band is "
                   f"±{BAND_Z}σ of {SENSOR_SAMPLES} model samples (about 90% of the plausible values); the file has "
                   "a `*_std` column per channel.")
        if repaired:
            summary += f" {repaired:,} missing value(s) were filled in (see the `*_repaired` columns)."
        if channels > PLOT_CHANNELS:
            summary += f" The plot shows the first {PLOT_CHANNELS} columns."
        return figure, str(out_path), summary

    return denoise_sensor


# --------------------------------------------------------------------------- page
def build_app(*, max_minutes: float = 20.0) -> gr.Blocks:
    """The page: a Voice tab and a Sensor-log tab, each with a named API endpoint."""
    voice_models, voice_default = _models_first("speech")
    sensor_models, sensor_default = _models_first("sensor")
    examples = sorted(SAMPLES_DIR.glob("noisy_speech_*.wav"))

    with gr.Blocks(title="sigdenoise", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# sigdenoise\nRemove background noise from voice recordings and factory sensor logs. "
                    "Everything runs on this machine; files are deleted after an hour.", elem_id="intro")
        if not voice_models:
            gr.Markdown(f"**No models found** in `{checkpoint_folder()}`. Put `speech.safetensors` / "
                        "`sensor.safetensors` there (or set `SIGDENOISE_CHECKPOINTS`) and restart.")

        with gr.Tab("Voice recording"):
            gr.Markdown("Upload a recording (WAV, FLAC, OGG, MP3) or record one, then press **Denoise**. "
                        "The cleaned file keeps the original format and sample rate.", elem_classes="help")
            with gr.Row(equal_height=False):
                with gr.Column():
                    audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                        label="Noisy recording (before)", elem_id="audio-in", buttons=["download"])
                    with gr.Row():
                        voice_model = gr.Dropdown(voice_models, value=voice_default, label="Model", scale=1)
                        voice_steps = gr.Slider(1, 8, value=_default_steps(voice_default), step=1, scale=2,
                                                label="Steps (speed ↔ quality)",
                                                info="More steps take longer; the default is usually best.")
                    voice_strength = gr.Slider(0.0, 1.0, value=_default_strength(voice_default), step=0.05,
                                               label="Strength",
                                               info="1 = fully denoised, 0 = original. "
                                                    "Lower it if the voice sounds thin.")
                    voice_button = gr.Button("Denoise", variant="primary", elem_id="denoise-audio")
                    if examples:
                        gr.Examples([[str(p)] for p in examples], inputs=[audio_in], label="Example clips",
                                    cache_examples=False)
                with gr.Column():
                    audio_out = gr.Audio(type="filepath", label="Denoised (after)", interactive=False,
                                         elem_id="audio-out", buttons=["download"])
                    audio_file = gr.File(label="Download (original format and sample rate)", elem_id="audio-file")
                    voice_summary = gr.Markdown(label="Summary", elem_id="voice-summary")
            with gr.Row():
                spec_before = gr.Image(label="Spectrogram before", type="filepath", interactive=False,
                                       show_label=False, buttons=["fullscreen"])
                spec_after = gr.Image(label="Spectrogram after", type="filepath", interactive=False,
                                      show_label=False, buttons=["fullscreen"])
            voice_button.click(make_denoise_audio(max_minutes),
                               inputs=[audio_in, voice_model, voice_steps, voice_strength],
                               outputs=[audio_out, spec_before, spec_after, audio_file, voice_summary],
                               api_name="denoise_audio", concurrency_id="model", show_progress_on=[audio_out])

        with gr.Tab("Sensor log"):
            gr.Markdown("Upload a log (CSV, TSV, Parquet, NPY/NPZ, HDF5, MAT, TDMS), pick the columns and press "
                        "**Denoise**. The time column sets the sample rate; if the file has none, type it in. "
                        "Drag on the plot to zoom, double-click to reset.", elem_classes="help")
            with gr.Row(equal_height=False):
                with gr.Column(scale=2):
                    log_in = gr.File(label="Sensor log", file_types=sorted(SENSOR_EXTENSIONS), elem_id="log-in")
                    log_info = gr.Markdown(elem_id="log-info")
                    log_rate = gr.Number(0, label="Sample rate (Hz)", minimum=0, precision=None,
                                         info="Only needed when the file has no time column; 0 = from the file.")
                    log_columns = gr.Dropdown([], value=[], multiselect=True, label="Columns to denoise",
                                              info="Filled in after the upload; leave empty for all.",
                                              allow_custom_value=True)  # choices differ per file; the reader checks
                    sensor_model = gr.Dropdown(sensor_models, value=sensor_default, label="Model")
                    sensor_steps = gr.Slider(2, 8, value=_default_steps(sensor_default, SENSOR_SAMPLES), step=1,
                                             label="Steps (speed ↔ quality)",
                                             info="Each step runs the model 8 times (for the uncertainty band); "
                                                  "one step would give 8 identical samples, so 2 is the least.")
                    log_keep_mains = gr.Checkbox(False, label="The signal itself is at 50/60 Hz",
                                                 info="Mains current or voltage: keep those lines instead of "
                                                      "removing them as hum.")
                    log_format = gr.Radio(["CSV", "Parquet"], value="CSV", label="Download as")
                    sensor_button = gr.Button("Denoise", variant="primary", elem_id="denoise-sensor")
                with gr.Column(scale=3):
                    log_file = gr.File(label="Download (denoised values and *_std columns)", elem_id="log-file")
                    sensor_summary = gr.Markdown(label="Summary", elem_id="sensor-summary")
            sensor_plot = gr.Plot(label="Raw vs denoised", show_label=False, elem_id="sensor-plot")

            inspect = make_inspect_sensor_log()
            for event in (log_in.change, log_rate.submit, log_rate.blur):
                event(inspect, inputs=[log_in, log_rate], outputs=[log_columns, log_info],
                      api_visibility="undocumented", concurrency_limit=4)
            sensor_button.click(make_denoise_sensor(max_minutes),
                                inputs=[log_in, log_rate, log_columns, sensor_model, sensor_steps, log_format,
                                        log_keep_mains],
                                outputs=[sensor_plot, log_file, sensor_summary],
                                api_name="denoise_sensor", concurrency_id="model", show_progress_on=[log_file])
    return demo


def serve(host: str = "127.0.0.1", port: int = 7860, *, max_upload_mb: float = 200, max_minutes: float = 20.0,
          block: bool = True) -> gr.Blocks:
    """Build the page, queue requests (one model run at a time) and serve it; ``block=False`` returns at once."""
    demo = build_app(max_minutes=max_minutes)
    demo.queue(default_concurrency_limit=1)
    demo.launch(server_name=host, server_port=port, share=False, max_file_size=f"{max_upload_mb:g}mb",
                theme=THEME, css=CSS, show_error=True, ssr_mode=False, prevent_thread_lock=not block,
                allowed_paths=[str(SAMPLES_DIR)], footer_links=["api"], quiet=not block)
    return demo
