"""The running level (sigdenoise.level): offline track, and training examples scaled as an opening."""
from __future__ import annotations

import numpy as np

from sigdenoise.level import RunningLevel, running_level, scale_as_opening


def test_running_level_offline_is_the_streamed_track():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5000)) * np.linspace(0.5, 4.0, 5000) + 0.3
    offset, level = running_level(x, hop=64, warmup=256)
    fed = RunningLevel(2, hop=64, warmup=256)
    for a in range(0, 5000, 333):  # fed piecewise, as a stream is
        fed.add(x[:, a:a + 333])
    fed.end()
    streamed = fed.track(0, 5000)
    np.testing.assert_allclose(offset, streamed[0]) and np.testing.assert_allclose(level, streamed[1])
    # never fewer than the warm-up's samples; later hops see only what came before them
    np.testing.assert_allclose(level[:, 0], x[:, :256].std(-1))
    np.testing.assert_allclose(level[:, 4096], x[:, :4096].std(-1))


def test_examples_scaled_as_an_opening():
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((3, 8000)).astype(np.float32)
    clean = np.zeros_like(noise)
    clean[:, 4000:] = 4.0 * rng.standard_normal((3, 4000))  # a voice starts halfway, over steady noise
    noisy = clean + noise
    target, scaled = scale_as_opening(clean, noisy, hop=256, warmup=1024, target_rms=0.05, keep_offset=False)
    assert target.dtype == scaled.dtype == np.float32
    # the noise alone sets the level at first: it comes out at the target RMS
    np.testing.assert_allclose(scaled[:, :4000].std(-1), 0.05, rtol=0.1)
    # the voice arrives louder than the target, as a running level lags it, and the target shares the gain
    assert np.all(scaled[:, 4000:5000].std(-1) > 0.1)
    offset = running_level(noisy, hop=256, warmup=1024)[0]
    np.testing.assert_allclose(target[:, 4000:] / clean[:, 4000:], scaled[:, 4000:] / (noisy - offset)[:, 4000:],
                               rtol=1e-3)
