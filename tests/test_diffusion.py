"""The bridge and its denoiser: marginals, losses, the pass-through start, the mains map."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from sigdenoise.checkpoint import save_checkpoint
from sigdenoise.diffusion import BridgeDenoiser, bridge_loss, bridge_marginal, complex_noise, si_sdr, snr
from sigdenoise.sampling import bridge_times

from .conftest import make_tiny_config, tiny_net, toy_batch


def test_bridge_marginal_ends_at_clean_and_noisy():
    x0 = complex_noise((2, 5, 7))
    y = complex_noise((2, 5, 7))
    eps = complex_noise((2, 5, 7))
    assert torch.allclose(bridge_marginal(x0, y, torch.zeros(2), eps, 0.5), x0)
    assert torch.allclose(bridge_marginal(x0, y, torch.ones(2), eps, 0.5), y)
    assert torch.allclose(bridge_times(2), torch.tensor([1.0, 0.5, 0.0]))


def test_tiny_model_loss_falls():
    net = tiny_net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(25):
        clean, noisy = toy_batch(rng, n=4, length=2000)
        loss, _ = bridge_loss(net, clean, noisy, t_one_prob=0.5, complex_weight=0.3, magnitude_weight=0.7,
                              sisdr_weight=0.002, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_snr_loss_charges_a_wrong_level_that_si_sdr_forgives():
    clean = torch.sin(torch.arange(4000) / 9.0)[None] * 0.1
    shrunk = 0.8 * clean
    assert si_sdr(shrunk, clean).item() > 60
    assert snr(shrunk, clean).item() == pytest.approx(-20 * np.log10(0.2), abs=0.01)  # 14 dB
    net = tiny_net()
    noisy = clean + 0.05 * torch.randn(1, 4000, generator=torch.Generator().manual_seed(0))
    _, parts = bridge_loss(net, clean, noisy, t_one_prob=1.0, complex_weight=0.3, magnitude_weight=0.7,
                           sisdr_weight=0.002, waveform_loss="snr")
    assert set(parts) == {"loss", "complex", "magnitude", "snr"}


def test_si_sdr_reads_the_error_level_it_is_given():
    clean = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0))
    error = torch.randn(2, 16000, generator=torch.Generator().manual_seed(1))
    error = error - (error * clean).sum(-1, keepdim=True) / clean.pow(2).sum(-1, keepdim=True) * clean  # orthogonal
    noisy = 3.0 * (clean + 0.1 * error * clean.norm(dim=-1, keepdim=True) / error.norm(dim=-1, keepdim=True))
    assert torch.allclose(si_sdr(noisy, clean), torch.full((2,), 20.0), atol=0.01)  # scale-invariant: x3 is free
    assert (si_sdr(clean, clean) > 60).all()


def test_untrained_model_with_mask_offset_passes_input_through():
    import dataclasses

    config = dataclasses.replace(make_tiny_config(), mask_offset=1.0, log_magnitude_input=True,
                                 net=dataclasses.replace(make_tiny_config().net, norm="batch"))
    net = BridgeDenoiser(config).eval()
    _, noisy = toy_batch(np.random.default_rng(0), n=2, length=3000)
    y = net.encode(noisy)
    keep = y.shape[-2] - net.crop  # the cropped top bins are attenuated on purpose
    est = net(y, torch.ones(2), y)
    assert torch.allclose(est[..., :keep, :], y[..., :keep, :], atol=1e-6)


def test_training_si_sdr_saturates_so_exact_examples_do_not_dominate():
    clean = torch.randn(2, 4000, generator=torch.Generator().manual_seed(0))
    almost = (clean + 1e-6 * torch.randn(2, 4000, generator=torch.Generator().manual_seed(1))).requires_grad_()
    loss = si_sdr(almost, clean, max_db=30.0).sum()
    loss.backward()
    assert loss.item() < 2 * 30.0 + 1e-3
    assert almost.grad.abs().max() < 1.0  # unbounded, this gradient is ~1e5 here
    assert si_sdr(clean, clean).min() > 60  # the metric itself stays unbounded


def test_mains_map_marks_hum_lines_and_their_aliases():
    from sigdenoise.diffusion import mains_map

    lines = mains_map(torch.tensor([1000.0, 64.0, 0.0]), n_fft=126, freq_bins=64)
    assert lines.shape == (3, 64) and lines.max() <= 1.0
    assert lines[0, 6] > 0.9 and lines[0, 8] > 0.5  # 50 Hz -> bin 6.3, 60 Hz -> bin 7.56 at 1 kHz
    assert lines[0, 2] < 0.01 and lines[0, 3] < 0.01  # 16 and 24 Hz: no line near
    assert lines[1, 28] > 0.9 and lines[1, 8] > 0.9  # at 64 Hz, 50 Hz folds to 14 Hz (bin 27.6), 60 Hz to 4 Hz (7.9)
    assert lines[2].abs().max() == 0  # unknown rate: no map


def test_model_with_mains_map_needs_and_uses_the_rate(tmp_path):
    import dataclasses

    import sigdenoise

    config = dataclasses.replace(make_tiny_config("sensor", 0), mains_map_input=True)
    torch.manual_seed(0)
    net = BridgeDenoiser(config)
    _, noisy = toy_batch(np.random.default_rng(0), n=2, length=2000)
    y = net.encode(noisy)
    with pytest.raises(ValueError, match="sample rates"):
        net(y, torch.ones(2), y)
    a = net(y, torch.ones(2), y, torch.tensor([1000.0, 1000.0]))
    b = net(y, torch.ones(2), y, torch.tensor([64.0, 64.0]))
    assert not torch.allclose(a, b)
    save_checkpoint(tmp_path / "m.safetensors", net.state_dict(), config)
    model = sigdenoise.load_model(tmp_path / "m.safetensors", device="cpu")
    x = np.sin(np.arange(3000) / 10.0)
    out_1k, out_64 = model.denoise(x, sample_rate=1000.0), model.denoise(x, sample_rate=64.0)
    assert out_1k.shape == x.shape and not np.allclose(out_1k, out_64)
