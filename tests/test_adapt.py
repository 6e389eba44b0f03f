"""Adapting a model to the user's own noisy data: a new model, the old one untouched, an honest verdict."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

import sigdenoise
from sigdenoise import adapt as adapt_module
from sigdenoise.adapt import AdaptSettings, AdaptWorseError, adapt_model, recordings_from_arrays, save_adapted
from sigdenoise.cli import main as cli_main


def _noisy_tones(count: int, seconds: float, rate: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    return [(0.1 * np.sin(2 * np.pi * rng.uniform(200, 600) * t) + 0.03 * rng.standard_normal(t.size)).astype(np.float32)
            for _ in range(count)]


def _weights(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.network.parameters()])


def test_adapt_returns_a_new_model_and_leaves_the_original_alone(tiny_model):
    before = _weights(tiny_model).clone()
    adapted = tiny_model.adapt(_noisy_tones(6, 1.5, 16000), sample_rate=16000, max_steps=3, segment_seconds=0.5,
                               keep_worse=True)
    assert torch.equal(_weights(tiny_model), before)
    assert not torch.equal(_weights(adapted), before)
    report = adapted.adapt_report
    assert report.steps == 3 and report.holdout_segments > 0 and np.isfinite(report.base_score)
    record = adapted.metadata["training"]["adapted"]
    assert record["method"].startswith("remix") and len(record["inputs"]) == 6
    assert record["inputs"][0]["seconds"] == 1.5 and len(record["inputs"][0]["sha256"]) == 64
    y = adapted.denoise(_noisy_tones(1, 1.0, 16000)[0], sample_rate=16000)
    assert y.shape == (16000,) and np.isfinite(y).all()


def test_a_worse_result_is_refused_unless_asked_for(tiny_model, monkeypatch):
    scores = iter([3.0, 1.0])
    monkeypatch.setattr(adapt_module, "self_consistency", lambda *a, **k: (next(scores), None))
    with pytest.raises(AdaptWorseError, match="worse") as err:
        tiny_model.adapt(_noisy_tones(4, 1.0, 16000), sample_rate=16000, max_steps=1, segment_seconds=0.5)
    assert err.value.report.adapted_score == 1.0 and err.value.model is not None


def test_a_killed_run_resumes_from_its_state(tiny_model, tmp_path):
    recordings = recordings_from_arrays(_noisy_tones(4, 1.0, 16000), 16000)
    state = tmp_path / "state.safetensors"
    _, first = adapt_model(tiny_model, recordings, AdaptSettings(max_steps=2, segment_seconds=0.5), state_path=state)
    assert first.steps == 2 and state.exists()
    _, second = adapt_model(tiny_model, recordings, AdaptSettings(max_steps=4, segment_seconds=0.5), state_path=state)
    assert second.steps == 4  # two more, not four


def test_an_adapted_sensor_model_gets_its_band_recalibrated_and_loads_as_a_checkpoint(tiny_checkpoints, tmp_path):
    model = sigdenoise.load_model(tiny_checkpoints / "sensor.safetensors", device="cpu")
    logs = _noisy_tones(6, 3.0, 1000, seed=1)
    adapted = model.adapt(logs, sample_rate=1000, max_steps=2, keep_worse=True)
    calibration = adapted.metadata["training"]["calibration"]
    assert calibration["uncertainty_scale"] == adapted.config.uncertainty_scale > 0
    assert calibration["uncertainty_scale"] == pytest.approx(
        model.config.uncertainty_scale * calibration["probe_scale_adapted"] / calibration["probe_scale_base"])
    path = tmp_path / "adapted.safetensors"
    save_adapted(adapted, path)
    loaded = sigdenoise.load_model(path, device="cpu")
    assert loaded.band_calibrated and loaded.config.uncertainty_scale == adapted.config.uncertainty_scale
    assert torch.equal(_weights(loaded), _weights(adapted))
    mean, std = loaded.denoise(logs[0], sample_rate=1000, num_samples=4, return_std=True)
    assert mean.shape == std.shape == logs[0].shape


@pytest.mark.slow
def test_cli_adapts_on_files_skips_what_it_cannot_read_and_writes_nothing_worse(tiny_checkpoints, tmp_path,
                                                                                   monkeypatch, capsys):
    folder = tmp_path / "takes"
    folder.mkdir()
    for k, x in enumerate(_noisy_tones(5, 1.5, 16000)):
        sf.write(folder / f"take{k}.wav", x, 16000)
    (folder / "broken.wav").write_bytes(b"not audio")
    out = tmp_path / "mine.safetensors"
    base = tiny_checkpoints / "speech.safetensors"
    scores = iter([1.0, 2.0])
    monkeypatch.setattr(adapt_module, "self_consistency", lambda *a, **k: (next(scores), None))
    assert cli_main(["adapt", str(folder), "-o", str(out), "--model", str(base), "--minutes", "0.05"]) == 0
    err = capsys.readouterr()
    assert "broken.wav" in err.err and "better" in err.out
    assert sigdenoise.load_model(out, device="cpu").metadata["training"]["adapted"]["inputs"][0]["name"].endswith(".wav")
    assert not list(tmp_path.glob(".mine.safetensors.*"))  # the run's state is gone once the model is written
    assert cli_main(["info", str(out)]) == 0
    assert "adapted" in capsys.readouterr().out
    # a worse result: nothing written
    scores = iter([2.0, 1.0])
    monkeypatch.setattr(adapt_module, "self_consistency", lambda *a, **k: (next(scores), None))
    worse = tmp_path / "worse.safetensors"
    assert cli_main(["adapt", str(folder), "-o", str(worse), "--model", str(base), "--minutes", "0.05"]) == 1
    assert not worse.exists() and "nothing written" in capsys.readouterr().err
