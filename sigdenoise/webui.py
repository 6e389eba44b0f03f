"""The Gradio web page: a Voice tab and a Sensor-log tab on top of the public API.

It sits at the two ends of load -> prepare -> sample -> restore -> save: files go through
``sigdenoise.io``, signals through ``DenoiseModel.denoise``/``denoise_detailed``; nothing
here touches the network or the sampler. ``app.py`` parses the command line and calls
:func:`serve`. Needs the ``[app]`` extra (gradio, matplotlib, pandas, pyarrow; plotly
for the zoomable sensor plot).
"""
from __future__ import annotations

import atexit
import functools
import json
import logging
import math
import os
import re
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
from sigdenoise import jobs  # noqa: E402
from sigdenoise.band import Z90  # noqa: E402
from sigdenoise.io import (  # noqa: E402
    AUDIO_EXTENSIONS, SENSOR_EXTENSIONS, SensorLog, SignalFileError, read_audio, read_sensor_log,
)
from sigdenoise.options import message_for  # noqa: E402
from sigdenoise.sanity import output_warnings  # noqa: E402

log = logging.getLogger(__name__)

SENSOR_SAMPLES = 8  # posterior samples for the sensor tab's mean and spread
BAND_Z = Z90  # +-1.645 sigma: a 90% interval if the spread were Gaussian
PLOT_POINTS = 4000  # points per trace sent to the browser; the download has every sample
PLOT_CHANNELS = 6
REFERENCE_RATE = 16000  # the work limit is counted in seconds of mono audio at this rate
MAX_AGE_S = 3600.0  # uploads and results are deleted after an hour
SWEEP_EVERY_S = 600.0  # ... checked this often, and when the server starts
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"

THEME = gr.themes.Soft(primary_hue="teal", secondary_hue="slate",
                       font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                       font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"])  # local fonts only
CSS = """
.gradio-container {max-width: 1180px !important; margin: auto;}
#intro p {font-size: 1.05em; margin-top: 0;}
.help p {color: var(--body-text-color-subdued); font-size: 0.95em; margin: 0;}
#audio-refused-text {color: var(--error-text-color, #b91c1c); margin: 0;}
#audio-refused:has(#audio-refused-text:empty) {display: none !important;}
#ab-player:has(.ab:empty), #ab-player:not(:has(.ab)) {display: none !important;}
.ab {display: flex; gap: 0.75em; align-items: center; flex-wrap: wrap;}
.ab audio {flex: 1 1 280px;}
"""


# --------------------------------------------------------------------------- models
_load_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _load_cached(name: str, folder: str) -> "sigdenoise.DenoiseModel":
    return sigdenoise.load_model(name)


def get_model(name: str) -> "sigdenoise.DenoiseModel":
    """Load a bundled model once per name (and checkpoint folder) and keep it.

    Only names from the Model menu: the message never shows the server's folders (a web client
    may send anything, a list included).
    """
    if not isinstance(name, str) or name not in available_models():
        shown = repr(name) if isinstance(name, str) and len(name) < 64 else "that"
        raise gr.Error(f"No model named {shown} here; pick one from the Model menu "
                       f"({', '.join(available_models()) or 'none installed'}).", title="Unknown model")
    with _load_lock:
        return _load_cached(name, str(checkpoint_folder()))


def checkpoint_folder() -> Path:
    from sigdenoise.pipeline import checkpoint_dir

    return checkpoint_dir()


def available_models() -> list[str]:
    import sigdenoise

    return sigdenoise.available_models()


def _models_for(task: str) -> tuple[list[str], str | None]:
    """The bundled models made for ``task`` ("speech" or "sensor"), the one named after it first.

    A voice menu that offers the sensor model invites a wrong choice, so each tab lists its own.
    A checkpoint that does not load is listed in both: denoising with it says why.
    """
    def task_of(name: str) -> str | None:
        try:
            return get_model(name).config.task
        except Exception:  # noqa: BLE001 - a broken checkpoint must not stop the page from loading
            log.exception("could not load model %r", name)
            return None

    names = [n for n in available_models() if task_of(n) in (task, None)]
    names.sort(key=lambda n: (n != task, n))
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
# Messages not yet written with sigdenoise.options placeholders still speak Python; say the page's words.
_API_WORDS = [
    (re.compile(r",? or (?:pass )?time_column= naming the column that holds the time"), ""),
    (re.compile(r"\s*\(or pass time_column= if [^)]*\)"), ""),
    (re.compile(r"pass (?:the )?sample_rate= \(Hz\)|pass sample_rate="), "type the rate in the Sample rate (Hz) box"),
    (re.compile(r"sample_rate="), "Sample rate (Hz) = "),
    (re.compile(r"pass time_column=|time_column="), "the time column "),
]


def _readable(exc: BaseException | str, upload: str | None) -> str:
    """The message as the page should show it: the user's file name, not the server's temp path, and the
    page's controls, not Python arguments (``sigdenoise.options``)."""
    message = exc if isinstance(exc, str) else message_for(exc, "ui")
    if upload:
        message = message.replace(str(upload), Path(upload).name)
    for pattern, words in _API_WORDS:
        message = pattern.sub(words, message)
    return message


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
        except (SignalFileError, ValueError, TypeError, ImportError) as exc:  # CheckpointError is a ValueError
            raise gr.Error(_readable(exc, upload), title="Could not denoise this file",
                           duration=None, print_exception=False) from None
        except MemoryError:
            raise gr.Error("Out of memory: the file is too large for this machine. Cut it into shorter pieces.",
                           duration=None) from None
        except Exception as exc:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Unexpected error ({type(exc).__name__}: {_readable(str(exc), upload)}). "
                           "The server is still running; the details are in its log.", duration=None) from None
    return wrapper


# ---- where files live: one private folder per server process (0700), swept on start and on a timer
_ROOT_PREFIX = "sigdenoise-webui-"
_root_lock = threading.Lock()
_root: Path | None = None


def _private_root() -> Path:
    """This process's folder for uploads, Gradio's cache and results: 0700, named with the owner's pid.

    Removed when the process exits (``atexit``; ``app.py`` turns SIGTERM into a normal exit); a folder
    left by a killed server is removed by the next server's :func:`sweep_stale_roots`.
    """
    global _root
    with _root_lock:
        if _root is None or not _root.is_dir():
            _root = Path(tempfile.mkdtemp(prefix=_ROOT_PREFIX))  # mkdtemp: mode 0700
            (_root / "owner.pid").write_text(str(os.getpid()))
            (_root / "results").mkdir(mode=0o700)
            atexit.register(shutil.rmtree, _root, True)
        return _root


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def sweep_stale_roots(parent: Path | None = None) -> list[Path]:
    """Remove folders of earlier servers of this user whose process is gone; returns what was removed."""
    parent = Path(tempfile.gettempdir()) if parent is None else parent
    removed = []
    for folder in parent.glob(_ROOT_PREFIX + "*"):
        try:
            if folder == _root or folder.stat().st_uid != os.getuid():
                continue
            pid = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):  # no pid file: an older server's layout; go by age
            try:
                stale = time.time() - folder.stat().st_mtime > MAX_AGE_S
            except OSError:
                continue
        else:
            stale = not _pid_alive(pid)
        if stale and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def sweep_results(max_age_s: float = MAX_AGE_S) -> None:
    """Remove this server's result folders older than ``max_age_s``."""
    now = time.time()
    for old in (_private_root() / "results").iterdir():
        try:
            if now - old.stat().st_mtime > max_age_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


_sweeper: threading.Thread | None = None


def _start_sweeper(every_s: float = SWEEP_EVERY_S) -> threading.Thread:
    """One daemon thread per process (however many servers it starts) that runs :func:`sweep_results`."""
    global _sweeper
    if _sweeper is not None and _sweeper.is_alive():
        return _sweeper

    def loop():
        while _sweeper is threading.current_thread():  # a replaced sweeper ends
            time.sleep(every_s)
            try:
                sweep_results()
            except Exception:  # noqa: BLE001 - the sweeper must outlive a vanished folder
                log.exception("sweeping old results failed")

    _sweeper = threading.Thread(target=loop, name="sigdenoise-sweeper", daemon=True)
    _sweeper.start()
    return _sweeper


def _output_dir() -> Path:
    """A fresh private folder (0700) for one request's output files."""
    return Path(tempfile.mkdtemp(dir=_private_root() / "results"))


def _private(path: Path) -> str:
    """Make a result file readable by the server's user only (0600); returns it as a string for gradio."""
    os.chmod(path, 0o600)
    return str(path)


def work_seconds(samples: int, channels: int, sample_rate: float, model_rate: float, passes: int) -> float:
    """The cost of a request in seconds of mono audio at :data:`REFERENCE_RATE` (one network pass).

    The network sees ``samples`` resampled to ``model_rate``; a rate-agnostic model (rate 0, the
    sensor model) sees the samples as they are, so its cost is samples x channels, not 0.
    """
    at_model = samples * model_rate / sample_rate if model_rate else samples
    return at_model * channels * passes / REFERENCE_RATE


def _check_work(work_s: float, max_minutes: float, what: str, advice: str) -> None:
    """Refuse a request that costs more than ``max_minutes`` (see :func:`work_seconds`)."""
    if work_s > max_minutes * 60:
        raise gr.Error(f"{what} is too long for this server: it is {work_s / 60 / max_minutes:.1f}× the limit "
                       f"(--max-minutes {max_minutes:g}). {advice}", title="File too long", duration=None)


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


VOICE_TOO_LONG = "Cut it into shorter pieces, or start the app with a larger --max-minutes."
SENSOR_TOO_LONG = ("Pick fewer columns, cut the log into shorter pieces, or start the app with a larger "
                   "--max-minutes.")


def _check_audio(path: str, model: "sigdenoise.DenoiseModel", max_minutes: float) -> None:
    """Refuse a file that is empty, not audio, or too long, from its header alone (cheap at upload time)."""
    import soundfile as sf

    source = Path(path)
    if source.suffix.lower() not in AUDIO_EXTENSIONS:
        kinds = ", ".join(sorted(e[1:].upper() for e in AUDIO_EXTENSIONS))
        hint = " (a sensor log? use the Sensor log tab)" if source.suffix.lower() in SENSOR_EXTENSIONS else ""
        raise gr.Error(f"{source.name} is not an audio file{hint}. This tab takes {kinds}.",
                       title="Not an audio file", duration=None, print_exception=False)
    if source.stat().st_size == 0:
        raise gr.Error(f"{source.name} is empty (0 bytes). Upload the recording again.", title="Empty file",
                       duration=None, print_exception=False)
    try:
        info = sf.info(path)
        frames, rate, channels = int(info.frames), int(info.samplerate), int(info.channels)
        if frames <= 0 or rate <= 0:
            raise RuntimeError("no samples in it")
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        try:  # read_audio words the problem and the fix the same way everywhere
            read_audio(path)
        except (SignalFileError, ValueError) as read_exc:
            raise gr.Error(_readable(read_exc, path), title="Not a readable recording", duration=None,
                           print_exception=False) from None
        raise gr.Error(f"{source.name} holds no audio ({exc}).", title="Not a readable recording",
                       duration=None, print_exception=False) from None
    _check_work(work_seconds(frames, channels, rate, model.config.sample_rate, 1), max_minutes,
                f"This recording ({_duration(frames / rate)}, {channels} channel(s))", VOICE_TOO_LONG)


def make_check_audio_upload(max_minutes: float):
    def check_audio_upload(audio_path: str | None, model_name: str):
        """Right after an upload: refuse (and clear) an empty, undecodable or too long file."""
        if not audio_path:
            return gr.update()
        try:
            _check_audio(audio_path, get_model(model_name), max_minutes)
        except gr.Error as exc:
            gr.Warning(exc.message, title=exc.title or "File refused", duration=None)
            return None
        return gr.update()

    return check_audio_upload


def _not_audio_script() -> str:
    """Page script: a file that is not audio, dropped or picked on the voice tab, gets the server's plain
    sentence under the player instead of gradio's list of MIME types (and is never uploaded)."""
    audio = sorted(AUDIO_EXTENSIONS)
    kinds = ", ".join(e[1:].upper() for e in audio)
    return """() => {
  const audio = new Set(%s), sensor = new Set(%s);
  const ext = (name) => { const i = name.lastIndexOf("."); return i < 0 ? "" : name.slice(i).toLowerCase(); };
  const say = (text) => { const el = document.getElementById("audio-refused-text"); if (el) el.textContent = text; };
  const check = (event, files) => {
    if (!files || !files.length) return;
    const bad = Array.from(files).find((f) => !audio.has(ext(f.name)));
    if (!bad) { say(""); return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    if (event.target && event.target.type === "file") event.target.value = "";
    const hint = sensor.has(ext(bad.name)) ? " (a sensor log? use the Sensor log tab)" : "";
    say(`${bad.name} is not an audio file${hint}. This tab takes %s.`);
  };
  const inVoice = (t) => t && t.closest && t.closest("#audio-in");
  for (const kind of ["input", "change"]) {
    document.addEventListener(kind, (e) => {
      if (inVoice(e.target) && e.target.type === "file") check(e, e.target.files);
    }, true);
  }
  document.addEventListener("drop", (e) => { if (inVoice(e.target)) check(e, e.dataTransfer && e.dataTransfer.files); },
                            true);
  // A/B: one player that switches between the denoised and the original file at the same moment.
  document.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest("#ab-toggle");
    const player = document.getElementById("ab-audio");
    if (!button || !player) return;
    const at = player.currentTime, playing = !player.paused;
    const next = player.dataset.now === "after" ? "before" : "after";
    player.dataset.now = next;
    player.src = player.dataset[next];
    player.addEventListener("loadedmetadata", () => {
      player.currentTime = at;
      if (playing) player.play();
    }, {once: true});
    button.textContent = next === "after" ? "Now: after (denoised). Switch to before" :
                                            "Now: before (noisy). Switch to after";
  });
  document.documentElement.dataset.sigdenoiseScript = "ready";
}""" % (json.dumps(audio), json.dumps(sorted(SENSOR_EXTENSIONS)), kinds)


def ab_player(before: str | None, after: str | None) -> str:
    """HTML for one player that switches between the original and the denoised file at the same moment
    (the page script does the switch), so a difference is heard, not remembered."""
    import html
    from urllib.parse import quote

    if not before or not after:
        return '<div class="ab"></div>'
    url = lambda path: html.escape(f"gradio_api/file={quote(str(path))}", quote=True)  # noqa: E731
    return (f'<div class="ab"><audio id="ab-audio" controls preload="auto" src="{url(after)}" '
            f'data-now="after" data-after="{url(after)}" data-before="{url(before)}"></audio>'
            '<button id="ab-toggle" type="button" class="secondary">Now: after (denoised). Switch to before'
            '</button></div>')


def _warning_lines(notes: list[str]) -> str:
    return "".join(f"\n\n**⚠ Check this result:** {note[0].upper() + note[1:]}." for note in notes)


def make_denoise_audio(max_minutes: float):
    @_user_errors
    def denoise_audio(audio_path: str | None, model_name: str, steps: float, strength: float,
                      progress=gr.Progress()):
        """Denoise one recording; returns (cleaned audio, before spectrogram, after spectrogram, download, summary)."""
        if not audio_path:
            raise gr.Error("Upload a recording or record one first.", title="No audio")
        model = get_model(model_name)
        progress(0, desc="Reading the file")
        _check_audio(audio_path, model, max_minutes)
        clip = read_audio(audio_path)
        started = time.time()
        result = jobs.denoise_audio(model, clip, jobs.Settings(steps=int(steps), strength=float(strength)),
                                    progress=_progress_callback(progress, 0.02, 0.9, "Denoising"))
        cleaned = result.mean
        taken = time.time() - started
        progress(0.92, desc="Writing the file")
        folder = _output_dir()
        source = Path(audio_path)
        out_path = folder / f"{source.stem}-denoised{source.suffix.lower()}"
        jobs.write_audio_like(out_path, cleaned, clip)
        progress(0.96, desc="Drawing spectrograms")
        before_png, after_png = spectrogram_images(clip.data, cleaned, clip.sample_rate, folder)
        summary = (f"**Done**: {_duration(clip.duration_s)} of audio ({clip.channels} channel(s), "
                   f"{clip.sample_rate} Hz) cleaned in {taken:.1f} s and saved as {clip.format} "
                   f"({clip.subtype}): `{out_path.name}`.")
        summary += _warning_lines(output_warnings(clip.data, cleaned, clip.sample_rate))
        return _private(out_path), _private(Path(before_png)), _private(Path(after_png)), str(out_path), summary

    return denoise_audio


# --------------------------------------------------------------------------- sensor logs
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


# --------------------------------------------------------------------------- page
# --------------------------------------------------------------------------- live microphone
LIVE_CHUNK_S = 0.25  # the browser sends the microphone's samples this often
LIVE_TIME_LIMIT_S = 600  # one live session at most; press record again for another


def _mono_float(data: np.ndarray) -> np.ndarray:
    """A microphone chunk (int16 or float, ``(time,)`` or ``(time, channels)``) as mono float32 in [-1, 1]."""
    data = np.asarray(data)
    scale = 32768.0 if np.issubdtype(data.dtype, np.integer) else 1.0
    mono = data.astype(np.float32) / scale
    return mono.mean(axis=1) if mono.ndim == 2 else mono


def make_live_denoise():
    """The live mode's handler: one microphone chunk in, the denoised samples ready so far out.

    The :class:`sigdenoise.stream.DenoiseStream` lives in the session's ``state``; a new recording,
    another rate or another model starts a new one."""

    def live_denoise(chunk, state, model_name: str | None):
        if chunk is None or not model_name:
            return None, state, gr.skip()
        rate, data = chunk
        if state is None or state["rate"] != rate or state["model"] != model_name:
            stream = get_model(model_name).stream(sample_rate=rate)
            state = {"stream": stream, "rate": rate, "model": model_name, "fed": 0, "busy": 0.0}
        mono = _mono_float(data)
        started = time.perf_counter()
        out = state["stream"].process(mono)
        state["busy"] += time.perf_counter() - started
        state["fed"] += mono.size
        load = state["busy"] / max(state["fed"] / rate, 1e-9)
        info = (f"**Latency** {state['stream'].latency:.2f} s (the model's look-ahead and block) + "
                f"{LIVE_CHUNK_S:.2f} s (the browser's microphone chunks). Denoising takes {load:.0%} of real time"
                + (" — too slow to keep up on this machine." if load > 1 else "."))
        audio = (rate, np.clip(np.rint(out * 32767), -32768, 32767).astype(np.int16)) if out.size else None
        return audio, state, info

    return live_denoise


def live_microphone_section(model: gr.Dropdown) -> None:
    """The Voice tab's live mode: the microphone streams in, the denoised voice streams back."""
    with gr.Accordion("Live microphone (streaming)", open=False, elem_id="live-mode"):
        gr.Markdown("Press record and speak: the denoised voice plays back as you talk, delayed by the latency "
                    "shown below. Use headphones, or the loudspeaker feeds back into the microphone.",
                    elem_classes="help")
        with gr.Row():
            live_in = gr.Audio(sources=["microphone"], streaming=True, type="numpy", label="Microphone",
                               elem_id="live-in")
            live_out = gr.Audio(streaming=True, autoplay=True, interactive=False, label="Denoised, live",
                                elem_id="live-out")
        live_info = gr.Markdown(elem_id="live-info")
        live_state = gr.State(None)
        live_in.start_recording(lambda: None, outputs=[live_state], api_visibility="undocumented")
        live_in.stream(make_live_denoise(), inputs=[live_in, live_state, model],
                       outputs=[live_out, live_state, live_info], stream_every=LIVE_CHUNK_S,
                       time_limit=LIVE_TIME_LIMIT_S, api_visibility="undocumented", show_progress="hidden")


def build_app(*, max_minutes: float = 20.0) -> gr.Blocks:
    """The page: a Voice tab and a Sensor-log tab, each with a named API endpoint."""
    voice_models, voice_default = _models_for("speech")
    sensor_models, sensor_default = _models_for("sensor")
    examples = sorted(SAMPLES_DIR.glob("noisy_speech_*.wav"))
    log_examples = sorted(p for p in SAMPLES_DIR.glob("noisy_*") if p.suffix.lower() in SENSOR_EXTENSIONS)

    with gr.Blocks(title="sigdenoise", analytics_enabled=False,
                   delete_cache=(int(SWEEP_EVERY_S), int(MAX_AGE_S))) as demo:
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
                    gr.HTML('<p id="audio-refused-text" role="alert"></p>', padding=False, container=False,
                            elem_id="audio-refused")  # filled by the script
                    with gr.Row():
                        voice_model = gr.Dropdown(voice_models, value=voice_default, label="Model", scale=1)
                        voice_steps = gr.Slider(1, 8, value=_default_steps(voice_default), step=1, scale=2,
                                                label="Network calls", elem_id="voice-steps",
                                                info=f"Keep the default ({_default_steps(voice_default)}). More "
                                                     "calls take longer and, with the bundled speech model, "
                                                     "make the voice worse, not better.")
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
                    ab_html = gr.HTML(ab_player(None, None), elem_id="ab-player", container=False, padding=False)
            with gr.Row():
                spec_before = gr.Image(label="Spectrogram before", type="filepath", interactive=False,
                                       show_label=False, buttons=["fullscreen"])
                spec_after = gr.Image(label="Spectrogram after", type="filepath", interactive=False,
                                      show_label=False, buttons=["fullscreen"])
            audio_in.upload(make_check_audio_upload(max_minutes), inputs=[audio_in, voice_model], outputs=[audio_in],
                            api_visibility="undocumented", concurrency_limit=4, show_progress="hidden")
            voice_run = voice_button.click(make_denoise_audio(max_minutes),
                                           inputs=[audio_in, voice_model, voice_steps, voice_strength],
                                           outputs=[audio_out, spec_before, spec_after, audio_file, voice_summary],
                                           api_name="denoise_audio", concurrency_id="model",
                                           show_progress_on=[audio_out])
            voice_run.success(ab_player, inputs=[audio_in, audio_out], outputs=[ab_html],
                              api_visibility="undocumented", show_progress="hidden", queue=False)
            audio_in.change(lambda: ab_player(None, None), outputs=[ab_html], api_visibility="undocumented",
                            show_progress="hidden", queue=False)
            live_microphone_section(voice_model)

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
                                              info="Empty = all. Columns not picked go into the download "
                                                   f"unchanged; the plot shows the first {PLOT_CHANNELS} denoised.",
                                              allow_custom_value=True)  # choices differ per file; checked on use
                    sensor_model = gr.Dropdown(sensor_models, value=sensor_default, label="Model")
                    sensor_steps = gr.Slider(2, 8, value=_default_steps(sensor_default, SENSOR_SAMPLES), step=1,
                                             label="Network calls",
                                             info="Per model sample (8 for the uncertainty band; one call would "
                                                  "give 8 identical samples, so 2 is the least). Keep the default "
                                                  f"({_default_steps(sensor_default, SENSOR_SAMPLES)}): the band is "
                                                  "calibrated there; more calls take longer.")
                    log_keep_mains = gr.Checkbox(False, label="The signal itself is at 50/60 Hz",
                                                 info="Mains current or voltage: keep those lines instead of "
                                                      "removing them as hum.")
                    log_format = gr.Radio(["CSV", "Parquet"], value="CSV", label="Download as")
                    sensor_button = gr.Button("Denoise", variant="primary", elem_id="denoise-sensor")
                    if log_examples:
                        gr.Examples([[str(p)] for p in log_examples], inputs=[log_in], label="Example logs",
                                    cache_examples=False)
                with gr.Column(scale=3):
                    log_file = gr.File(label="Download (every column; *_std beside the denoised ones)", elem_id="log-file")
                    sensor_summary = gr.Markdown(label="Summary", elem_id="sensor-summary")
            sensor_plot = gr.Plot(label="Raw vs denoised", show_label=False, elem_id="sensor-plot")

            inspect = make_inspect_sensor_log(max_minutes)
            for event in (log_in.change, log_rate.submit, log_rate.blur):
                event(inspect, inputs=[log_in, log_rate, sensor_model], outputs=[log_columns, log_info],
                      api_visibility="undocumented", concurrency_limit=4)
            sensor_button.click(make_denoise_sensor(max_minutes),
                                inputs=[log_in, log_rate, log_columns, sensor_model, sensor_steps, log_format,
                                        log_keep_mains],
                                outputs=[sensor_plot, log_file, sensor_summary],
                                api_name="denoise_sensor", concurrency_id="model", show_progress_on=[log_file])
    return demo


_FOREIGN_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^[\\/]{2}")  # a URL (https:, data:, file:) or //host
MAX_JSON_BYTES = 4 << 20  # the page and gradio_client send small JSON; files come through /upload


def _foreign_file(value, allowed: tuple[str, ...]) -> str | None:
    """The first file path in a request body that did not come from an upload (or a bundled example)."""
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and ("meta" in value or "orig_name" in value or "url" in value
                                      or len(value) == 1):
            if _FOREIGN_PATH.match(path):
                return path
            resolved = os.path.normpath(os.path.join(os.sep, path))  # text only: no lookup on the server's disk
            if resolved != path.rstrip(os.sep) or not any(resolved.startswith(root + os.sep) for root in allowed):
                return path
        values = value.values()
    elif isinstance(value, list):
        values = value
    else:
        return None
    for item in values:
        found = _foreign_file(item, allowed)
        if found is not None:
            return found
    return None


class OnlyUploadedFiles:
    """ASGI middleware: refuse a request whose JSON names a file that was not uploaded to this server.

    Gradio fetches a ``FileData`` whose path is a URL (resolving its host on the way) and reads a local
    path it is allowed to; a client must not make the server do either. Checked on the raw body, before
    gradio sees it, so nothing is looked up.
    """

    def __init__(self, app, allowed: tuple[str, ...] = ()):
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not self._is_json(scope):
            return await self.app(scope, receive, send)
        messages, body, more = [], b"", True
        while more:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            more = message.get("more_body", False) and message["type"] == "http.request"
            if len(body) > MAX_JSON_BYTES:
                return await self._refuse(send, 413, "The request is too large; send files through the upload.")
        try:
            found = _foreign_file(json.loads(body or b"null"), self.allowed + (_private_root_str(),))
        except ValueError:
            found = None  # not JSON after all: gradio answers it
        if found is not None:
            log.warning("refused a request naming a file that was not uploaded: %.200s", found)
            return await self._refuse(send, 400, "Only files uploaded to this server can be denoised; upload the "
                                                 "file (gradio_client: handle_file) instead of sending a URL or path.")

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)

    @staticmethod
    def _is_json(scope) -> bool:
        for key, value in scope.get("headers", ()):
            if key == b"content-type":
                return b"json" in value.lower()
        return False

    @staticmethod
    async def _refuse(send, status: int, message: str) -> None:
        body = json.dumps({"error": message, "detail": message}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _private_root_str() -> str:
    return os.path.normpath(str(_private_root()))


_USER_TEMP_DIR = os.environ.get("GRADIO_TEMP_DIR")  # a folder the user chose for gradio is kept


def serve(host: str = "127.0.0.1", port: int = 7860, *, max_upload_mb: float = 200, max_minutes: float = 20.0,
          block: bool = True) -> gr.Blocks:
    """Build the page, queue requests (one model run at a time) and serve it; ``block=False`` returns at once.

    Uploads, Gradio's cache and results go to one private folder of this process (0700; results 0600),
    swept every :data:`SWEEP_EVERY_S` and removed when the process exits; folders that killed servers
    left behind are removed on start.
    """
    from starlette.middleware import Middleware

    sweep_stale_roots()
    root = _private_root()
    if not _USER_TEMP_DIR:
        os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")  # read when the page and the server are built
    sweep_results()
    _start_sweeper()
    demo = build_app(max_minutes=max_minutes)
    demo.queue(default_concurrency_limit=1)
    allowed = (os.path.normpath(str(SAMPLES_DIR)), os.path.normpath(os.environ.get("GRADIO_TEMP_DIR", str(root))))
    demo.launch(server_name=host, server_port=port, share=False, max_file_size=f"{max_upload_mb:g}mb",
                theme=THEME, css=CSS, show_error=True, ssr_mode=False, prevent_thread_lock=not block,
                allowed_paths=[str(SAMPLES_DIR)], footer_links=["api"], quiet=not block, js=_not_audio_script(),
                app_kwargs={"middleware": [Middleware(OnlyUploadedFiles, allowed=allowed)]})
    return demo
