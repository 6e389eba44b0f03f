"""Streaming denoise (sigdenoise.stream) on the tiny untrained models: lengths, chunking, flush, CLI."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import sigdenoise


def feed(stream, x: np.ndarray, sizes) -> np.ndarray:
    """Push ``x`` through ``stream`` in chunks of ``sizes(k)`` samples; concatenate the outputs and the flush."""
    outs, i, k = [], 0, 0
    while i < x.shape[-1]:
        outs.append(stream.process(x[..., i:i + sizes(k)]))
        i += sizes(k)
        k += 1
    outs.append(stream.flush())
    return np.concatenate(outs, axis=-1)


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(40000) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.slow
def test_chunk_sizes_do_not_change_the_output(tiny_model, signal):
    rng = np.random.default_rng(1)
    random_sizes = rng.integers(1, 900, size=10000)
    outs = [feed(tiny_model.stream(sample_rate=16000, latency=0.1), signal, sizes)
            for sizes in (lambda k: 160, lambda k: 320, lambda k: int(random_sizes[k]), lambda k: 10 ** 9)]
    for out in outs:
        assert out.shape == signal.shape and out.dtype == signal.dtype
        np.testing.assert_allclose(out, outs[0], atol=1e-6)


@pytest.mark.parametrize("n", [1, 100, 1601, 23456])
def test_exact_length_and_flush(tiny_model, n):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    stream = tiny_model.stream(sample_rate=16000, latency=0.1)
    first = stream.process(x)
    # held back, by at most the latency (at the start, the running level's warm-up where that is longer)
    assert stream.startup >= stream.latency
    assert n - round(stream.startup * 16000) <= first.shape[-1] < max(n, 1)
    rest = stream.flush()
    assert first.shape[-1] + rest.shape[-1] == n
    with pytest.raises(RuntimeError):
        stream.process(x)


def snr_db(reference, estimate) -> float:
    return float(10 * np.log10(np.sum(reference ** 2) / np.sum((reference - estimate) ** 2)))


def test_latency_and_matches_offline(tiny_model, signal):
    # Given offline's level, a stream cuts the same chunks on the same frame grid and draws the same
    # sampler noise at every frame: it differs from offline only where its windows see less context
    # than offline's chunks, and the tiny network reads less than 0.25 s gives them.
    x = signal * np.linspace(0.2, 3.0, signal.size, dtype=np.float32)  # a level that keeps changing
    offline = tiny_model.denoise(x, sample_rate=16000, steps=2)  # eta 1: fresh noise at the second step
    assert snr_db(offline, tiny_model.denoise(x, sample_rate=16000, steps=2, seed=1)) < 60  # the noise matters
    stream = tiny_model.stream(sample_rate=16000, latency=0.25, steps=2, level=float(x.std()), offset=float(x.mean()))
    assert stream.latency == pytest.approx(0.25, abs=2 / 16000)
    assert snr_db(offline, feed(stream, x, lambda k: 320)) > 90
    level_only = tiny_model.stream(sample_rate=16000, latency=0.25, steps=2, level=float(x.std()))
    assert snr_db(offline, feed(level_only, x, lambda k: 320)) > 50  # the running offset differs a little
    # unaided, a stream knows only the level so far: far off while it ramps, offline's once it is steady
    unaided = feed(tiny_model.stream(sample_rate=16000, latency=0.25, steps=2), x, lambda k: 320)
    assert snr_db(offline[:8000], unaided[:8000]) < 10
    steady = tiny_model.denoise(signal, sample_rate=16000, steps=2)
    y = feed(tiny_model.stream(sample_rate=16000, latency=0.25, steps=2), signal, lambda k: 320)
    assert snr_db(steady[-8000:], y[-8000:]) > 40


def test_plan_gives_the_block_what_the_network_does_not_read_ahead():
    from sigdenoise.stream import BLOCK_SHARE, plan_stream

    common = dict(latency=0.5, sample_rate=16000, model_rate=16000, hop=256, chunk=64000, overlap=4000)
    plain = plan_stream(**common)
    assert plain.block == int(BLOCK_SHARE * 8000) // 256 * 256 and plain.context >= plain.block + plain.lookahead
    # a network reading 0.27 s ahead and 1 s back: the look-ahead covers the first, the context the second,
    # and the rest of the delay goes to the block (fewer network calls for the same latency)
    bounded = plan_stream(**common, reach=(16638, 4350))
    assert bounded.lookahead >= 4350 and bounded.context >= 16638 and bounded.block > plain.block
    assert bounded.latency == pytest.approx(plain.latency)
    # one reading further ahead than the latency allows keeps the plain plan
    assert plan_stream(**common, reach=(10494, 10494)) == plain


def test_running_level_model_streams_as_it_denoises_offline(tiny_model, signal):
    # A model fed the running level offline too (ModelConfig.running_level) needs nothing known ahead:
    # on a level that keeps changing, and with the edge mirrors, its stream is its offline output.
    import dataclasses

    from sigdenoise.options import AdviceError

    running = tiny_model.with_config(dataclasses.replace(tiny_model.config, running_level=True,
                                                         edge_context_seconds=0.25))
    x = signal * np.linspace(0.2, 3.0, signal.size, dtype=np.float32)
    offline = running.denoise(x, sample_rate=16000, steps=2)
    assert snr_db(offline, feed(running.stream(sample_rate=16000, latency=0.25, steps=2), x, lambda k: 320)) > 90
    # and it is not the whole-level model's output: the gain follows the input hop by hop
    assert snr_db(offline, tiny_model.with_config(dataclasses.replace(running.config, running_level=False))
                  .denoise(x, sample_rate=16000, steps=2)) < 30
    with pytest.raises(AdviceError, match="running level"):
        running.stream(sample_rate=16000, level=1.0)


def test_multichannel_torch_and_resampled(tiny_model, signal):
    x = torch.from_numpy(np.stack([signal, -0.5 * signal]))[:, :20000]
    stream = tiny_model.stream(sample_rate=16000, channels=2, latency=0.1)
    y = torch.cat([stream.process(x[:, i:i + 480]) for i in range(0, x.shape[-1], 480)] + [stream.flush()], -1)
    assert isinstance(y, torch.Tensor) and y.shape == x.shape
    x48 = np.repeat(signal[:8000], 3)
    out = feed(tiny_model.stream(sample_rate=48000, latency=0.2), x48, lambda k: 960)
    assert out.shape == x48.shape and np.all(np.isfinite(out))
    with pytest.raises(ValueError):
        tiny_model.stream(sample_rate=16000, channels=2).process(signal[:100])


def test_int16_and_sensor_band(tiny_checkpoints):
    model = sigdenoise.load_model(tiny_checkpoints / "sensor.safetensors", device="cpu")
    x = (1000 * np.sin(np.arange(5000) / 30)).astype(np.int16)
    y = feed(model.stream(sample_rate=1000), x, lambda k: 37)
    assert y.dtype == np.int16 and y.shape == x.shape
    stream = model.stream(sample_rate=1000, num_samples=3, return_std=True, latency=0.5)
    parts = [stream.process(x[:3000].astype(np.float32)), stream.flush()]
    mean = np.concatenate([p[0] for p in parts])
    std = np.concatenate([p[1] for p in parts])
    assert mean.shape == std.shape == (3000,) and np.all(std >= 0)


@pytest.mark.slow
def test_cli_pipe(tiny_model_env, signal):
    pcm = (signal * 20000).astype("<i2").tobytes()
    done = subprocess.run([sys.executable, "-m", "sigdenoise.cli", "stream", "--rate", "16000", "--latency", "0.1"],
                          input=pcm, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert len(done.stdout) == len(pcm)
    lines = "\n".join(f"{v:.4f},{-v:.4f}" for v in signal[:3000]).encode() + b"\n"
    done = subprocess.run([sys.executable, "-m", "sigdenoise.cli", "stream", "--model", "sensor", "--rate", "1000",
                           "--format", "text", "--channels", "2"], input=lines, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    rows = done.stdout.decode().splitlines()
    assert len(rows) == 3000 and len(rows[0].split(",")) == 2


def test_webui_live_mode(tiny_model_env, signal):
    pytest.importorskip("gradio")
    from sigdenoise.webui.voice import make_live_denoise

    live = make_live_denoise()
    state, played = None, 0
    pcm = (signal * 20000).astype(np.int16)
    for i in range(0, 16000, 4000):  # 0.25 s microphone chunks
        audio, state, info = live((16000, pcm[i:i + 4000]), state, "speech")
        played += 0 if audio is None else audio[1].size
        assert "Latency" in info
    assert 0 < played <= 16000 and state["fed"] == 16000
    _, fresh, _ = live((48000, np.zeros((960, 2), np.int16)), state, "speech")  # another rate: a new stream
    assert fresh["rate"] == 48000 and fresh["fed"] == 960


def test_bad_options_are_refused(tiny_model):
    from sigdenoise.options import AdviceError

    for kwargs in ({"latency": 0.001}, {"latency": float("nan")}, {"level": -1.0}, {"level": [1.0, 2.0]},
                   {"offset": float("nan")}, {"offset": [0.0, 1.0]}, {"channels": 0}, {"return_std": True}):
        with pytest.raises(AdviceError):
            tiny_model.stream(sample_rate=16000, **kwargs)
    with pytest.raises(ValueError):
        tiny_model.stream(sample_rate=16000).process(np.array([0.0, np.nan]))
    held = tiny_model.stream(sample_rate=16000, repair_nan=True, latency=0.1)
    out = np.concatenate([held.process(np.array([0.1, np.nan, 0.2] * 2000, np.float32)), held.flush()])
    assert out.shape == (6000,) and np.all(np.isfinite(out))


def test_edge_mirror_is_laid_the_same_offline_and_streamed(tiny_model, signal):
    import dataclasses

    padded = tiny_model.with_config(dataclasses.replace(tiny_model.config, edge_context_seconds=0.5))
    x = signal[:30000]
    offline = padded.denoise(x, sample_rate=16000, eta=0.0)
    assert offline.shape == x.shape
    # the mirror changes what the network sees at the edges, not the signal's own level
    assert not np.allclose(offline, tiny_model.denoise(x, sample_rate=16000, eta=0.0), atol=1e-4)
    for sizes in (lambda k: 160, lambda k: 10 ** 9):
        y = feed(padded.stream(sample_rate=16000, latency=0.25, eta=0.0), x, sizes)
        assert y.shape == x.shape
        assert snr_db(offline, y) > 20
    short = x[:3000]  # shorter than the mirror: mirrored whole when flushed, as offline
    y = feed(padded.stream(sample_rate=16000, latency=0.25, eta=0.0), short, lambda k: 160)
    np.testing.assert_allclose(y, padded.denoise(short, sample_rate=16000, eta=0.0), atol=1e-5)
    # 48 kHz: the mirror is laid at the input's rate, and the length still comes back exact
    x48 = np.repeat(x[:8000], 3)
    assert feed(padded.stream(sample_rate=48000, latency=0.2), x48, lambda k: 960).shape == x48.shape
    assert padded.denoise(x48, sample_rate=48000).shape == x48.shape
