"""The pipeline around the network: lengths at every rate, chunk seams and edges, input checks, dtypes."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

import sigdenoise
from sigdenoise.checkpoint import read_metadata, save_checkpoint
from sigdenoise.diffusion import BridgeDenoiser
from sigdenoise.options import AdviceError
from sigdenoise.pipeline import DenoiseModel
from sigdenoise.sanity import output_warnings
from sigdenoise.steps import carry_top_band

from .conftest import make_tiny_config, toy_batch

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


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000])
def test_denoise_any_rate(tiny_model, rate):
    x = np.random.default_rng(1).standard_normal((2, rate)).astype(np.float64) * 0.1
    y = tiny_model.denoise(x, sample_rate=rate, steps=1)
    assert y.shape == x.shape and y.dtype == np.float64 and np.isfinite(y).all()


def test_same_seed_same_output_and_strength_zero_is_identity(tiny_model):
    x = np.random.default_rng(2).standard_normal(12000).astype(np.float32) * 0.1
    a = tiny_model.denoise(x, sample_rate=16000, seed=5)
    b = tiny_model.denoise(x, sample_rate=16000, seed=5)
    c = tiny_model.denoise(x, sample_rate=16000, seed=6)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.allclose(tiny_model.denoise(x, sample_rate=16000, strength=0.0), x, atol=1e-6)


def test_posterior_mean_and_std(tiny_model):
    x = np.random.default_rng(3).standard_normal(8000).astype(np.float32) * 0.1
    mean, std = tiny_model.denoise(x, sample_rate=16000, num_samples=4, return_std=True)
    assert mean.shape == std.shape == x.shape and (std >= 0).all() and std.max() > 0


def test_several_samples_never_run_the_deterministic_single_step(tiny_model):
    x = np.random.default_rng(3).standard_normal(8000).astype(np.float32) * 0.1
    one_step = dataclasses.replace(tiny_model.config, bridge=dataclasses.replace(tiny_model.config.bridge,
                                                                                 default_steps=1))
    model = sigdenoise.DenoiseModel(tiny_model.network, one_step, metadata=tiny_model.metadata, device="cpu")
    assert model.resolve_steps(None) == 1 and model.resolve_steps(None, num_samples=4) == 2
    _, std = model.denoise(x, sample_rate=16000, num_samples=4, return_std=True)
    assert std.max() > 0
    with pytest.raises(ValueError, match="steps >= 2"):
        model.denoise(x, sample_rate=16000, steps=1, num_samples=4)


def test_batch_of_equal_length_signals_matches_one_by_one(tiny_model):
    x = np.random.default_rng(4).standard_normal((2, 1, 8000)).astype(np.float32) * 0.1
    together = tiny_model.denoise(x, sample_rate=16000, eta=0.0)
    alone = np.stack([tiny_model.denoise(row, sample_rate=16000, eta=0.0) for row in x])
    assert np.allclose(together, alone, atol=1e-5)


def test_bad_inputs_get_clear_errors(tiny_model):
    with pytest.raises(ValueError, match="empty"):
        tiny_model.denoise(np.zeros(0), sample_rate=16000)
    with pytest.raises(ValueError, match="repair_nan=True"):
        tiny_model.denoise(np.array([0.1, np.nan, 0.2] * 100), sample_rate=16000)
    with pytest.raises(ValueError, match="sample_rate"):
        tiny_model.denoise(np.zeros(100), sample_rate=0)
    with pytest.raises(ValueError, match="shape"):
        tiny_model.denoise(np.zeros((1, 1, 1, 100)), sample_rate=16000)
    with pytest.raises(ValueError, match="strength"):
        tiny_model.denoise(np.zeros(100), sample_rate=16000, strength=2)


def test_nan_repair_returns_mask(tiny_model):
    x = np.random.default_rng(6).standard_normal(4000) * 0.1
    x[100:120] = np.nan
    result = tiny_model.denoise_detailed(x, sample_rate=16000, repair_nan=True)
    assert np.isfinite(result.mean).all() and result.repaired[100:120].all() and result.repaired.sum() == 20


def test_silent_input_stays_silent(tiny_model):
    assert np.array_equal(tiny_model.denoise(np.zeros(4000), sample_rate=16000), np.zeros(4000))


def test_batch_norm_model_output_does_not_depend_on_batch_or_chunk_extent():
    import dataclasses

    config = dataclasses.replace(make_tiny_config(), net=dataclasses.replace(make_tiny_config().net, norm="batch"))
    torch.manual_seed(0)
    net = BridgeDenoiser(config)
    with torch.no_grad():  # non-trivial running statistics, as after training
        for buf in net.buffers():
            if buf.dtype.is_floating_point:
                buf.uniform_(0.5, 1.5)
    net.eval()
    _, noisy = toy_batch(np.random.default_rng(1), n=3, length=4000)
    y = net.encode(noisy)
    t = torch.ones(3)
    whole = net(y, t, y)
    assert torch.allclose(net(y[:1], t[:1], y[:1]), whole[:1], atol=1e-5)
    # per-frame ops only within the receptive field: a longer context leaves frames far from the cut alone
    part = net(y[..., :100], t, y[..., :100])
    assert torch.allclose(part[..., :40], whole[..., :40], atol=1e-4)


def test_a_models_default_strength_applies_when_a_call_names_none(tmp_path):
    from sigdenoise.cli import main as cli_main

    torch.manual_seed(0)
    config = dataclasses.replace(make_tiny_config(), default_strength=0.5)
    save_checkpoint(tmp_path / "half.safetensors", BridgeDenoiser(config).state_dict(), config)
    model = sigdenoise.load_model(tmp_path / "half.safetensors", device="cpu")
    x = np.random.default_rng(4).standard_normal(8000) * 0.1
    full = model.denoise(x, sample_rate=16000, strength=1.0)
    np.testing.assert_allclose(model.denoise(x, sample_rate=16000), 0.5 * full + 0.5 * x, atol=1e-6)
    np.testing.assert_allclose(model.denoise(x, sample_rate=16000, strength=0.0), x, atol=1e-6)  # still overridable
    with pytest.raises(ValueError, match="default_strength"):
        dataclasses.replace(config, default_strength=1.5)
    with pytest.raises(SystemExit):  # the command line refuses a strength outside [0, 1] before any work
        cli_main(["denoise", str(tmp_path), "-o", str(tmp_path / "out"), "--strength", "1.5"])


def test_remove_hum_false_hides_the_mains_lines_from_a_sensor_model(tmp_path, tiny_model):
    torch.manual_seed(0)
    config = dataclasses.replace(make_tiny_config("sensor", 0), mains_map_input=True)
    save_checkpoint(tmp_path / "hum.safetensors", BridgeDenoiser(config).state_dict(), config)
    model = sigdenoise.load_model(tmp_path / "hum.safetensors", device="cpu")
    x = np.random.default_rng(6).standard_normal(2000)
    removed = model.denoise(x, sample_rate=500.0, steps=1)
    kept = model.denoise(x, sample_rate=500.0, steps=1, remove_hum=False)
    assert not np.allclose(removed, kept)  # the network was told of no mains lines
    # the same as a rate the map knows nothing of, whatever the true rate
    np.testing.assert_allclose(kept, model.denoise(x, sample_rate=1234.5, steps=1, remove_hum=False), atol=1e-6)
    voice = np.random.default_rng(7).standard_normal(8000) * 0.1  # a model without a mains map ignores it
    np.testing.assert_array_equal(tiny_model.denoise(voice, sample_rate=16000, steps=1, remove_hum=False),
                                  tiny_model.denoise(voice, sample_rate=16000, steps=1))


def test_fallback_hands_back_chunks_the_model_barely_changed():
    from sigdenoise.steps import FALLBACK_RAMP_DB, correction_db, fall_back_to_input

    rng = np.random.default_rng(0)
    x = 5.0 + np.sin(np.linspace(0, 60, 3000))[None]  # an offset must not count as signal
    y = x.copy()
    y[0, :800] += 0.3 * rng.standard_normal(800)  # a big correction in the first chunk (0-1000) only
    y[0, 800:] += 1e-3 * rng.standard_normal(2200)  # the rest: far below -25 dB, model error
    out = fall_back_to_input(x, y, (1000, 100), below_db=-25.0)  # chunks start every 900 samples
    np.testing.assert_allclose(out[0, :900], y[0, :900])
    np.testing.assert_allclose(out[0, 1000:], x[0, 1000:])
    assert np.abs(np.diff(out[0, 850:1150])).max() < 4 * np.abs(np.diff(y[0, 850:1150])).max()  # crossfaded
    # between the threshold and FALLBACK_RAMP_DB above it, input and estimate blend linearly
    db = float(correction_db(torch.from_numpy(x[0, :1000]), torch.from_numpy(y[0, :1000])))
    half = fall_back_to_input(x[:, :1000], y[:, :1000], (1000, 100), below_db=db - FALLBACK_RAMP_DB / 2)
    np.testing.assert_allclose(half, (x[:, :1000] + y[:, :1000]) / 2)


def test_suspect_samples_mark_gaps_and_saturated_rails_not_peaks_or_adc_steps():
    from sigdenoise.steps import GAP, LOWER_RAIL, UPPER_RAIL, suspect_samples

    t = np.linspace(0, 20, 2000)
    wave = np.sin(t) + 0.1 * np.sin(7.3 * t)
    clipped = np.clip(wave, -2.0, 0.8)  # only the top saturates
    clipped[100:103] = np.nan
    marks = suspect_samples(clipped[None])[0]
    assert (marks[100:103] == GAP).all()
    np.testing.assert_array_equal(marks == UPPER_RAIL, clipped >= 0.8)
    assert not (marks == LOWER_RAIL).any()  # the trough is a peak held once, not a rail
    assert not suspect_samples(wave[None]).any()
    coarse = np.round(wave * 4) / 4  # a coarse ADC: its extreme steps hold fewer samples than the next ones in
    assert not suspect_samples(coarse[None]).any()
    assert (suspect_samples(np.clip(coarse, -0.75, 2)[None])[0] == LOWER_RAIL).sum() == (coarse <= -0.75).sum()


def test_fallback_keeps_a_clean_log_as_it_came_around_its_gaps_and_rails():
    from sigdenoise.steps import suspect_samples, fall_back_to_input

    rng = np.random.default_rng(2)
    clean = np.sin(np.linspace(0, 60, 3000))
    given = np.clip(clean, -2.0, 0.9)
    given[500:560] = np.nan
    marks = suspect_samples(given[None])
    filled = given.copy()
    filled[500:560] = np.interp(np.arange(500, 560), [499, 560], [given[499], given[560]])
    estimate = clean + 1e-3 * rng.standard_normal(3000)  # a model that barely changes the rest
    estimate[500:560] = clean[500:560] + 0.5  # and fills the gap far from the straight line
    over = clean > 0.9
    under = over & (np.arange(3000) % 2 == 0)
    estimate[under] = 0.85  # and undershoots a rail at every other sample: the truth lies beyond it
    out = fall_back_to_input(filled[None], estimate[None], (1000, 100), below_db=-25.0, suspect=marks)[0]
    trusted = marks[0] == 0
    np.testing.assert_allclose(out[trusted], filled[trusted])  # nearly clean: handed back as it came
    np.testing.assert_allclose(out[500:560], estimate[500:560])  # the gap takes the estimate
    np.testing.assert_allclose(out[under], 0.9)  # never pulled inside the rail
    np.testing.assert_allclose(out[over & ~under], estimate[over & ~under])  # and kept beyond it
    # without the marks, the gap's big correction makes its chunk keep the estimate everywhere
    plain = fall_back_to_input(filled[None], estimate[None], (1000, 100), below_db=-25.0)[0]
    assert not np.allclose(plain[:900][trusted[:900]], filled[:900][trusted[:900]])


def test_fallback_setting_reaches_denoise(tiny_checkpoints):
    model = sigdenoise.load_model("sensor", device="cpu")
    x = np.sin(np.linspace(0, 40, 2000)) + 0.05 * np.random.default_rng(1).standard_normal(2000)
    raw = model.denoise(x, sample_rate=100.0)
    assert not np.allclose(raw, x)  # the untrained model does change its input
    model.config = dataclasses.replace(model.config, fallback_below_db=100.0)  # every chunk falls back
    np.testing.assert_allclose(model.denoise(x, sample_rate=100.0), x, atol=1e-6)


def test_a_clipped_log_comes_back_with_only_its_rails_changed_offline_and_streamed(tiny_checkpoints, monkeypatch):
    model = sigdenoise.load_model("sensor", device="cpu")
    model.config = dataclasses.replace(model.config, fallback_below_db=100.0)  # every chunk falls back
    # a network that widens what it is given, so its estimate crosses the rail
    monkeypatch.setattr(model, "_sample_rows", lambda scaled, **kwargs: 1.1 * scaled)
    t = np.linspace(0, 40, 3000)
    x = np.clip(np.sin(t) + 0.3 * np.sin(3.1 * t), -2.0, 0.9)
    rail = x >= 0.9
    raw = model.with_config(dataclasses.replace(model.config, fallback_below_db=None)).denoise(x, sample_rate=100.0)
    assert (raw[rail] > 0.9 + 1e-4).all()
    offline = model.denoise(x, sample_rate=100.0)
    np.testing.assert_allclose(offline[~rail], x[~rail], atol=1e-6)
    np.testing.assert_allclose(offline[rail], np.maximum(raw[rail], 0.9), atol=1e-6)  # the estimate, beyond the rail
    stream = model.stream(sample_rate=100.0)
    streamed = np.concatenate([stream.process(x), stream.flush()])
    np.testing.assert_allclose(streamed[~rail], x[~rail], atol=1e-6)
    assert (streamed[rail] >= 0.9 - 1e-6).all() and (streamed[rail] > 0.9 + 1e-4).any()


def test_speech_output_drops_the_dc_offset_a_sensor_output_keeps(tiny_model):
    import dataclasses

    rng = np.random.default_rng(3)
    x = 0.1 * rng.standard_normal(8000)
    kept = tiny_model.with_config(dataclasses.replace(tiny_model.config, keep_offset=True))
    dropped = tiny_model.with_config(dataclasses.replace(tiny_model.config, keep_offset=False))
    # the offset leaves the network's input unchanged (it is removed first), so only the hand-back differs
    np.testing.assert_allclose(kept.denoise(x + 0.3, sample_rate=16000, steps=1),
                               dropped.denoise(x + 0.3, sample_rate=16000, steps=1) + np.mean(x + 0.3), atol=1e-6)
    np.testing.assert_allclose(dropped.denoise(x + 0.3, sample_rate=16000, steps=1),
                               dropped.denoise(x, sample_rate=16000, steps=1), atol=1e-6)
    flat = np.full(4000, 0.25)  # a constant row is silence with an offset: handed back untouched either way
    np.testing.assert_array_equal(dropped.denoise(flat, sample_rate=16000), flat)


def test_shifts_average_placements_of_the_frame_grid_without_moving_the_signal(tiny_model):
    # A network that passes its input through: every placement must come back aligned with the input.
    config = dataclasses.replace(make_tiny_config(), mask_offset=1.0,
                                 net=dataclasses.replace(make_tiny_config().net, norm="batch"))
    passthrough = sigdenoise.DenoiseModel(BridgeDenoiser(config), config, device="cpu")
    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    for shifts in (1, 3, 16):
        np.testing.assert_allclose(passthrough.denoise(x, sample_rate=16000, shifts=shifts), x, atol=1e-4)

    # An untrained network: its frame-grid errors differ between placements, so the average differs.
    y = 0.1 * np.sin(2 * np.pi * 440 * np.arange(4000) / 16000)
    one = tiny_model.denoise(y, sample_rate=16000, seed=3)
    assert np.array_equal(one, tiny_model.denoise(y, sample_rate=16000, seed=3, shifts=1))
    two = tiny_model.denoise(y, sample_rate=16000, seed=3, shifts=2)
    assert two.shape == y.shape and not np.allclose(one, two)
    for bad in (0, tiny_model.config.stft.hop_length + 1, 1.5):
        with pytest.raises(ValueError, match="shifts"):
            tiny_model.denoise(y, sample_rate=16000, shifts=bad)
    with pytest.raises(ValueError, match="understate"):  # averaged samples would narrow the calibrated band
        tiny_model.denoise(y, sample_rate=16000, shifts=2, num_samples=4)
