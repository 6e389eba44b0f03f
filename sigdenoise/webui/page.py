"""The page itself: the two tabs laid out and wired to their endpoints."""
from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from sigdenoise.io import SENSOR_EXTENSIONS
from .files import MAX_AGE_S, SWEEP_EVERY_S
from .models import _default_steps, _default_strength, _models_for, checkpoint_folder
from .sensor import PLOT_CHANNELS, SENSOR_SAMPLES, make_denoise_sensor, make_inspect_sensor_log
from .voice import ab_player, live_microphone_section, make_check_audio_upload, make_denoise_audio

log = logging.getLogger(__name__)


SAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "samples"

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
                                                     "calls take longer; with the bundled speech model 2 calls "
                                                     "remove a little more noise but sound less natural, and "
                                                     "4 or more score worse on PESQ, ESTOI and DNSMOS.")
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
