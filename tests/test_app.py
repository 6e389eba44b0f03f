"""The web UI's named API endpoints, called through gradio_client against a live local server (tiny models)."""
from __future__ import annotations

import os
import socket

import numpy as np
import pytest

pytest.importorskip("gradio", reason="the web UI needs the [app] extra: pip install 'sigdenoise[app]'")
gradio_client = pytest.importorskip("gradio_client", reason="pip install gradio_client")

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the client must never look anything up on the Hub

pytestmark = [pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting'"),  # inside gradio's queue
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

MAX_MINUTES = 1.0  # small, so the "too long" check is cheap to trigger


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tiny_checkpoints):
    """A live app on 127.0.0.1 with the tiny models, for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIGDENOISE_CHECKPOINTS", str(tiny_checkpoints))
        from sigdenoise.webui import serve

        port = free_port()
        demo = serve("127.0.0.1", port, max_upload_mb=5, max_minutes=MAX_MINUTES, block=False)
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            demo.close()


@pytest.fixture(scope="module")
def client(server_url, tmp_path_factory):
    return gradio_client.Client(server_url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


def tone(seconds: float, sr: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal((channels, t.size))
    return x.astype(np.float32)


def write_sensor_csv(path, rows: int, rate: float, *, time_column: bool = True):
    t = np.arange(rows) / rate
    a = np.sin(2 * np.pi * 0.5 * t) + 0.1 * np.random.default_rng(0).standard_normal(rows)
    b = np.cos(2 * np.pi * 0.2 * t)
    lines = (["time,a,b"] + [f"{ti:.4f},{ai:.6f},{bi:.6f}" for ti, ai, bi in zip(t, a, b)] if time_column
             else ["a,b"] + [f"{ai:.6f},{bi:.6f}" for ai, bi in zip(a, b)])
    path.write_text("\n".join(lines) + "\n")
    return path


def test_denoise_audio_keeps_format_rate_and_length(client, tmp_path):
    from sigdenoise.io import read_audio, write_audio

    src = tmp_path / "interview.flac"
    write_audio(src, tone(1.5, 22050, channels=2), 22050, subtype="PCM_24")
    audio, before, after, download, summary = client.predict(
        gradio_client.handle_file(str(src)), "speech", 2, 1.0, api_name="/denoise_audio")
    out = read_audio(download)
    assert (out.sample_rate, out.format, out.subtype) == (22050, "FLAC", "PCM_24")
    assert out.data.shape == (2, int(1.5 * 22050))
    assert np.all(np.isfinite(out.data))
    assert os.path.basename(download) == "interview-denoised.flac"
    assert read_audio(audio).data.shape == out.data.shape
    assert os.path.getsize(before) > 1000 and os.path.getsize(after) > 1000
    assert "Done" in summary


@pytest.mark.parametrize("fmt", ["CSV", "Parquet"])
def test_denoise_sensor_writes_mean_and_std(client, tmp_path, fmt):
    from sigdenoise.io import read_sensor_log

    src = write_sensor_csv(tmp_path / "pump.csv", rows=300, rate=100.0)
    plot, download, summary = client.predict(
        gradio_client.handle_file(str(src)), None, ["a"], "sensor", 2, fmt, api_name="/denoise_sensor")
    assert download.endswith(".parquet" if fmt == "Parquet" else ".csv")
    out = read_sensor_log(download)
    assert out.channel_names == ["a", "a_std"]
    assert out.sample_rate == pytest.approx(100.0)
    assert out.data.shape == (2, 300)
    assert np.all(out.data[1] >= 0)
    assert plot is not None and "Done" in summary
    if fmt == "CSV":  # one step gives 8 identical samples: refused, not a silent zero band
        with pytest.raises(gradio_client.exceptions.AppError, match="minimum value 2"):
            client.predict(gradio_client.handle_file(str(src)), None, ["a"], "sensor", 1, fmt,
                           api_name="/denoise_sensor")


def test_denoise_sensor_takes_the_keep_mains_box(client, tmp_path):
    src = write_sensor_csv(tmp_path / "current.csv", rows=300, rate=1000.0)
    _, download, summary = client.predict(gradio_client.handle_file(str(src)), None, ["a"], "sensor", 2, "CSV", True,
                                          api_name="/denoise_sensor")
    assert download.endswith(".csv") and "Done" in summary


def test_sensor_log_without_time_column_uses_the_rate_box(client, tmp_path):
    from sigdenoise.io import read_sensor_log

    src = write_sensor_csv(tmp_path / "press.csv", rows=200, rate=50.0, time_column=False)
    with pytest.raises(gradio_client.exceptions.AppError, match="sample rate"):
        client.predict(gradio_client.handle_file(str(src)), None, [], "sensor", 2, "CSV", api_name="/denoise_sensor")
    _, download, _ = client.predict(gradio_client.handle_file(str(src)), 50, [], "sensor", 2, "CSV",
                                    api_name="/denoise_sensor")
    out = read_sensor_log(download, sample_rate=50.0)  # written in the input's style: no time column
    assert out.channel_names == ["a", "b", "a_std", "b_std"]
    assert out.sample_rate == pytest.approx(50.0)


def test_bad_file_is_an_error_and_the_server_keeps_serving(client, tmp_path):
    from sigdenoise.io import write_audio

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file" * 10)
    with pytest.raises(gradio_client.exceptions.AppError, match=r"broken\.wav.*cannot be decoded") as info:
        client.predict(gradio_client.handle_file(str(bad)), "speech", 2, 1.0, api_name="/denoise_audio")
    assert "/tmp" not in str(info.value)  # the server's temp path is not shown, only the user's file name

    good = tmp_path / "ok.wav"
    write_audio(good, tone(0.5, 16000), 16000)
    audio, *_ = client.predict(gradio_client.handle_file(str(good)), "speech", 1, 0.5, api_name="/denoise_audio")
    assert os.path.exists(audio)


def test_too_long_and_unknown_model_are_errors(client, tmp_path):
    long_log = write_sensor_csv(tmp_path / "week.csv", rows=2000, rate=10.0)  # 200 s x 8 passes at 1 kHz
    with pytest.raises(gradio_client.exceptions.AppError, match="too long"):
        client.predict(gradio_client.handle_file(str(long_log)), None, [], "sensor", 2, "CSV",
                       api_name="/denoise_sensor")
    from sigdenoise.io import write_audio

    clip = tmp_path / "a.wav"
    write_audio(clip, tone(0.2, 16000), 16000)
    with pytest.raises(gradio_client.exceptions.AppError):  # the dropdown refuses values it does not list
        client.predict(gradio_client.handle_file(str(clip)), "no-such-model", 1, 1.0, api_name="/denoise_audio")


def test_models_are_loaded_once(tiny_model_env):
    from sigdenoise.webui import get_model

    assert get_model("speech") is get_model("speech")
    assert get_model("sensor") is not get_model("speech")


def test_spectrograms_of_short_and_long_clips(tmp_path):
    from sigdenoise.webui import _power_spectrogram, spectrogram_images

    for seconds in (0.01, 120.0):
        x = tone(seconds, 16000, channels=2)
        before, after = spectrogram_images(x, 0.5 * x, 16000, tmp_path)
        assert os.path.getsize(before) > 1000 and os.path.getsize(after) > 1000
    freqs, power = _power_spectrogram(x[0].astype(np.float64), 16000)
    assert power.shape == (freqs.size, 1500)  # a long clip is averaged into a fixed number of columns


def test_sensor_plot_falls_back_to_matplotlib_without_plotly(monkeypatch):
    import sys

    pytest.importorskip("plotly")
    from sigdenoise.webui import PLOT_POINTS, sensor_figure

    raw = np.random.default_rng(0).standard_normal((2, 3 * PLOT_POINTS))
    plotly_fig = sensor_figure(raw, raw * 0.5, np.full_like(raw, 0.1), 100.0, ["x", "y"], None)
    assert len(plotly_fig.data) == 8 and len(plotly_fig.data[0].x) <= PLOT_POINTS  # 4 traces per channel, thinned
    zoned = sensor_figure(raw, raw, raw * 0, 100.0, ["x", "y"], "2024-05-01T08:00:00+02:00")
    assert str(zoned.data[0].x[0]).startswith("2024-05-01T08:00:00")  # the log's own clock, not UTC
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    mpl_fig = sensor_figure(raw, raw * 0.5, np.full_like(raw, 0.1), 100.0, ["x", "y"], "2024-05-01T08:00:00")
    assert len(mpl_fig.axes) == 2 and "2024-05-01" in mpl_fig.axes[-1].get_xlabel()


def test_launcher_reads_flags_and_environment(monkeypatch):
    import app
    import sigdenoise.webui

    seen = {}
    monkeypatch.setattr(sigdenoise.webui, "serve", lambda host, port, **kw: seen.update(host=host, port=port, **kw))
    monkeypatch.setenv("SIGDENOISE_PORT", "8123")
    app.main([])
    assert seen == {"host": "127.0.0.1", "port": 8123, "max_upload_mb": 200.0, "max_minutes": 20.0}
    app.main(["--host", "0.0.0.0", "--port", "9000", "--max-upload-mb", "5"])
    assert (seen["host"], seen["port"], seen["max_upload_mb"]) == ("0.0.0.0", 9000, 5.0)
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
