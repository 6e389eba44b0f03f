"""The running level (sigdenoise.level): offline track, and training examples scaled as an opening."""
from __future__ import annotations

import numpy as np

from sigdenoise.level import RunningLevel, running_level, scale_as_opening


def test_running_level_offline_is_the_streamed_track():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5000)) * np.linspace(0.5, 4.0, 5000) + 0.3
    offset, level = running_level(x, hop=64, warmup=256, attack=512)
    fed = RunningLevel(2, hop=64, warmup=256, attack=512)
    pieces = []
    for a in range(0, 5000, 333):  # fed piecewise and read as it comes, forgetting the past, as a stream does
        fed.add(x[:, a:a + 333])
        if a >= 999:
            pieces.append(fed.track(a - 666, a - 333))
            fed.forget(a - 666)
    fed.end()
    streamed = np.concatenate([p[1] for p in pieces], -1)
    np.testing.assert_allclose(level[:, 333:333 + streamed.shape[-1]], streamed)
    np.testing.assert_allclose(offset[:, 4400:], fed.track(4400, 5000)[0])  # the end, once it has come
    # never fewer than the warm-up's samples; later hops see only what came before them
    np.testing.assert_allclose(level[:, 0], x[:, :256].std(-1))
    np.testing.assert_allclose(level[:, 4096], x[:, :4096].std(-1))


def test_level_keeps_up_with_a_loud_start_after_silence():
    # a muted microphone, then speech at full level: without the attack the gain would be 10^5 too high
    rng = np.random.default_rng(2)
    x = np.concatenate([1e-6 * rng.standard_normal(4000), rng.standard_normal(4000)])[None]
    slow = running_level(x, hop=64, warmup=256)[1]
    fast = running_level(x, hop=64, warmup=256, attack=400)[1]
    assert slow[0, 4100] < 0.2  # the running RMS lags the onset
    recent = np.array([x[0, max(0, p - 399):p + 1].std() for p in range(4000, 8000)])
    assert np.all(fast[0, 4000:] >= recent / 4.0 * (1 - 1e-9)) and np.all(fast >= slow)


def test_examples_scaled_as_an_opening():
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((3, 8000)).astype(np.float32)
    clean = np.zeros_like(noise)
    clean[:, 4000:] = 4.0 * rng.standard_normal((3, 4000))  # a voice starts halfway, over steady noise
    noisy = clean + noise
    target, scaled = scale_as_opening(clean, noisy, hop=256, warmup=1024, attack=0, target_rms=0.05,
                                      keep_offset=False)
    assert target.dtype == scaled.dtype == np.float32
    # the noise alone sets the level at first: it comes out at the target RMS
    np.testing.assert_allclose(scaled[:, :4000].std(-1), 0.05, rtol=0.1)
    # the voice arrives louder than the target, as a running level lags it, and the target shares the gain
    assert np.all(scaled[:, 4000:5000].std(-1) > 0.1)
    offset = running_level(noisy, hop=256, warmup=1024)[0]
    np.testing.assert_allclose(target[:, 4000:] / clean[:, 4000:], scaled[:, 4000:] / (noisy - offset)[:, 4000:],
                               rtol=1e-3)
