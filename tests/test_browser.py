"""The web page in a real headless Chromium (Debian's, driven by Playwright): upload, denoise, errors, screenshots.

Needs ``scripts/install_browser.sh`` (apt chromium) and the ``[app]`` + ``[dev]`` extras. With a trained
``checkpoints/speech.safetensors`` it also checks that the output is cleaner than the input.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow,  # a real Chromium: seconds a test, so not in the quick set
              pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting'"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

pytest.importorskip("gradio", reason="the web UI needs the [app] extra: pip install 'sigdenoise[app]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the browser comes from apt)")

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TRAINED_SPEECH = Path(os.environ.get("SIGDENOISE_TRAINED_SPEECH", ROOT / "checkpoints" / "speech.safetensors"))
TRAINED_SENSOR = Path(os.environ.get("SIGDENOISE_TRAINED_SENSOR", ROOT / "checkpoints" / "sensor.safetensors"))
ARTIFACTS = ROOT / "test-artifacts"
TIMEOUT_MS = 90_000

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: run scripts/install_browser.sh (apt-get install chromium)",
                allow_module_level=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def voice_clip(folder: Path) -> Path:
    """A bundled noisy sample when there is one, else a synthetic voiced signal with pauses in white noise."""
    samples = sorted((ROOT / "samples").glob("noisy_speech_*.wav"))
    if samples:
        return samples[0]
    from sigdenoise.io import write_audio

    sr, rng = 16000, np.random.default_rng(0)
    t = np.arange(4 * sr) / sr
    f0 = 140 + 20 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = (np.sin(2 * np.pi * 2.0 * t) > 0.2) * (t > 0.5) * (t < 3.5)  # bursts with pauses around them
    x = 0.08 * voiced * syllables + 0.02 * rng.standard_normal(t.size)
    path = folder / "noisy_voice.wav"
    write_audio(path, x.astype(np.float32), sr)
    return path


def quiet_frame_gain_db(noisy: np.ndarray, cleaned: np.ndarray, sr: int) -> float:
    """Energy change (dB) in the quietest 20% of 32 ms frames of the input: the noise between words."""
    frame = int(0.032 * sr)
    n = (min(noisy.shape[-1], cleaned.shape[-1]) // frame) * frame
    energy = lambda x: (x.mean(0)[:n].reshape(-1, frame) ** 2).mean(1) + 1e-12  # noqa: E731
    e_in, e_out = energy(noisy), energy(cleaned)
    quiet = e_in <= np.quantile(e_in, 0.2)
    return float(10 * np.log10(e_out[quiet].sum() / e_in[quiet].sum()))


@pytest.fixture(scope="module")
def server_url(tiny_checkpoints, tmp_path_factory):
    """A live app on the trained speech and sensor models where present, else the tiny ones."""
    folder = tmp_path_factory.mktemp("browser-checkpoints")
    for name, trained in (("speech", TRAINED_SPEECH), ("sensor", TRAINED_SENSOR)):
        (folder / f"{name}.safetensors").symlink_to(trained if trained.is_file()
                                                    else tiny_checkpoints / f"{name}.safetensors")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIGDENOISE_CHECKPOINTS", str(folder))
        from sigdenoise.webui import serve

        port = free_port()
        demo = serve("127.0.0.1", port, max_upload_mb=20, max_minutes=5, block=False)
        try:
            yield f"http://127.0.0.1:{port}/"
        finally:
            demo.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server_url):
    """A fresh page on the app that fails the test if it asks anything of a host other than the server."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if urlparse(request.url).hostname not in ("127.0.0.1", "localhost", None) else None)
    page.goto(server_url)
    page.get_by_role("heading", name="sigdenoise").wait_for()
    yield page
    context.close()
    assert not outside, f"the page fetched from the internet: {outside}"


def download(page, locator) -> bytes:
    href = locator.get_attribute("href")
    response = page.request.get(href)
    assert response.ok, f"{href}: HTTP {response.status}"
    return response.body()


def test_voice_tab_denoises_a_clip_and_shows_errors(page, tmp_path):
    from sigdenoise.io import read_audio

    clip_path = voice_clip(tmp_path)
    page.locator("#audio-in input[type=file]").set_input_files(str(clip_path))
    page.locator("#denoise-audio").click()
    page.locator("#voice-summary", has_text="Done").wait_for()
    link = page.locator("#audio-file a[href]").first
    out_path = tmp_path / f"out{clip_path.suffix}"
    out_path.write_bytes(download(page, link))
    noisy, cleaned = read_audio(clip_path), read_audio(out_path)
    assert cleaned.sample_rate == noisy.sample_rate and cleaned.data.shape == noisy.data.shape
    assert np.all(np.isfinite(cleaned.data)) and np.abs(cleaned.data).max() > 0
    assert page.locator("#audio-out audio, #audio-out [data-testid='waveform-Denoised (after)']").count() > 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "voice.png"), full_page=True)
    if TRAINED_SPEECH.is_file():  # the README's picture shows a real result, never the untrained tiny model
        # A test run leaves tracked files alone; `make docs-screenshot` asks for the refresh.
        refresh = os.environ.get("SIGDENOISE_REFRESH_SCREENSHOT") == "1"
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png" if refresh else ARTIFACTS / "voice-trained.png"),
                        full_page=True)
        gain = quiet_frame_gain_db(noisy.data, cleaned.data, noisy.sample_rate)
        assert gain < -3.0, f"the noise between words dropped by only {-gain:.1f} dB"

    bad, empty = tmp_path / "broken.wav", tmp_path / "empty.wav"
    bad.write_bytes(b"RIFF this is not audio" * 40)
    empty.write_bytes(b"")
    for path, words in ((bad, "cannot be decoded"), (empty, "empty (0 bytes)")):
        # refused at upload time, with one message, and cleared: not a 0:00 player that fails on Denoise
        clear = page.locator("#audio-in button[aria-label='Clear']")
        if clear.count():
            clear.first.click()
        page.locator("#audio-in input[type=file]").set_input_files(str(path))
        page.locator(".toast-body", has_text=words).first.wait_for()
        page.screenshot(path=str(ARTIFACTS / "voice-error.png"))  # the message is a toast over the top of the page
        page.wait_for_timeout(1000)
        assert page.locator(".toast-body").count() == 1, page.locator(".toast-body").all_inner_texts()
        assert page.locator("#audio-in audio").count() == 0
        page.locator(".toast-body .toast-close, .toast-close").first.click()
    # the server keeps serving: the next request still works
    page.locator("#audio-in input[type=file]").set_input_files(str(clip_path))
    page.locator("#denoise-audio").click()
    page.locator("#voice-summary", has_text="Done").wait_for()


def test_sensor_tab_plots_raw_denoised_and_band(page, tmp_path):
    rate, rows = 100.0, 400
    t = np.arange(rows) / rate
    rng = np.random.default_rng(1)
    vibration = np.sin(2 * np.pi * 1.5 * t)
    noisy = vibration + 0.3 * rng.standard_normal(rows)
    lines = ["time,vibration,temperature"] + [f"{ti:.2f},{vi:.5f},{20 + 0.1 * ti:.5f}" for ti, vi in zip(t, noisy)]
    log = tmp_path / "pump_bearing.csv"
    log.write_text("\n".join(lines) + "\n")

    page.get_by_role("tab", name="Sensor log").click()
    page.locator("#log-in input[type=file]").set_input_files(str(log))
    page.locator("#log-info", has_text="2 column(s)").wait_for()
    page.locator("#denoise-sensor").click()
    page.locator("#sensor-summary", has_text="Done").wait_for()
    page.locator("#sensor-plot .js-plotly-plot, #sensor-plot img").first.wait_for()
    body = download(page, page.locator("#log-file a[href]").first).decode()
    assert body.splitlines()[0].split(",")[-2:] == ["vibration_std", "temperature_std"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sensor.png"), full_page=True)
    if TRAINED_SENSOR.is_file():  # a real model must bring the trace closer to the sine under the noise
        header = body.splitlines()[0].split(",")
        values = np.array([[float(v) for v in line.split(",")] for line in body.splitlines()[1:]])
        cleaned = values[:, header.index("vibration")]
        error_db = 10 * np.log10(np.mean((cleaned - vibration) ** 2) / np.mean((noisy - vibration) ** 2))
        assert error_db < -3.0, f"the vibration's error fell by only {-error_db:.1f} dB"
        refresh = os.environ.get("SIGDENOISE_REFRESH_SCREENSHOT") == "1"
        page.screenshot(path=str(ROOT / "docs" / "screenshot-sensor.png" if refresh
                                 else ARTIFACTS / "sensor-trained.png"), full_page=True)


def test_long_recording_keeps_no_noisy_tail(page, tmp_path):
    """The last 0.25 s of a recording over ~4.5 s kept its noise (visible in the after-spectrogram)."""
    from sigdenoise.io import read_audio, write_audio

    sr = 16000
    noise = (0.1 * np.random.default_rng(7).standard_normal(6 * sr)).astype(np.float32)
    path = tmp_path / "hiss.wav"
    write_audio(path, noise, sr, subtype="FLOAT")
    page.locator("#audio-in input[type=file]").set_input_files(str(path))
    page.locator("#denoise-audio").click()
    page.locator("#voice-summary", has_text="Done").wait_for()
    out_path = tmp_path / "out.wav"
    out_path.write_bytes(download(page, page.locator("#audio-file a[href]").first))
    cleaned = read_audio(out_path).data[0]
    assert cleaned.shape == noise.shape
    if not TRAINED_SPEECH.is_file():  # an untrained model removes nothing: only the length can be checked
        return
    attenuation = lambda a, b: 10 * np.log10(np.mean(a ** 2) / max(float(np.mean(b ** 2)), 1e-20))  # noqa: E731
    middle = attenuation(noise[2 * sr:4 * sr], cleaned[2 * sr:4 * sr])
    tail = attenuation(noise[-sr // 4:], cleaned[-sr // 4:])
    assert middle > 20, f"white noise dropped by only {middle:.1f} dB in the middle"
    assert tail > middle - 10, f"the last 0.25 s dropped by {tail:.1f} dB, the middle by {middle:.1f} dB"


def test_sensor_tab_downloads_all_twenty_columns(page, tmp_path):
    rate, rows, columns = 100.0, 300, 20
    t = np.arange(rows) / rate
    rng = np.random.default_rng(2)
    values = np.sin(2 * np.pi * 0.5 * (1 + np.arange(columns))[:, None] * t) + 0.2 * rng.standard_normal((columns, rows))
    names = [f"sensor_{i:02d}" for i in range(columns)]
    log = tmp_path / "line7.csv"
    log.write_text("\n".join(["time," + ",".join(names)] + [f"{ti:.2f}," + ",".join(f"{v:.6f}" for v in row)
                                                             for ti, row in zip(t, values.T)]) + "\n")

    page.get_by_role("tab", name="Sensor log").click()
    page.locator("#log-in input[type=file]").set_input_files(str(log))
    page.locator("#log-info", has_text="20 column(s)").wait_for()
    page.locator("#denoise-sensor").click()
    page.locator("#sensor-summary", has_text="Done").wait_for()
    lines = download(page, page.locator("#log-file a[href]").first).decode().splitlines()
    header = lines[0].split(",")
    assert header == ["time"] + names + [f"{n}_std" for n in names]  # every column, none dropped
    body = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert body.shape == (rows, 1 + 2 * columns) and np.all(np.isfinite(body))
    assert page.locator("#sensor-summary", has_text="20 of 20").count() == 1


def test_voice_tab_says_plainly_that_a_log_is_not_audio(page, tmp_path):
    log = tmp_path / "pump.csv"
    log.write_text("time,a\n0,1\n0.1,2\n")
    page.wait_for_function("document.documentElement.dataset.sigdenoiseScript === 'ready'")  # runs after load
    page.locator("#audio-in input[type=file]").set_input_files(str(log))
    page.locator("#audio-refused-text", has_text="pump.csv is not an audio file").wait_for()
    assert "Sensor log tab" in page.locator("#audio-refused-text").inner_text()
    page.evaluate("""() => {  // dropped rather than picked
        const data = new DataTransfer();
        data.items.add(new File(["a,b\\n1,2\\n"], "line7.parquet", {type: "application/octet-stream"}));
        document.querySelector("#audio-in").dispatchEvent(
            new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
    }""")
    page.locator("#audio-refused-text", has_text="line7.parquet is not an audio file").wait_for()
    page.wait_for_timeout(1000)
    assert not page.get_by_text("Invalid file type").count()  # gradio's list of MIME types never shows
    assert page.locator(".toast-body").count() == 0
    page.locator("#audio-in input[type=file]").set_input_files(str(voice_clip(tmp_path)))
    page.locator("#audio-refused-text:empty").wait_for(state="attached")  # a good file clears the note


def test_voice_tab_ab_player_switches_at_the_same_moment(page, tmp_path):
    clip_path = voice_clip(tmp_path)
    page.locator("#audio-in input[type=file]").set_input_files(str(clip_path))
    page.locator("#denoise-audio").click()
    page.locator("#voice-summary", has_text="Done").wait_for()
    player, toggle = page.locator("#ab-audio"), page.locator("#ab-toggle")
    toggle.wait_for()
    assert "denoised" in player.get_attribute("src")
    page.wait_for_function("document.getElementById('ab-audio').readyState >= 1")
    page.evaluate("document.getElementById('ab-audio').currentTime = 1.5")
    toggle.click()
    assert "Now: before" in toggle.inner_text() and "denoised" not in player.get_attribute("src")
    page.wait_for_function("Math.abs(document.getElementById('ab-audio').currentTime - 1.5) < 0.05")
    response = page.request.get(player.evaluate("audio => audio.src"))
    assert response.ok and response.body() == clip_path.read_bytes()  # "before" is the file as uploaded
    toggle.click()
    assert "Now: after" in toggle.inner_text() and "denoised" in player.get_attribute("src")
