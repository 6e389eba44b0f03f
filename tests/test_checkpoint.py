"""Checkpoints: exact round trips, and clear errors for corrupt, missing or cut files."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import sigdenoise
from sigdenoise.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

from .conftest import tiny_net


def test_checkpoint_round_trip_is_exact(tmp_path):
    net = tiny_net(3)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, net.state_dict(), net.config, data={"source": "unit test"})
    state, config, meta = load_checkpoint(path)
    assert config == net.config and meta["data"] == {"source": "unit test"}
    for key, value in net.state_dict().items():
        assert torch.equal(state[key], value)


def test_corrupt_and_missing_checkpoints_get_clear_errors(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        sigdenoise.load_model(bad)
    with pytest.raises(CheckpointError, match="no model named"):
        sigdenoise.load_model("no-such-model")
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(CheckpointError, match="without a sigdenoise config"):
        sigdenoise.load_model(plain)


def test_truncated_checkpoint_is_refused(tmp_path):
    net = tiny_net()
    path = tmp_path / "t.safetensors"
    save_checkpoint(path, net.state_dict(), net.config)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError):
        sigdenoise.load_model(path)


# ------------------------------------------------------------------ API contract
@pytest.mark.parametrize("shape", [(8000,), (2, 8000), (3, 2, 8000)])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_denoise_keeps_type_shape_dtype(tiny_model, shape, kind):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 0.1
    if kind == "torch":
        x = torch.from_numpy(x)
    y = tiny_model.denoise(x, sample_rate=16000, steps=1)
    assert type(y) is type(x) and tuple(y.shape) == shape and y.dtype == x.dtype
