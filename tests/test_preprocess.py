"""Round trips and exact lengths of the preparation step (resample, STFT, chunking, NaN repair)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sigdenoise.preprocess import (
    NonFiniteError, StftConfig, compress, decompress, from_spec, istft, normalise, overlap_add, plan_chunks,
    remove_dc, repair_nonfinite, resample, resampled_length, restore_level, split_chunks,
    stft, to_spec,
)

RATES = [8000, 11025, 16000, 22050, 44100, 48000, 96000]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3000), orig=st.sampled_from(RATES), target=st.sampled_from(RATES))
def test_resample_numpy_exact_length(n, orig, target):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    y = resample(x, orig_sr=orig, target_sr=target)
    assert y.shape == (resampled_length(n, orig_sr=orig, target_sr=target),)
    assert y.dtype == np.float32


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 2000), orig=st.sampled_from(RATES), target=st.sampled_from(RATES))
def test_resample_torch_exact_length_and_device(n, orig, target):
    x = torch.randn(2, n)
    y = resample(x, orig_sr=orig, target_sr=target)
    assert isinstance(y, torch.Tensor) and y.device == x.device
    assert y.shape == (2, round(n * target / orig))


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("orig,target", [(44100, 16000), (16000, 44100), (8000, 96000), (48000, 16000)])
def test_resample_keeps_a_tone(backend, orig, target):
    t = np.arange(orig) / orig
    x = np.sin(2 * np.pi * 440 * t)
    y = resample(x if backend == "numpy" else torch.from_numpy(x), orig_sr=orig, target_sr=target)
    y = np.asarray(y)
    ref = np.sin(2 * np.pi * 440 * np.arange(len(y)) / target)
    inner = slice(len(y) // 10, -len(y) // 10)  # edges see the zero padding
    assert np.max(np.abs(y[inner] - ref[inner])) < 2e-3


def test_resample_numpy_and_torch_agree():
    # Content below 0.8 x the output Nyquist, where both filters must be transparent.
    rng = np.random.default_rng(0)
    t = np.arange(44100) / 44100
    x = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in rng.uniform(50, 6400, 20))
    a = resample(x, orig_sr=44100, target_sr=16000)
    b = resample(torch.from_numpy(x), orig_sr=44100, target_sr=16000).numpy()
    assert a.shape == b.shape
    inner = slice(200, -200)
    assert np.sqrt(np.mean((a[inner] - b[inner]) ** 2)) < 0.02 * np.sqrt(np.mean(a[inner] ** 2))


def test_resample_rejects_bad_rates():
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros(10), orig_sr=0, target_sr=16000)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5000), n_fft=st.sampled_from([62, 126, 510, 512]))
def test_stft_round_trip_exact(n, n_fft):
    x = torch.from_numpy(np.random.default_rng(n).standard_normal(n))
    hop = n_fft // 4
    spec = stft(x, n_fft=n_fft, hop_length=hop)
    y = istft(spec, n_fft=n_fft, hop_length=hop, length=n)
    assert torch.linalg.norm(y - x) / torch.linalg.norm(x) < 1e-5


@settings(max_examples=15, deadline=None)
@given(alpha=st.floats(0.2, 1.0), scale=st.floats(0.05, 2.0))
def test_compressed_spectrogram_round_trip(alpha, scale):
    x = torch.randn(3, 4000, dtype=torch.float64)
    config = StftConfig(n_fft=510, hop_length=128, alpha=alpha, scale=scale)
    y = from_spec(to_spec(x, config), config, length=x.shape[-1])
    assert torch.linalg.norm(y - x) / torch.linalg.norm(x) < 1e-5
    spec = stft(x, n_fft=510, hop_length=128)
    c = compress(spec, alpha=alpha, scale=scale)
    assert torch.allclose(c.abs(), scale * spec.abs() ** alpha, rtol=1e-6, atol=1e-9)
    assert torch.allclose(decompress(c, alpha=alpha, scale=scale), spec, rtol=1e-5, atol=1e-8)
    phase = spec.abs() > 1e-6
    assert (c / spec)[phase].imag.abs().max() < 1e-9  # a real factor: the phase is kept


def test_compression_keeps_silent_bins_at_zero_with_finite_gradients():
    spec = torch.tensor([[0j, 1e-30 + 0j, 3 - 4j]], dtype=torch.complex64)
    c = compress(spec, alpha=0.5, scale=0.15)
    assert c[0, 0] == 0 and torch.isfinite(torch.view_as_real(c)).all()
    assert torch.allclose(c[0, 2].abs(), torch.tensor(0.15 * 5 ** 0.5))
    # training backpropagates through decompress (of the network's estimate), silent bins included
    estimate = c.clone().requires_grad_(True)
    decompress(estimate, alpha=0.5, scale=0.15).abs().sum().backward()
    assert torch.isfinite(torch.view_as_real(estimate.grad)).all()


def test_normalise_and_restore():
    x = np.random.default_rng(0).standard_normal((2, 1000)) * [[3.0], [0.01]]
    y, gain = normalise(x, target_rms=0.1)
    assert np.allclose(np.sqrt(np.mean(y ** 2, axis=-1)), 0.1)
    assert np.allclose(restore_level(y, gain=gain), x)
    assert np.allclose(remove_dc(x + 5).mean(-1), 0, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 20000), chunk=st.integers(64, 4000), frac=st.floats(0.0, 0.5), grid=st.integers(1, 64))
def test_chunks_reassemble_without_seam(n, chunk, frac, grid):
    overlap = int(chunk * frac)
    x = torch.from_numpy(np.random.default_rng(n).standard_normal((2, n)))
    plan = plan_chunks(n, chunk=chunk, overlap=overlap, grid=grid)
    if plan.count > 1:  # the last chunk moves back on its own frame grid, into under one step of mirror
        assert (plan.regular_start(plan.count - 1) - plan.starts[-1]) % grid == 0
        assert 0 <= plan.padded_length - n < grid
    chunks = split_chunks(x, plan)
    assert chunks.shape[-2:] == (plan.count, plan.chunk)
    y = overlap_add(chunks, plan)
    assert y.shape == x.shape
    assert torch.max(torch.abs(y - x)) < 1e-6


def test_chunk_weights_follow_the_regular_grid_up_to_the_end():
    # a stream cuts its blocks on the regular grid before it knows where the signal ends: whatever the
    # length, every sample's weights come from the chunks that hold it on that grid
    from sigdenoise.preprocess import chunk_weights

    for n in (2600, 2601, 3000, 3511):
        plan = plan_chunks(n, chunk=1000, overlap=200, grid=16)
        w = chunk_weights(plan, dtype=torch.float64)
        total = torch.zeros(plan.padded_length, dtype=torch.float64)
        for k, start in enumerate(plan.starts):
            total[start:start + plan.chunk] += w[k]
            assert torch.all(w[k, :plan.regular_start(k) - start] == 0)  # before its regular start: context only
        assert torch.allclose(total[:n], torch.ones(n, dtype=torch.float64))


def test_plan_chunks_rejects_overlap_larger_than_chunk():
    with pytest.raises(ValueError, match="overlap"):
        plan_chunks(100, chunk=10, overlap=6)


def test_nonfinite_raises_with_hint():
    x = np.array([0.0, np.nan, 1.0, np.inf])
    with pytest.raises(NonFiniteError, match="repair_nan=True"):
        repair_nonfinite(x, repair=False)


def test_nonfinite_repair_interpolates_and_masks():
    x = np.array([[0.0, np.nan, 2.0, 3.0, np.inf, 5.0]])
    y, mask = repair_nonfinite(x, repair=True)
    assert np.allclose(y, [[0, 1, 2, 3, 4, 5]])
    assert mask.tolist() == [[False, True, False, False, True, False]]
    assert np.isnan(x[0, 1])  # the input is untouched


def test_nonfinite_all_nan_channel_refused():
    with pytest.raises(NonFiniteError, match="no finite samples"):
        repair_nonfinite(np.full((1, 5), np.nan), repair=True)


