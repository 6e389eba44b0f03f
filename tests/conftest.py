"""Shared fixtures: tiny models built in seconds, so no test needs the shipped weights."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_configure(config):
    import torch

    # Tiny models gain nothing from threads, and oversubscribed OpenMP threads crawl on 2 busy cores.
    torch.set_num_threads(1)


def make_tiny_config(task: str = "speech", sample_rate: int = 16000):
    from sigdenoise.config import BridgeConfig, ModelConfig, NetConfig
    from sigdenoise.preprocess import StftConfig

    return ModelConfig(task=task, sample_rate=sample_rate, stft=StftConfig(n_fft=62, hop_length=16),
                       net=NetConfig(channels=(4, 8), bottleneck=16, dilations=(1, 2), emb_dim=16),
                       bridge=BridgeConfig(sigma_max=0.5, default_steps=2), chunk_seconds=1.0, overlap_seconds=0.125)


def save_tiny_model(path, task: str = "speech", sample_rate: int = 16000, seed: int = 0):
    import torch

    from sigdenoise.checkpoint import save_checkpoint
    from sigdenoise.diffusion import BridgeDenoiser

    torch.manual_seed(seed)
    config = make_tiny_config(task, sample_rate)
    net = BridgeDenoiser(config)
    # marked calibrated (scale 1) so the tests can ask for its band; uncalibrated models offer none
    save_checkpoint(path, net.state_dict(), config, data={"kind": "tiny test model"},
                    training={"calibration": {"scale": 1.0, "data": "none: an untrained test model"}})
    return path


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """A folder with untrained tiny ``speech`` and ``sensor`` models; also set as SIGDENOISE_CHECKPOINTS."""
    folder = tmp_path_factory.mktemp("checkpoints")
    save_tiny_model(folder / "speech.safetensors", "speech", 16000)
    save_tiny_model(folder / "sensor.safetensors", "sensor", 1000)
    return folder


@pytest.fixture
def tiny_model_env(tiny_checkpoints, monkeypatch):
    monkeypatch.setenv("SIGDENOISE_CHECKPOINTS", str(tiny_checkpoints))
    return tiny_checkpoints


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoints):
    import sigdenoise

    return sigdenoise.load_model(tiny_checkpoints / "speech.safetensors", device="cpu")


def tiny_net(seed=0):
    from sigdenoise.diffusion import BridgeDenoiser

    torch.manual_seed(seed)
    return BridgeDenoiser(make_tiny_config())


def toy_batch(rng, n=8, length=4000):
    t = np.arange(length) / 16000
    clean = np.stack([0.05 * np.sin(2 * np.pi * rng.uniform(200, 900) * t) for _ in range(n)])
    noisy = clean + 0.03 * rng.standard_normal(clean.shape)
    return torch.tensor(clean, dtype=torch.float32), torch.tensor(noisy, dtype=torch.float32)
