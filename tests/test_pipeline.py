"""The pipeline around the network: lengths at every rate, chunk seams and edges, input checks, dtypes."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

import sigdenoise
from sigdenoise.checkpoint import read_metadata
from sigdenoise.diffusion import BridgeDenoiser
from sigdenoise.options import AdviceError
from sigdenoise.pipeline import DenoiseModel
from sigdenoise.steps import carry_top_band
from sigdenoise.sanity import output_warnings

from .conftest import make_tiny_config

RATES = [8000, 11025, 16000, 22050, 44100, 48000, 96000]


@pytest.mark.parametrize("rate", RATES)
def test_every_rate_gives_back_every_length(tiny_model, rate):
    # 48001 -> 16000 -> 48000 samples used to crash: the way back must land on the input's length
    rng = np.random.default_rng(rate)
    for n in range(rate + 1, rate + 21):
        x = (rng.standard_normal(n) * 0.1).astype(np.float32)
        y = tiny_model.denoise(x, sample_rate=rate, steps=1)
        assert y.shape == x.shape and np.isfinite(y).all(), n


class ChunkProbe(torch.nn.Module):
    """Stands in for the network: passes its input through, or scales each chunk to a fixed level.

    The second one sees what a chunk holds: a chunk padded with zeros (or cut short) gets another
    gain than a full one, which is how a real network left the end of long files noisy."""

    def __init__(self, config, mode: str):
        super().__init__()
        self.inner = BridgeDenoiser(config)
        self.mode = mode

    def encode(self, wave):
        return self.inner.encode(wave)

    def decode(self, spec, length):
        return self.inner.decode(spec, length)

    def forward(self, x_t, t, cond, rate=None):
        if self.mode == "identity":
            return cond
        level = cond.abs().pow(2).mean(dim=(-2, -1), keepdim=True).sqrt()
        return cond * (0.1 / level)


def _bundled_chunking(name: str) -> dict:
    config = read_metadata(f"checkpoints/{name}.safetensors")["config"]
    config = json.loads(config) if isinstance(config, str) else config
    return {k: config[k] for k in ("sample_rate", "chunk_seconds", "overlap_seconds")}


def _probe_model(name: str, mode: str) -> DenoiseModel:
    base = make_tiny_config("speech" if name == "speech" else "sensor", 16000)
    config = dataclasses.replace(base, **_bundled_chunking(name), keep_offset=True)
    return DenoiseModel(ChunkProbe(config, mode), config, device="cpu")


def _lengths(model: DenoiseModel) -> list[int]:
    chunk, overlap = model.chunk_samples()
    step = chunk - overlap
    # one chunk, just over one, the last chunk pulled back by a little / by half a step / by almost a step
    return [chunk // 2, chunk, chunk + 1, chunk + step // 2, chunk + 2 * step - 7, 3 * chunk + step // 3]


@pytest.mark.parametrize("name", ["speech", "sensor"])
@pytest.mark.parametrize("rate_factor", [1, 3])
def test_chunk_plan_passes_a_pass_through_model_exactly_seams_and_edges_included(name, rate_factor):
    model = _probe_model(name, "identity")
    rate = (model.config.sample_rate or 1000) * rate_factor
    for n in _lengths(model):
        x = np.random.default_rng(n).standard_normal(n * rate_factor).astype(np.float64) * 0.1
        y = model.denoise(x, sample_rate=rate, steps=1)
        assert y.shape == x.shape
        # resampling there and back is not exact near the ends; the seams must be invisible everywhere
        assert np.abs(y - x).max() < (1e-4 if rate_factor == 1 else 2e-2), (name, n)


@pytest.mark.parametrize("name", ["speech", "sensor"])
def test_first_and_last_chunk_get_the_same_treatment_as_the_middle(name):
    model = _probe_model(name, "level")
    rate = model.config.sample_rate or 1000
    quarter = rate // 4
    for n in _lengths(model)[2:]:  # plans of two chunks or more
        x = np.random.default_rng(n).standard_normal(n) * 0.1
        y = model.denoise(x, sample_rate=rate, steps=1)

        def gain(part):
            return float(np.sqrt(np.mean(y[part] ** 2) / np.mean(x[part] ** 2)))

        middle = gain(slice(n // 2 - quarter // 2, n // 2 + quarter // 2))
        for edge in (slice(0, quarter), slice(n - quarter, n)):
            assert gain(edge) == pytest.approx(middle, rel=0.08), (name, n, edge)


def test_top_band_is_carried_through_at_the_models_gain():
    rng = np.random.default_rng(0)
    stft = make_tiny_config().stft
    rows = rng.standard_normal((1, 48000)) * 0.1
    seen = sigdenoise.preprocess.resample(sigdenoise.preprocess.resample(rows, orig_sr=48000, target_sr=16000),
                                          orig_sr=16000, target_sr=48000, length=48000)
    # a model that kept everything it saw: the full band comes back
    kept = seen + carry_top_band(rows, seen, sample_rate=48000, model_sr=16000, stft=stft)
    assert np.abs(kept - rows)[:, 1000:-1000].max() < 1e-3
    # a model that removed everything: nothing of the top band comes back
    assert np.abs(carry_top_band(rows, np.zeros_like(rows), sample_rate=48000, model_sr=16000, stft=stft)).max() < 1e-9


def test_48k_input_keeps_its_band_above_the_models_nyquist():
    model = _probe_model("speech", "identity")
    t = np.arange(48000) / 48000
    x = 0.1 * np.sin(2 * np.pi * 1000 * t) + 0.05 * np.sin(2 * np.pi * 11000 * t)
    y = model.denoise(x, sample_rate=48000, steps=1)
    spectrum = np.abs(np.fft.rfft(y[4800:-4800]))
    freqs = np.fft.rfftfreq(len(y) - 9600, 1 / 48000)
    high = spectrum[(freqs > 10500) & (freqs < 11500)].max()
    reference = np.abs(np.fft.rfft(x[4800:-4800]))[(freqs > 10500) & (freqs < 11500)].max()
    assert high == pytest.approx(reference, rel=0.05)


def test_requests_that_cannot_work_say_what_to_do(tiny_model):
    x = np.random.default_rng(0).standard_normal(4000) * 0.1
    with pytest.raises(AdviceError, match="num_samples") as err:
        tiny_model.denoise(x, sample_rate=16000, return_std=True)
    assert "--uncertainty" in err.value.for_front_end("cli")
    with pytest.raises(AdviceError, match="time-major"):
        tiny_model.denoise(np.zeros((100000, 2)), sample_rate=16000)
    with pytest.raises(ValueError, match="steps"):
        tiny_model.denoise(x, sample_rate=16000, steps=10 ** 6)
    with pytest.raises(ValueError, match="sample_rate"):
        tiny_model.denoise(x, sample_rate=True)
    with pytest.raises(ValueError, match="sample_rate"):
        tiny_model.denoise(x, sample_rate=1e300)
    with pytest.raises(TypeError, match="complex"):
        tiny_model.denoise(x.astype(np.complex64), sample_rate=16000)
    # numpy scalars are rates like any other
    assert tiny_model.denoise(x, sample_rate=np.int64(16000), steps=1).shape == x.shape


def test_an_uncalibrated_model_offers_no_band(tiny_model):
    uncalibrated = DenoiseModel(tiny_model.network, tiny_model.config, metadata={}, device="cpu")
    x = np.random.default_rng(0).standard_normal(4000) * 0.1
    with pytest.raises(AdviceError, match="not calibrated"):
        uncalibrated.denoise(x, sample_rate=16000, num_samples=4, return_std=True)
    assert tiny_model.band_calibrated


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float32, np.float64])
def test_output_keeps_the_input_dtype(tiny_model, dtype):
    x = np.random.default_rng(0).standard_normal(4000) * 0.1
    x = (x * 20000).astype(dtype) if np.issubdtype(dtype, np.integer) else x.astype(dtype)
    y = tiny_model.denoise(x, sample_rate=16000, steps=1)
    assert y.dtype == x.dtype and y.shape == x.shape
    t = tiny_model.denoise(torch.from_numpy(x), sample_rate=16000, steps=1)
    assert t.dtype == torch.from_numpy(x).dtype


def test_progress_reports_often_for_one_long_input(tiny_model):
    seen = []
    x = np.random.default_rng(0).standard_normal(16000 * 12).astype(np.float32) * 0.1
    tiny_model.denoise(x, sample_rate=16000, steps=1, progress=seen.append)
    assert len(seen) >= 5 and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)


def test_output_warnings_flag_an_erased_recording_and_nothing_else():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(16000 * 5) * 0.1
    assert output_warnings(x, 0.5 * x, 16000) == []
    assert "quieter" in output_warnings(x, 1e-3 * x, 16000)[0]
    mostly_gone = x.copy()
    mostly_gone[: 16000 * 4] *= 1e-3
    assert "seconds" in output_warnings(x, mostly_gone, 16000)[0]
    assert "full scale" in output_warnings(x, np.clip(x * 20, -1, 1), 16000)[0]


def test_output_check_in_pieces_says_what_the_whole_signal_says():
    from sigdenoise.sanity import OutputCheck

    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 1000 * 9 + 17)) * 0.1 + np.array([[3.0], [-1.0]])  # offsets removed at the end
    x[0, 100:400] = np.nan
    mostly_gone = x.copy()
    mostly_gone[:, 1500:] = mostly_gone[:, 1500:] * 1e-3 + np.array([[3.0], [-1.0]]) * (1 - 1e-3)
    for y in (np.nan_to_num(x, nan=3.0) * 0.5, mostly_gone, np.nan_to_num(x, nan=3.0) * 1e-3):
        whole = output_warnings(x, y, 1000, audio=False)
        check = OutputCheck(1000, audio=False)
        cuts = [0, 1, 999, 1000, 2500, 7001, x.shape[-1]]
        for a, b in zip(cuts[:-1], cuts[1:]):
            check.add(x[:, a:b], y[:, a:b])
        assert check.notes() == whole
    assert "seconds" in output_warnings(x, mostly_gone, 1000, audio=False)[0]


def test_a_progress_callback_does_not_change_the_draws(tiny_model):
    """With a callback the chunks go through in smaller batches; each chunk has its own noise generator."""
    x = np.random.default_rng(3).standard_normal(16000 * 9).astype(np.float32) * 0.1
    quiet = tiny_model.denoise(x, sample_rate=16000, steps=3)
    reported = tiny_model.denoise(x, sample_rate=16000, steps=3, progress=lambda f: None)
    np.testing.assert_allclose(reported, quiet, atol=1e-6)
