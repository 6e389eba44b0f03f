"""The web UI's named API endpoints, called through gradio_client against a live local server (tiny models)."""
from __future__ import annotations

import json
import os
import re
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


@pytest.mark.slow
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
    assert out.channel_names == ["a", "b", "a_std", "b_std"]  # "b" was not picked: it passes through
    assert out.sample_rate == pytest.approx(100.0)
    assert out.data.shape == (4, 300)
    assert np.all(out.data[2] >= 0) and np.all(np.isnan(out.data[3]))  # no spread where nothing was estimated
    np.testing.assert_array_equal(out.data[1], read_sensor_log(src).data[1])
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
    with pytest.raises(gradio_client.exceptions.AppError, match="(?i)sample rate") as info:
        client.predict(gradio_client.handle_file(str(src)), None, [], "sensor", 2, "CSV", api_name="/denoise_sensor")
    _, download, _ = client.predict(gradio_client.handle_file(str(src)), 50, [], "sensor", 2, "CSV",
                                    api_name="/denoise_sensor")
    out = read_sensor_log(download, sample_rate=50.0)  # written in the input's style: no time column
    assert out.channel_names == ["a", "b", "a_std", "b_std"]
    assert out.sample_rate == pytest.approx(50.0)
    assert "sample_rate=" not in str(info.value) and "time_column=" not in str(info.value)  # the page's words
    assert "Sample rate (Hz)" in str(info.value)


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
    from sigdenoise.webui.voice import _power_spectrogram, spectrogram_images

    for seconds in (0.01, 120.0):
        x = tone(seconds, 16000, channels=2)
        before, after = spectrogram_images(x, 0.5 * x, 16000, tmp_path)
        assert os.path.getsize(before) > 1000 and os.path.getsize(after) > 1000
    freqs, power = _power_spectrogram(x[0].astype(np.float64), 16000)
    assert power.shape == (freqs.size, 1500)  # a long clip is averaged into a fixed number of columns


def test_sensor_plot_falls_back_to_matplotlib_without_plotly(monkeypatch):
    import sys

    pytest.importorskip("plotly")
    from sigdenoise.webui.sensor import PLOT_POINTS, sensor_figure

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


# --------------------------------------------------------------------------- what new users hit first
def write_wide_csv(path, columns: int, rows: int, rate: float):
    """A log of ``columns`` noisy sines, values with 6 decimals (so a pass-through is exact)."""
    t = np.arange(rows) / rate
    rng = np.random.default_rng(3)
    values = np.sin(2 * np.pi * 0.3 * (1 + np.arange(columns))[:, None] * t) + 0.1 * rng.standard_normal((columns, rows))
    names = [f"ch{i:02d}" for i in range(columns)]
    lines = ["time," + ",".join(names)] + [f"{ti:.3f}," + ",".join(f"{v:.6f}" for v in row)
                                           for ti, row in zip(t, values.T)]
    path.write_text("\n".join(lines) + "\n")
    return path, names


@pytest.mark.slow
def test_sensor_download_holds_every_column(client, tmp_path):
    from sigdenoise.io import read_sensor_log

    src, names = write_wide_csv(tmp_path / "plant.csv", columns=20, rows=200, rate=50.0)
    raw = read_sensor_log(src)
    picked = ["ch03", "ch11"]
    plot, download, summary = client.predict(gradio_client.handle_file(str(src)), None, picked, "sensor", 2, "CSV",
                                             api_name="/denoise_sensor")
    out = read_sensor_log(download)
    assert out.channel_names == names + [f"{n}_std" for n in names]
    for i, name in enumerate(names):
        if name in picked:
            assert not np.allclose(out.data[i], raw.data[i]) and np.all(out.data[20 + i] >= 0)
        else:  # not picked: exactly as it came in, with no spread claimed
            np.testing.assert_array_equal(out.data[i], raw.data[i])
            assert np.all(np.isnan(out.data[20 + i]))
    assert "2 of 20" in summary and "18 not picked unchanged" in summary

    _, download, summary = client.predict(gradio_client.handle_file(str(src)), None, [], "sensor", 2, "CSV",
                                          api_name="/denoise_sensor")
    out = read_sensor_log(download)  # nothing picked: every column denoised, the plot shows a subset
    assert out.data.shape == (40, 200) and np.all(out.data[20:] >= 0)
    assert "20 of 20" in summary and "plot shows the first 6" in summary


def test_column_picker_starts_empty_and_means_all(tiny_model_env, tmp_path):
    from sigdenoise.webui import make_inspect_sensor_log

    src, names = write_wide_csv(tmp_path / "plant.csv", columns=20, rows=50, rate=50.0)
    update, info = make_inspect_sensor_log()(str(src), None, "sensor")
    assert update["choices"] == names and update["value"] == []  # empty = all, as the hint says
    assert info.startswith("20 column(s)")


def test_irregular_log_gets_one_message_in_the_page_words(client, tiny_model_env, tmp_path):
    from sigdenoise.webui import make_inspect_sensor_log

    t = np.cumsum(np.r_[0, np.full(99, 0.01)])
    t[50:] += 0.004  # one late sample
    src = tmp_path / "drift.csv"
    src.write_text("timestamp,a\n" + "".join(f"{ti:.4f},{np.sin(ti):.5f}\n" for ti in t))
    _, hint = make_inspect_sensor_log()(str(src), None, "sensor")
    with pytest.raises(gradio_client.exceptions.AppError) as info:
        client.predict(gradio_client.handle_file(str(src)), None, [], "sensor", 2, "CSV", api_name="/denoise_sensor")
    assert "irregular" in hint and "No time column" not in hint
    assert hint.split(":** ", 1)[1] == str(info.value)  # after the upload and after Denoise: the same words
    assert "sample_rate=" not in hint and "Sample rate (Hz) box" in hint


def test_advice_names_the_page_controls():
    from sigdenoise.options import AdviceError
    from sigdenoise.webui.files import _readable

    message = _readable(AdviceError("/tmp/x/up.csv: no rate; set {sample_rate} or {columns}"), "/tmp/x/up.csv")
    assert message == "up.csv: no rate; set the Sample rate (Hz) box or the Columns box"


def test_voice_tab_offers_only_voice_models(client, tiny_model_env, tmp_path):
    from sigdenoise.io import write_audio
    from sigdenoise.webui.models import _models_for

    assert _models_for("speech") == (["speech"], "speech")
    assert _models_for("sensor") == (["sensor"], "sensor")
    clip = tmp_path / "a.wav"
    write_audio(clip, tone(0.2, 16000), 16000)
    with pytest.raises(gradio_client.exceptions.AppError):  # not in the voice tab's menu, so refused
        client.predict(gradio_client.handle_file(str(clip)), "sensor", 1, 1.0, api_name="/denoise_audio")


def test_steps_control_says_what_it_does(tiny_model_env):
    import gradio as gr

    from sigdenoise.webui import build_app

    sliders = [b for b in build_app().blocks.values() if isinstance(b, gr.Slider)]
    assert not any("quality" in s.label for s in sliders)  # more calls do not buy quality with these models
    voice = next(s for s in sliders if s.elem_id == "voice-steps")
    assert voice.label == "Network calls" and "worse" in voice.info


def test_list_valued_model_name_does_not_leak_the_checkpoint_path(client, tiny_checkpoints, tmp_path):
    from sigdenoise.io import write_audio

    clip = tmp_path / "a.wav"
    write_audio(clip, tone(0.2, 16000), 16000)
    with pytest.raises(gradio_client.exceptions.AppError) as info:
        client.predict(gradio_client.handle_file(str(clip)), ["speech"], 1, 1.0, api_name="/denoise_audio")
    assert str(tiny_checkpoints) not in str(info.value) and "safetensors" not in str(info.value)


def test_bad_uploads_are_refused_at_upload_time(tiny_model_env, tmp_path):
    from sigdenoise.io import write_audio
    from sigdenoise.webui import make_check_audio_upload

    check = make_check_audio_upload(MAX_MINUTES)
    empty, junk, log = tmp_path / "empty.wav", tmp_path / "junk.mp3", tmp_path / "pump.csv"
    empty.write_bytes(b"")
    junk.write_bytes(b"this is not audio at all" * 50)
    write_sensor_csv(log, rows=20, rate=10.0)
    long_clip = tmp_path / "long.wav"
    write_audio(long_clip, np.zeros(int(61 * 8000), np.float32), 8000)  # 61 s: over a 1-minute limit
    expected = {empty: "empty (0 bytes)", junk: "junk.mp3", log: "Sensor log tab", long_clip: "--max-minutes"}
    for path, words in expected.items():
        with pytest.warns(UserWarning) as shown:
            assert check(str(path), "speech") is None  # the upload is cleared: nothing left to press Denoise on
        assert len(shown) == 1 and words in str(shown[0].message), (path, [str(w.message) for w in shown])
        assert "columns" not in str(shown[0].message)  # the voice tab has none to pick
    ok = tmp_path / "ok.wav"
    write_audio(ok, tone(0.5, 16000), 16000)
    assert check(str(ok), "speech") != None  # noqa: E711 - an update that leaves the upload alone


def test_empty_upload_through_the_api_names_the_problem(client, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(gradio_client.exceptions.AppError, match=r"empty \(0 bytes\)"):
        client.predict(gradio_client.handle_file(str(empty)), "speech", 1, 1.0, api_name="/denoise_audio")


class ErasingModel:
    """Stands in for a model that removes nearly everything (what a user saw on real shortwave speech)."""

    def __init__(self, model):
        self.config, self.band_calibrated = model.config, model.band_calibrated

    def denoise_detailed(self, x, **kwargs):
        from sigdenoise.pipeline import DenoiseResult

        return DenoiseResult(mean=x * 1e-3, std=None, repaired=None)


def test_voice_summary_warns_when_the_output_is_far_quieter(tiny_model_env, tmp_path, monkeypatch):
    from sigdenoise.io import write_audio
    from sigdenoise.webui import models, voice

    clip = tmp_path / "radio.wav"
    write_audio(clip, tone(2.0, 16000), 16000)
    monkeypatch.setattr(voice, "get_model", lambda name: ErasingModel(models._load_cached(name, str(tiny_model_env))))
    *_, summary = voice.make_denoise_audio(5.0)(str(clip), "speech", 1, 1.0)
    assert "Check this result" in summary and "60 dB quieter" in summary


@pytest.fixture
def rate_free_uncalibrated_sensor(tmp_path, monkeypatch):
    """A folder whose sensor model is rate-agnostic (rate 0, like the bundled one) and has no calibrated band."""
    from .conftest import make_tiny_config

    from sigdenoise.checkpoint import save_checkpoint
    from sigdenoise.diffusion import BridgeDenoiser

    config = make_tiny_config("sensor", 0)
    save_checkpoint(tmp_path / "sensor.safetensors", BridgeDenoiser(config).state_dict(), config,
                    data={"kind": "tiny test model"}, training={})
    monkeypatch.setenv("SIGDENOISE_CHECKPOINTS", str(tmp_path))
    return tmp_path


def test_max_minutes_limits_the_rate_free_sensor_model(rate_free_uncalibrated_sensor, tmp_path):
    import gradio as gr

    from sigdenoise.webui import make_denoise_sensor, make_inspect_sensor_log

    src, _ = write_wide_csv(tmp_path / "week.csv", columns=2, rows=20_000, rate=10.0)  # 40,000 samples in all
    with pytest.raises(gr.Error, match="too long") as info:  # 1.25 s of 16 kHz work per column: 2.5 s > 2.4 s
        make_denoise_sensor(0.04)(str(src), None, [], "sensor", 2, "CSV")
    assert "--max-minutes 0.04" in info.value.message
    update, hint = make_inspect_sensor_log(0.04)(str(src), None, "sensor")  # said at upload time, too
    assert "too long" in hint and "Pick fewer columns" in hint
    assert update["choices"] == ["ch00", "ch01"]  # ... with the picker filled, so fewer can be picked
    make_denoise_sensor(0.04)(str(src), None, ["ch01"], "sensor", 2, "CSV")  # one column fits


def test_sensor_tab_offers_no_uncalibrated_band(rate_free_uncalibrated_sensor, tmp_path):
    from sigdenoise.io import read_sensor_log
    from sigdenoise.webui import make_denoise_sensor

    src = write_sensor_csv(tmp_path / "pump.csv", rows=300, rate=100.0)
    figure, download, summary = make_denoise_sensor(5.0)(str(src), None, [], "sensor", 2, "CSV")
    assert read_sensor_log(download).channel_names == ["a", "b"]  # no *_std columns
    assert "not calibrated" in summary and "shaded band" not in summary
    assert not any("band" in (trace.name or "") for trace in figure.data)


def test_sensor_plot_marks_filled_gaps():
    pytest.importorskip("plotly")
    from sigdenoise.webui import sensor_figure

    raw = np.random.default_rng(0).standard_normal((2, 500))
    repaired = np.zeros(raw.shape, bool)
    repaired[1, 100:120] = True
    fig = sensor_figure(raw, raw, raw * 0 + 0.1, 100.0, ["x", "y"], None, repaired)
    marks = [trace for trace in fig.data if trace.name == "filled-in gap"]
    assert len(marks) == 1 and len(marks[0].x) == 20 and marks[0].yaxis == "y2"


def test_sensor_tab_has_example_logs(tiny_model_env):
    import gradio as gr

    from sigdenoise.webui.page import SAMPLES_DIR, build_app

    datasets = [b for b in build_app().blocks.values() if isinstance(b, gr.Dataset)]
    shown = json.dumps([d.samples for d in datasets])
    assert "noisy_accel_64hz.csv" in shown and "noisy_ecg_360hz.csv" in shown
    assert SAMPLES_DIR.joinpath("noisy_accel_64hz.csv").is_file()


def test_busy_port_is_one_line_naming_the_flag(capsys):
    import app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit_info:
            app.main(["--port", str(port)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--port" in err and str(port) in err
    assert "Traceback" not in err and "GRADIO_SERVER_PORT" not in err


def test_server_refuses_files_that_were_not_uploaded(server_url, monkeypatch):
    import httpx

    looked_up = []
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: looked_up.append(host) or real(host, *a, **k))
    for path in ("https://example.invalid/v.wav", "http://10.0.0.1/v.wav", "/etc/hostname",
                 "//example.invalid/v.wav", "data:audio/wav;base64,UklGRg=="):
        file_data = {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": "v.wav"}
        response = httpx.post(f"{server_url}gradio_api/call/denoise_audio",
                              json={"data": [file_data, "speech", 1, 1.0]}, timeout=30)
        assert response.status_code == 400, (path, response.text)
        assert "Only files uploaded" in response.json()["error"]
    assert not [h for h in looked_up if "example" in str(h) or h == "10.0.0.1"]


def test_results_are_private_and_swept(client, tmp_path):
    import stat
    import time

    from sigdenoise import webui
    from sigdenoise.webui import files
    from sigdenoise.io import write_audio

    clip = tmp_path / "a.wav"
    write_audio(clip, tone(0.3, 16000), 16000)
    client.predict(gradio_client.handle_file(str(clip)), "speech", 1, 1.0, api_name="/denoise_audio")
    root = files._private_root()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert os.environ["GRADIO_TEMP_DIR"].startswith(str(root))  # uploads and gradio's copies live inside it
    results = [p for p in (root / "results").rglob("*") if p.is_file()]
    assert results and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in results)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in (root / "results").iterdir())

    old = next((root / "results").iterdir())
    os.utime(old, (time.time() - 2 * files.MAX_AGE_S,) * 2)
    files.sweep_results()
    assert not old.exists()

    dead = tmp_path / "sigdenoise-webui-dead"  # left by a killed server
    (dead / "results").mkdir(parents=True)
    (dead / "owner.pid").write_text("999999999")
    alive = tmp_path / "sigdenoise-webui-alive"
    alive.mkdir()
    (alive / "owner.pid").write_text(str(os.getpid()))
    assert webui.sweep_stale_roots(tmp_path) == [dead]
    assert alive.exists()


def test_documented_client_calls_use_the_default_steps(client, tmp_path):
    """The README's and docs' gradio_client examples leave steps out: more calls make the speech model worse."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for doc in (root / "README.md", root / "docs" / "webui.md"):
        text = doc.read_text()
        assert "client.predict(" in text
        assert "# steps" not in text and not re.search(r'"speech", \d', text) and "steps=2" not in text, doc
    from sigdenoise.io import write_audio

    clip = tmp_path / "interview.flac"
    write_audio(clip, tone(0.5, 16000), 16000)
    *_, summary = client.predict(audio_path=gradio_client.handle_file(str(clip)), model_name="speech", strength=1.0,
                                 api_name="/denoise_audio")
    assert "Done" in summary
    log = write_sensor_csv(tmp_path / "pump.csv", rows=200, rate=100.0)
    _, download, _ = client.predict(log_path=gradio_client.handle_file(str(log)), sample_rate=0, columns=["a"],
                                    model_name="sensor", output_format="Parquet", keep_mains=False,
                                    api_name="/denoise_sensor")
    assert download.endswith(".parquet")


@pytest.mark.slow
def test_sigterm_removes_the_servers_files(tiny_checkpoints, tmp_path):
    """kill -TERM ends the launcher like Ctrl+C: its private folder (uploads, cache, results) goes with it."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    port = free_port()
    env = {**os.environ, "SIGDENOISE_CHECKPOINTS": str(tiny_checkpoints), "TMPDIR": str(tmp_path),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("GRADIO_TEMP_DIR", None)
    server = subprocess.Popen([sys.executable, str(Path(__file__).resolve().parent.parent / "app.py"),
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.time() < deadline, server.stderr.read().decode()[-2000:]
            time.sleep(0.5)
        roots = list(tmp_path.glob("sigdenoise-webui-*"))
        assert len(roots) == 1 and (roots[0] / "results").is_dir(), roots
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) is not None
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert not roots[0].exists()


def test_one_sweeper_sweeps_old_results_on_a_timer(tiny_model_env, monkeypatch):
    import time

    from sigdenoise.webui import files

    folder = files._output_dir()
    os.utime(folder, (time.time() - 2 * files.MAX_AGE_S,) * 2)
    monkeypatch.setattr(files, "_sweeper", None)
    thread = files._start_sweeper(every_s=0.05)
    assert files._start_sweeper(every_s=0.05) is thread  # a second server in the process adds no thread
    deadline = time.time() + 5
    while folder.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert not folder.exists()


def test_nan_samples_and_an_all_nan_channel_come_back_the_same_from_api_cli_and_web(
        rate_free_uncalibrated_sensor, tiny_checkpoints, tmp_path):
    """One read -> denoise -> write (sigdenoise.jobs) behind every front end: a WAV with NaN samples, a log
    with a gap and a log with an all-NaN channel give the same files from the API, the CLI and the web UI."""
    import shutil

    import soundfile

    import sigdenoise
    from sigdenoise import webui
    from sigdenoise.cli import main
    from sigdenoise.io import read_audio, read_sensor_log

    shutil.copy(tiny_checkpoints / "speech.safetensors", rate_free_uncalibrated_sensor / "speech.safetensors")
    audio = tone(1.0, 16000)
    audio[0, 3000:3100] = np.nan
    wav = tmp_path / "in" / "take.wav"
    wav.parent.mkdir()
    soundfile.write(wav, audio.T, 16000, subtype="FLOAT")  # write_audio refuses NaN, a recorder may not
    rng = np.random.default_rng(0)
    values = np.sin(np.arange(3000) / 30.0)[None] + 0.1 * rng.standard_normal((3, 3000))
    values[0, 100:140] = np.nan  # a gap
    values[2] = np.nan  # a channel with no values at all
    log = tmp_path / "in" / "log.csv"
    log.write_text("time,a,b,c\n" + "\n".join(f"{i / 100:.2f}," + ",".join("" if np.isnan(v) else repr(float(v))
                                                                            for v in values[:, i])
                                            for i in range(values.shape[1])) + "\n")
    (tmp_path / "api").mkdir()
    for src, model in ((wav, "speech"), (log, "sensor")):
        sigdenoise.denoise_file(src, tmp_path / "api" / src.name, model=model, steps=2)
        assert main(["denoise", str(src), "-o", str(tmp_path / "cli"), "--model", model, "--steps", "2"]) == 0
    web_wav = webui.make_denoise_audio(5.0)(str(wav), "speech", 2, 1.0)[3]
    web_log = webui.make_denoise_sensor(5.0)(str(log), None, [], "sensor", 2, "CSV")[1]
    wavs = [read_audio(p).data for p in (tmp_path / "api" / "take.wav", tmp_path / "cli" / "take.wav", web_wav)]
    logs = [read_sensor_log(p) for p in (tmp_path / "api" / "log.csv", tmp_path / "cli" / "log.csv", web_log)]
    for other in wavs[1:]:
        np.testing.assert_allclose(other, wavs[0], atol=1e-6)
    assert np.isfinite(wavs[0]).all()
    for other in logs[1:]:
        assert other.channel_names == logs[0].channel_names
        np.testing.assert_allclose(other.data, logs[0].data, atol=1e-5)
    names = logs[0].channel_names
    assert names == ["a", "b", "c", "a_repaired", "b_repaired", "c_repaired"]
    assert np.isfinite(logs[0].data[:3]).all() and logs[0].data[5].all() and logs[0].data[3].sum() == 40
