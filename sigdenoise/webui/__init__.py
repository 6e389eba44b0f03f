"""The Gradio web page: a Voice tab and a Sensor-log tab on top of the public API.

It sits at the two ends of load -> prepare -> sample -> restore -> save: files go through
``sigdenoise.io``, signals through ``DenoiseModel.denoise``/``denoise_detailed``; nothing
here touches the network or the sampler. ``app.py`` parses the command line and calls
:func:`serve`. Needs the ``[app]`` extra (gradio, matplotlib, pandas, pyarrow; plotly
for the zoomable sensor plot).
"""
import os

# before gradio is imported (every submodule imports it): no phoning home, no model hub
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from .files import sweep_results, sweep_stale_roots
from .models import available_models, get_model
from .page import build_app
from .sensor import make_denoise_sensor, make_inspect_sensor_log, sensor_figure
from .server import serve
from .voice import make_check_audio_upload, make_denoise_audio, spectrogram_images

__all__ = ["available_models", "build_app", "get_model", "make_check_audio_upload", "make_denoise_audio",
           "make_denoise_sensor", "make_inspect_sensor_log", "sensor_figure", "serve", "spectrogram_images",
           "sweep_results", "sweep_stale_roots"]
