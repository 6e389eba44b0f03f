"""The benchmarks' own checks: voice range, how the noise-only check picks and scores its files, the split cells, and
the tools that set two runs side by side."""
from __future__ import annotations

import numpy as np
import pytest


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


def test_noise_only_picks_every_package_and_spreads_within_each():
    from benchmarks.speech.floors import round_robin

    groups = {"many": list(range(10)), "few": ["a", "b"], "none": []}
    picked = round_robin(groups.values(), 6)
    assert picked == [0, "a", 3, "b", 6, 9]  # both small-package files, the big one sampled end to end
    assert round_robin(groups.values(), 3) == [0, "a", 9]
    assert len(round_robin(groups.values(), 50)) == 12  # never more than there is


def test_noise_only_attenuation_reads_the_level_taken_away():
    from benchmarks.speech.floors import mean_worst_count, noise_only_attenuation

    rng = np.random.default_rng(0)
    inputs = {"loud": rng.standard_normal(4000), "soft": 0.1 * rng.standard_normal(4000)}
    halved = noise_only_attenuation(lambda x, sr: 0.5 * x, inputs)
    assert np.allclose(list(halved.values()), 20 * np.log10(2))
    quiets_the_loud_one = lambda x, sr: x * (0.1 if x.std() > 0.5 else 1)  # noqa: E731
    mean, worst, count = mean_worst_count(noise_only_attenuation(quiets_the_loud_one, inputs))
    assert np.isclose(mean, 10.0) and np.isclose(worst, 0.0) and count == 2


def test_split_cells_draw_disjoint_voices_and_noises():
    from benchmarks.speech.splits import split_rule

    voices = [{"group": g} for g in ("fr", "klettres-de", "cs-x", "en", "klettres-es", "cs-m", "ktuberling-gl")]
    noises = [{"md5": f"{k:x}"} for k in (5, 10, 3, 7)]
    exclude = ("cs-*", "ktuberling-gl")

    def drawn(voices_split, noises_split):
        select = split_rule(voices_split, noises_split, exclude)
        return ([c["group"] for c in voices if select(c, "speech")], [c["md5"] for c in noises if select(c, "noise")])

    # held-out voices are the plain ones only: the Fillets minor voice (cs-x) has room sound in its reference
    assert drawn("held-out", "held-out") == (["fr", "klettres-de"], ["5", "a"])
    # training voices are what the config trains on: neither held-out nor excluded
    assert drawn("training", "training") == (["en", "klettres-es"], ["3", "7"])


def test_paired_rows_difference_each_peer_clip_by_clip_from_the_default_sigdenoise_row():
    from benchmarks.speech.run import paired_rows

    def system(label, pesq, steps=None, state="ok"):
        status = {"state": state, **({"steps": steps, "default_steps": 1} if steps else {})}
        clips = [{"pesq": p, "estoi": 0.5, "si_sdr": 10.0 + p, "dnsmos_ovrl": float("nan")} for p in pesq]
        return {"label": label, "status": status, "per_clip": clips}

    results = [system("noisy input", [1.0, 1.0, 1.0]), system("sigdenoise (1 step)", [2.0, 2.2, 1.4], steps=1),
               system("peer", [1.5, 2.0, 1.6]), system("broken", [], state="missing")]
    ours, (row,) = paired_rows(results)
    assert ours == "sigdenoise (1 step)"
    assert row[0] == "peer"
    assert row[1].startswith("+0.17 ± ") and row[1].endswith("(2/3)")  # (0.5 + 0.2 - 0.2) / 3, higher on 2 of 3
    assert row[2] == "+0.000 ± 0.000 (0/3)"  # ties are not wins
    assert row[4] == "–"  # no clip has both numbers


def test_compare_sets_two_runs_side_by_side_clip_by_clip_and_refuses_other_mixtures():
    from benchmarks.speech.compare import compare

    def run(pesq, names=("a", "b", "c"), seed=1):
        clips = [{"pesq": p, "estoi": 0.5, "si_sdr": 10.0, "dnsmos_ovrl": 2.0} for p in pesq]
        return {"seed": seed, "clips": [{"name": n} for n in names],
                "systems": [{"label": "sigdenoise (1 step)", "per_clip": clips},
                            {"label": "DTLN", "per_clip": [dict(c, pesq=1.0) for c in clips]}]}

    new, old = run([2.0, 2.2, 1.4]), run([1.5, 2.0, 1.6])
    pesq, estoi, *_ = compare(new, old)
    assert pesq.startswith("PESQ (wb): 1.867 vs 1.700, difference +0.167 ± ") and pesq.endswith("(higher on 2/3)")
    assert "difference +0.0000 ± 0.0000 (higher on 0/3)" in estoi  # ties are not wins
    assert compare(new, old, old_label="DTLN")[0].startswith("PESQ (wb): 1.867 vs 1.000")
    with pytest.raises(SystemExit, match="different mixtures"):
        compare(new, run([1.0] * 3, names=("a", "b", "d")))
    with pytest.raises(SystemExit, match="no system labelled 'x'"):
        compare(new, old, label="x")


def test_sensor_compare_sets_two_runs_case_by_case_per_recipe_and_family():
    from benchmarks.sensor.compare import compare

    def run(snr, coverage=0.9, clean=(100.0, 5.0), start=0):
        cases = [{"family": f, "file": f"{f}.npy", "start": start, "samples": 64, "recipe": r,
                  "sigdenoise": {"snr": s, "coverage": coverage}}
                 for (f, r), s in zip([("ae", "white"), ("ae", "hum"), ("ecg", "white")], snr)]
        return {"seed": 1, "snr_db": None, "cases": cases,
                "clean_input": [{"family": "ae", "snr": clean[0]}, {"family": "ae", "snr": clean[1]}]}

    report = compare(run([2.0, 4.0, 9.0], coverage=1.0, clean=(100.0, 7.0)), run([1.0, 4.0, 6.0]))
    assert "| all | 3 | 3.67 | 5.00 | +1.33 ± " in report and "90.0 → 100.0" in report
    assert "| white | 2 | 3.50 | 5.50 | +2.00 ± " in report and "| ae | 2 | 2.50 | 3.00 | +0.50 ± " in report
    assert "| ae | 5.0 | 7.0 |" in report  # the worst clean trace of each run
    with pytest.raises(SystemExit, match="different cases"):
        compare(run([1.0] * 3), run([1.0] * 3, start=5))
