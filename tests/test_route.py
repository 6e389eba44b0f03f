"""Routed sensor models: two networks in one checkpoint, each row to one of them by a blind SNR estimate."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import sigdenoise
from sigdenoise import calibrate as calibrate_module
from sigdenoise.checkpoint import CheckpointError, save_checkpoint, save_model
from sigdenoise.cli import main as cli_main
from sigdenoise.diffusion import BridgeDenoiser
from sigdenoise.steps import blind_snr_db, runs

from .conftest import make_tiny_config

RATE = 1000


def _save(path, *, seed: int, n_fft: int, scale: float) -> None:
    torch.manual_seed(seed)
    config = make_tiny_config("sensor", 0)
    config = dataclasses.replace(config, stft=dataclasses.replace(config.stft, n_fft=n_fft), uncertainty_scale=scale)
    save_checkpoint(path, BridgeDenoiser(config).state_dict(), config, data={"kind": f"tiny, seed {seed}"},
                    training={"calibration": {"scale": scale}})


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two untrained tiny sensor models (the second with a longer STFT) and their routed join (15 dB)."""
    folder = tmp_path_factory.mktemp("route")
    _save(folder / "high.safetensors", seed=0, n_fft=62, scale=1.0)
    _save(folder / "low.safetensors", seed=1, n_fft=126, scale=3.0)
    high = sigdenoise.load_model(folder / "high.safetensors", device="cpu")
    low = sigdenoise.load_model(folder / "low.safetensors", device="cpu")
    routed = high.with_config(dataclasses.replace(high.config, route_below_db=15.0))
    routed.low_snr = low
    save_model(routed, folder / "routed.safetensors")
    return folder, high, low


def _rows(seed: int = 0, n: int = 6000) -> tuple[np.ndarray, np.ndarray]:
    """A slow tone, nearly clean in row 0 and buried in white noise in row 1."""
    rng = np.random.default_rng(seed)
    clean = np.sin(2 * np.pi * np.arange(n) / 250)
    return clean, np.stack([clean + 0.003 * rng.standard_normal(n), clean + rng.standard_normal(n)])


def test_the_blind_estimate_tells_a_clean_trace_from_a_noisy_one_and_skips_gaps():
    clean, noisy = _rows()
    est = blind_snr_db(noisy)
    assert est[0] > 30 and -6 < est[1] < 3  # the noisy row holds as much noise as signal
    holed = noisy.copy()
    holed[0, 100:200] = np.nan
    assert blind_snr_db(holed)[0] > 30 and blind_snr_db(np.full((1, 10), np.nan))[0] == np.inf


def test_runs_cut_rows_into_groups_one_network_takes():
    flags = np.array([False, False, True, True, True, False])
    assert runs(flags, 2) == [(0, 2), (2, 4), (4, 5), (5, 6)]


def test_a_routed_checkpoint_loads_both_networks_and_sends_each_row_to_one(pair):
    folder, high, low = pair
    routed = sigdenoise.load_model(folder / "routed.safetensors", device="cpu")
    assert routed.low_snr is not None and routed.low_snr.config.stft.n_fft == 126
    assert routed.band_calibrated and routed.config.route_below_db == 15.0
    _, x = _rows()
    mean, std = routed.denoise(x, sample_rate=RATE, num_samples=3, return_std=True)
    high_mean, high_std = high.denoise(x, sample_rate=RATE, num_samples=3, return_std=True)
    low_mean, low_std = low.denoise(x, sample_rate=RATE, num_samples=3, return_std=True)
    np.testing.assert_allclose(mean[0], high_mean[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean[1], low_mean[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std[1], low_std[1], rtol=1e-5, atol=1e-6)  # the low model's own band scale
    assert not np.allclose(mean[1], high_mean[1])
    info = routed.info()
    assert info["low_snr"]["config"]["stft"]["n_fft"] == 126
    assert info["parameters"] == sum(p.numel() for m in (high, low) for p in m.network.parameters())


def test_a_routed_stream_matches_offline_where_the_windows_route_as_the_rows(pair):
    folder, _, _ = pair
    routed = sigdenoise.load_model(folder / "routed.safetensors", device="cpu")
    _, x = _rows(seed=2, n=9000)
    offline = routed.denoise(x, sample_rate=RATE)
    stream = routed.stream(sample_rate=RATE, channels=2, level=np.sqrt(x.var(-1)), offset=x.mean(-1))
    rng = np.random.default_rng(0)
    out, at = [], 0
    while at < x.shape[-1]:
        size = int(rng.integers(1, 400))
        out.append(stream.process(x[:, at:at + size]))
        at += size
    out.append(stream.flush())
    streamed = np.concatenate(out, axis=-1)
    assert streamed.shape == x.shape
    for row in range(2):
        error = np.sum((streamed[row] - offline[row]) ** 2) / np.sum(offline[row] ** 2)
        assert 10 * np.log10(1 / max(error, 1e-30)) > 60, row


def test_a_routed_file_without_its_second_network_is_refused(pair, tmp_path):
    folder, high, _ = pair
    with pytest.raises(ValueError, match="low-SNR network"):
        save_checkpoint(tmp_path / "x.safetensors", high.network.state_dict(),
                        dataclasses.replace(high.config, route_below_db=10.0))
    with pytest.raises(CheckpointError, match="routed model"):
        calibrate_module.calibrate(folder / "routed.safetensors", tmp_path / "y.safetensors")


def test_cli_route_fits_the_threshold_on_training_windows_and_info_shows_it(pair, tmp_path, monkeypatch, capsys):
    folder, _, _ = pair
    clean, x = _rows(seed=3, n=3000)
    windows = [(clean, row, float(RATE)) for row in x]  # stands in for the training split (no data in CI)
    monkeypatch.setattr(calibrate_module, "recipe_windows", lambda **_: windows)
    out = tmp_path / "routed.safetensors"
    assert cli_main(["route", str(folder / "high.safetensors"), str(folder / "low.safetensors"), "-o", str(out)]) == 0
    routed = sigdenoise.load_model(out, device="cpu")
    summary = routed.metadata["training"]["routing"]
    assert routed.config.route_below_db == summary["route_below_db"] and summary["windows"] == 4
    assert cli_main(["info", str(out)]) == 0
    assert "routed" in capsys.readouterr().out
    assert cli_main(["route", str(out), str(folder / "low.safetensors"), "-o", str(tmp_path / "z.safetensors")]) != 0
    assert "already routed" in capsys.readouterr().err and not (tmp_path / "z.safetensors").exists()


def weights(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.network.parameters()])


def test_adapting_a_routed_model_tunes_the_network_its_data_goes_to(pair, tmp_path):
    folder, _, _ = pair
    routed = sigdenoise.load_model(folder / "routed.safetensors", device="cpu")
    rng = np.random.default_rng(4)
    logs = [np.sin(2 * np.pi * np.arange(3000) / 250) + rng.standard_normal(3000) for _ in range(5)]  # noisy
    adapted = routed.adapt(logs, sample_rate=RATE, max_steps=2, keep_worse=True)
    assert torch.equal(weights(adapted), weights(routed))  # the high-SNR network is kept
    assert not torch.equal(weights(adapted.low_snr), weights(routed.low_snr))
    assert adapted.metadata["training"]["adapted"]["network"] == "the low-SNR one"
    path = tmp_path / "adapted.safetensors"
    sigdenoise.adapt.save_adapted(adapted, path)
    loaded = sigdenoise.load_model(path, device="cpu")
    assert torch.equal(weights(loaded.low_snr), weights(adapted.low_snr))
    assert loaded.config.route_below_db == 15.0
