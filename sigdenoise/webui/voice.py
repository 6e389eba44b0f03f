"""The Voice tab: check an upload, denoise it, spectrograms and an A/B player; the live microphone."""
from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import gradio as gr
import numpy as np

import sigdenoise
from sigdenoise import jobs
from sigdenoise.io import AUDIO_EXTENSIONS, SENSOR_EXTENSIONS, SignalFileError, read_audio
from sigdenoise.sanity import output_warnings

from .files import _check_work, _duration, _output_dir, _private, _progress_callback, _readable, _user_errors, work_seconds
from .models import get_model

log = logging.getLogger(__name__)


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
