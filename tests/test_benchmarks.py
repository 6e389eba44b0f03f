"""The speech floors' voice-range check: its transforms and its scoring."""
from __future__ import annotations

import numpy as np


def test_voice_range_scores_a_pass_through_high_and_a_voice_remover_low():
    from benchmarks.speech.floors import SR, VOICE_TRANSFORMS, check_voice_range

    t = np.arange(SR) / SR
    voice = (np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 2700 * t)).astype(np.float32)
    deeper = VOICE_TRANSFORMS["deeper (pitch and formants x0.7)"](voice)
    assert abs(deeper.size - voice.size / 0.7) <= 2  # slower too, as a resampled take is

    untouched = check_voice_range(lambda x, sr: x, [voice])
    assert set(untouched) == set(VOICE_TRANSFORMS) and all(mean > 60 for mean, _, _ in untouched.values())
    # a "denoiser" that drops everything under 1 kHz takes most of a muffled or deepened voice with it
    def highpass(x, sr):
        spec = np.fft.rfft(x)
        spec[: int(1000 * x.size / sr)] = 0
        return np.fft.irfft(spec, x.size)
    hurt = check_voice_range(highpass, [voice])
    assert hurt["muffled (60-2000 Hz)"][0] < 3 and hurt["as recorded"][0] < 3
