"""Sensor corruption recipes, the held-out split and the training-example scaling; offline, in seconds."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from sigdenoise.config import DataConfig
from sigdenoise.preprocess import repair_nonfinite
from sigdenoise.sensor_data import (RECIPES, SNR_DB, VALIDATION_SENSOR_GROUPS, SensorCorruptor, is_sensor_validation,
                                    load_sensor_corpus, mains_hum, mirror_window)
from sigdenoise.sensor_formats import read_miniseed, read_ts

RATES = (3.8e-7, 0.1, 10.0, 64.0, 360.0)


def ecg_like(n: int = 2048, seed: int = 0) -> np.ndarray:
    """A spiky periodic trace with a DC offset, like a raw ECG or a pressure sensor."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    beats = np.exp(-0.5 * ((t % 300) - 150) ** 2 / 9.0) * 3.0
    return 800.0 + beats + 0.3 * np.sin(2 * np.pi * t / 700) + 0.01 * rng.standard_normal(n)


@pytest.mark.parametrize("name", sorted(RECIPES))
@pytest.mark.parametrize("rate", RATES)
def test_recipe_keeps_length_and_is_finite_after_repair(name, rate):
    clean = ecg_like()
    noisy = RECIPES[name](clean, np.random.default_rng(1), rate)
    assert noisy.shape == clean.shape
    repaired, _ = repair_nonfinite(noisy, repair=True)
    assert np.isfinite(repaired).all()
    assert not np.allclose(repaired, clean), f"{name} left the trace untouched"
    assert np.array_equal(clean, ecg_like()), f"{name} modified its input in place"


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_is_a_pure_function_of_its_seed(name):
    a = RECIPES[name](ecg_like(), np.random.default_rng(7), 360.0)
    b = RECIPES[name](ecg_like(), np.random.default_rng(7), 360.0)
    np.testing.assert_array_equal(a, b)


def test_white_snr_lies_in_the_range():
    clean = ecg_like()
    snrs = []
    for seed in range(200):
        noise = RECIPES["white"](clean, np.random.default_rng(seed), 360.0) - clean
        snrs.append(10 * np.log10(np.var(clean) / np.mean(noise ** 2)))
    assert SNR_DB[0] - 1e-6 <= min(snrs) and max(snrs) <= SNR_DB[1] + 1e-6
    assert max(snrs) - min(snrs) > 20  # the whole range is used, not one level
    narrow = RECIPES["white"](clean, np.random.default_rng(0), 360.0, snr_db=(10.0, 10.0)) - clean
    assert 10 * np.log10(np.var(clean) / np.mean(narrow ** 2)) == pytest.approx(10.0, abs=1e-6)


@pytest.mark.parametrize("rate, expected", [(1000.0, (50.0, 60.0)), (360.0, (50.0, 60.0)),
                                            (64.0, (14.0, 4.0))])  # at 64 Hz: 64-50 and 64-60
def test_hum_sits_at_mains_frequency_or_its_alias(rate, expected):
    n = 8192
    for seed in range(6):
        hum = mains_hum(n, sample_rate=rate, rng=np.random.default_rng(seed), harmonics=1)
        freqs = np.fft.rfftfreq(n, 1 / rate)
        peak = freqs[np.argmax(np.abs(np.fft.rfft(hum)))]
        assert min(abs(peak - f) for f in expected) < 0.01 * 60 + rate / n, (rate, peak)


def test_hum_recipe_adds_a_mains_line_to_the_trace():
    clean = np.zeros(4096)
    clean[::512] = 1.0
    noisy = RECIPES["hum"](clean, np.random.default_rng(3), 1000.0, snr_db=(0.0, 0.0))
    spectrum = np.abs(np.fft.rfft(noisy - clean))
    peak = np.fft.rfftfreq(clean.size, 1 / 1000.0)[np.argmax(spectrum)]
    assert min(abs(peak - 50), abs(peak - 60)) < 1.0


def test_spikes_are_sparse_and_large():
    clean = ecg_like()
    for seed in range(20):
        diff = RECIPES["spikes"](clean, np.random.default_rng(seed), 360.0) - clean
        hit = np.abs(diff) > 0
        assert 0 < hit.mean() < 0.05
        assert np.abs(diff).max() > 2 * clean.std()


def test_dropouts_leave_nan_gaps_and_touch_nothing_else():
    clean = ecg_like()
    for seed in range(20):
        noisy = RECIPES["dropouts"](clean, np.random.default_rng(seed), 360.0)
        gaps = np.isnan(noisy)
        assert 0 < gaps.mean() <= 0.26
        np.testing.assert_array_equal(noisy[~gaps], clean[~gaps])


def test_clipping_and_quantisation_act_like_a_front_end():
    clean = ecg_like()
    clipped = RECIPES["clipping"](clean, np.random.default_rng(0), 360.0, snr_db=(5.0, 5.0))
    assert clipped.max() - clipped.min() < clean.max() - clean.min()
    assert clipped.min() >= clean.min() and clipped.max() <= clean.max()
    quantised = RECIPES["quantisation"](clean, np.random.default_rng(0), 360.0, snr_db=(10.0, 10.0))
    assert np.unique(quantised).size < 40


def test_drift_is_slow():
    clean = ecg_like()
    diff = RECIPES["drift"](clean, np.random.default_rng(0), 360.0) - clean
    power = np.abs(np.fft.rfft(diff)) ** 2
    assert power[:8].sum() > 0.95 * power.sum()  # under 4 cycles per segment


def test_mirror_window_extends_short_series_without_jumps():
    series = np.linspace(0.0, 1.0, 100)
    window = mirror_window(series, 1000, np.random.default_rng(0))
    assert window.size == 1000
    assert np.abs(np.diff(window)).max() <= 1.0 / 99 + 1e-12
    long = np.arange(5000.0)
    w = mirror_window(long, 256, np.random.default_rng(1))
    np.testing.assert_array_equal(np.diff(w), 1.0)


# --------------------------------------------------------------------------- split and examples
def write_cache(folder, groups=("ecg-mitbih-208", "plaid", "pigcvp", "daphnet", "basicmotions")):
    """A tiny prepared cache with the manifest layout of :func:`sigdenoise.sources.prepare_sensor`."""
    rng = np.random.default_rng(0)
    entries = []
    for k, group in enumerate(groups):
        for j, length in enumerate((3000, 100)):
            (folder / group).mkdir(parents=True, exist_ok=True)
            signal = ecg_like(length, seed=k * 10 + j) * (k + 1) + rng.standard_normal() * 50
            np.save(folder / group / f"s{j}.npy", signal.astype(np.float32))
            entries.append({"file": f"{group}/s{j}.npy", "source": "test", "group": group,
                            "sample_rate": [360.0, 300.0, 250.0, 64.0, 10.0][k % 5], "seconds": length / 360.0,
                            "licence": "test", "units": "au"})
    (folder / "manifest.json").write_text(json.dumps({"version": 1, "series": entries}))
    return folder


def test_split_holds_out_whole_families(tmp_path):
    write_cache(tmp_path)
    train = load_sensor_corpus(tmp_path, split="train")
    validation = load_sensor_corpus(tmp_path, split="validation")
    train_groups, validation_groups = {e["group"] for e in train}, {e["group"] for e in validation}
    assert not train_groups & validation_groups
    assert validation_groups == {"pigcvp", "daphnet"}
    assert len(train) + len(validation) == 10
    assert all(is_sensor_validation({"group": g}) for g in VALIDATION_SENSOR_GROUPS)


def test_real_manifest_split_has_no_family_in_both():
    from sigdenoise.sensor_data import default_sensor_cache

    manifest = default_sensor_cache() / "manifest.json"
    if not manifest.exists():
        pytest.skip("sensor cache not prepared (sigdenoise.sources.prepare_sensor)")
    entries = json.loads(manifest.read_text())["series"]
    by_group: dict[str, set] = {}
    for e in entries:
        by_group.setdefault(e["group"], set()).add(is_sensor_validation(e))
    assert all(len(v) == 1 for v in by_group.values())
    assert any(True in v for v in by_group.values()) and any(False in v for v in by_group.values())
    # the two seismometers recorded the same ground motion: never split between train and validation
    assert len({is_sensor_validation({"group": g}) for g in by_group if g.startswith("seismo-")}) <= 1


def test_batch_is_scaled_like_the_pipeline(tmp_path):
    write_cache(tmp_path)
    config = DataConfig(kind="sensor", clean_dir=str(tmp_path), segment_seconds=0.256, snr_db=(-5.0, 20.0))
    source = SensorCorruptor.from_cache(config, sample_rate=0, target_rms=0.01, split="train")
    assert source.segment_samples == 256
    clean, noisy, _ = source.batch(16, np.random.default_rng(0))
    assert clean.shape == noisy.shape == (16, 256) and clean.dtype == noisy.dtype == np.float32
    assert np.isfinite(noisy).all() and np.isfinite(clean).all()
    # the noisy row is centred and brought to target_rms, as DenoiseModel.denoise_detailed does
    np.testing.assert_allclose(noisy.mean(1), 0.0, atol=1e-6)
    np.testing.assert_allclose(np.sqrt((noisy.astype(np.float64) ** 2).mean(1)), 0.01, rtol=1e-4)


def test_example_matches_a_hand_computed_pipeline_scaling(tmp_path):
    write_cache(tmp_path)
    config = DataConfig(kind="sensor", clean_dir=str(tmp_path), segment_seconds=0.256)
    source = SensorCorruptor.from_cache(config, sample_rate=0, target_rms=0.05, split="train")
    source.recipes = ("white",)
    source.clean_prob = 0.0
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    clean, noisy = source.example(rng_a)
    # replay the same draws by hand
    raw_clean, entry = source._clean_segment(256, rng_b)
    rng_b.uniform()  # the clean-pass coin
    rng_b.integers(1)  # the recipe pick
    raw_noisy = RECIPES["white"](raw_clean, rng_b, entry["sample_rate"], snr_db=config.snr_db)
    mean = raw_noisy.mean()
    gain = 0.05 / np.sqrt(np.mean((raw_noisy - mean) ** 2))
    np.testing.assert_allclose(noisy, (raw_noisy - mean) * gain, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(clean, (raw_clean - mean) * gain, rtol=1e-5, atol=1e-7)


def test_clean_pass_and_dropout_repair(tmp_path):
    write_cache(tmp_path)
    config = DataConfig(kind="sensor", clean_dir=str(tmp_path), segment_seconds=0.256)
    source = SensorCorruptor.from_cache(config, sample_rate=0, target_rms=0.05, split="validation")
    source.clean_prob = 1.0
    clean, noisy, _ = source.batch(4, np.random.default_rng(0))
    np.testing.assert_array_equal(clean, noisy)
    source.clean_prob, source.recipes = 0.0, ("dropouts",)
    _, noisy, _ = source.batch(8, np.random.default_rng(0))
    assert np.isfinite(noisy).all()


def test_from_cache_refuses_a_fixed_model_rate(tmp_path):
    write_cache(tmp_path)
    with pytest.raises(ValueError, match="rate-agnostic"):
        SensorCorruptor.from_cache(DataConfig(kind="sensor", clean_dir=str(tmp_path)), sample_rate=16000,
                                   target_rms=0.05)


def test_missing_cache_says_how_to_prepare_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare_sensor"):
        SensorCorruptor.from_cache(DataConfig(kind="sensor", clean_dir=str(tmp_path)), sample_rate=0,
                                   target_rms=0.05)


# --------------------------------------------------------------------------- source formats
def test_read_ts_parses_multivariate_cases():
    text = "# comment\n@problemName X\n@univariate false\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n7,8,9:1,1,?:b\n"
    cases = read_ts(text)
    assert len(cases) == 2 and cases[0].shape == (2, 3)
    np.testing.assert_array_equal(cases[0][1], [4, 5, 6])
    assert np.isnan(cases[1][1, 2])
    unlabelled = read_ts("@problemName Y\n@classLabel false\n@data\n1,2,3\n")
    np.testing.assert_array_equal(unlabelled[0], [[1, 2, 3]])


def steim2_record(samples: list[int], rate_factor: int = 200) -> bytes:
    """One 512-byte big-endian Steim-2 mini-SEED record holding ``samples`` as 8-bit differences."""
    diffs = [0] + [b - a for a, b in zip(samples, samples[1:])]
    assert all(-128 <= d < 128 for d in diffs) and len(diffs) % 4 == 0
    header = (b"000001D " + b"TEST " + b"  " + b"HHZ" + b"XX" + struct.pack(">HHBBBBH", 2020, 1, 0, 0, 0, 0, 0)
              + struct.pack(">Hhh", len(samples), rate_factor, 1) + bytes(4) + struct.pack(">l", 0)
              + struct.pack(">HH", 64, 48))
    blockette = struct.pack(">HHBBBB", 1000, 0, 11, 1, 9, 0) + bytes(8)
    words = [0, samples[0], samples[-1]]
    control = (0 << 30)
    for i in range(0, len(diffs), 4):
        words.append(int.from_bytes(bytes(d & 0xFF for d in diffs[i:i + 4]), "big"))
        control |= 1 << (30 - 2 * (len(words) - 1))
    words[0] = control
    frame = b"".join(struct.pack(">I", w & 0xFFFFFFFF) for w in words).ljust(64, b"\0")
    record = (header + blockette).ljust(64, b"\0") + frame
    return record.ljust(512, b"\0")


def test_read_miniseed_decodes_steim2_and_checks_itself():
    samples = [100, 101, 99, -20, -20, 5, 60, 61]
    decoded = read_miniseed(steim2_record(samples) + steim2_record([61, 62, 63, 64]))
    values, rate = decoded["XX.TEST..HHZ"]
    assert rate == 200.0
    np.testing.assert_array_equal(values, samples + [61, 62, 63, 64])
    corrupt = bytearray(steim2_record(samples))
    corrupt[64 + 8:64 + 12] = struct.pack(">l", 999)  # wrong last-sample check word
    with pytest.raises(ValueError, match="checks"):
        read_miniseed(bytes(corrupt))


def test_calibration_fits_the_band_to_its_target_coverage(tmp_path):
    import sigdenoise
    from sigdenoise.calibrate import calibrate

    from .conftest import save_tiny_model

    from sigdenoise.checkpoint import load_checkpoint, save_checkpoint

    write_cache(tmp_path / "cache")
    marked = save_tiny_model(tmp_path / "marked.safetensors", "sensor", 0)
    state, config, _ = load_checkpoint(marked)
    raw = tmp_path / "raw.safetensors"  # as training writes it: no calibration yet, so no band offered
    save_checkpoint(raw, state, config, data={"kind": "tiny test model"}, training={"step": 1})
    assert not sigdenoise.load_model(raw, device="cpu").band_calibrated
    out = tmp_path / "calibrated.safetensors"
    summary = calibrate(raw, out, count=12, num_samples=4, target=0.9, data_dir=tmp_path / "cache",
                        fallback_windows=3)
    assert summary["examples"] > 6 * 256 and abs(summary["coverage_after"] - 0.9) < 0.01
    model = sigdenoise.load_model(out, device="cpu")
    assert model.config.uncertainty_scale == pytest.approx(summary["uncertainty_scale"])
    fallback = summary["fallback"]  # fitted on the training families: 3 windows x every recipe
    assert fallback["examples"] == 3 * 9 and model.config.fallback_below_db == fallback["fallback_below_db"]
    scores = fallback["mean_snr_db_by_threshold"]
    assert scores[str(fallback["fallback_below_db"])] == max(scores.values())
    assert model.metadata["training"]["calibration"]["coverage_after"] == summary["coverage_after"]
    assert raw.exists() and sigdenoise.load_model(raw, device="cpu").config.uncertainty_scale == 1.0


def test_fitting_the_fallback_leaves_the_model_it_was_handed_alone(tmp_path):
    import dataclasses

    import sigdenoise
    from sigdenoise.calibrate import fit_fallback, recipe_windows

    from .conftest import save_tiny_model

    write_cache(tmp_path / "cache")
    model = sigdenoise.load_model(save_tiny_model(tmp_path / "raw.safetensors", "sensor", 0), device="cpu")
    model.config = dataclasses.replace(model.config, fallback_below_db=-20.0)
    fit_fallback(model, recipe_windows(count=1, seed=0, data_dir=tmp_path / "cache"))
    assert model.config.fallback_below_db == -20.0
    twin = model.with_config(dataclasses.replace(model.config, fallback_below_db=None))
    assert twin.network is model.network and twin.config.fallback_below_db is None
    assert model.config.fallback_below_db == -20.0


def test_augmented_examples_stay_finite_scaled_and_only_in_training(tmp_path):
    from sigdenoise.data import build_training_data

    write_cache(tmp_path)
    config = DataConfig(kind="sensor", segment_seconds=0.256, clean_dir=str(tmp_path), augment=True)
    train = build_training_data(config, sample_rate=0, target_rms=0.01, split="train")
    validation = build_training_data(config, sample_rate=0, target_rms=0.01, split="validation")
    assert train.augment and not validation.augment
    clean, noisy, _ = train.batch(32, np.random.default_rng(0))
    assert clean.shape == (32, 256) and np.isfinite(clean).all() and np.isfinite(noisy).all()
    np.testing.assert_allclose(np.sqrt((noisy.astype(np.float64) ** 2).mean(1)), 0.01, rtol=1e-3)
    plain = build_training_data(DataConfig(kind="sensor", segment_seconds=0.256, clean_dir=str(tmp_path)),
                                sample_rate=0, target_rms=0.01, split="train")
    assert not np.allclose(plain.batch(32, np.random.default_rng(0))[0], clean)


def test_synthetic_shapes_join_training_only(tmp_path):
    from sigdenoise.data import build_training_data
    from sigdenoise.sensor_data import SHAPES, SYNTHETIC_RATES, synthetic_trace

    rng = np.random.default_rng(0)
    for shape in SHAPES:
        x = shape(512, rng)
        assert x.shape == (512,) and np.isfinite(x).all() and x.std() > 0, shape.__name__
    trace, rate = synthetic_trace(512, rng)
    assert trace.shape == (512,) and rate in SYNTHETIC_RATES

    write_cache(tmp_path)
    config = DataConfig(kind="sensor", segment_seconds=0.256, clean_dir=str(tmp_path), augment=True,
                        synthetic_clean_prob=1.0)
    train = build_training_data(config, sample_rate=0, target_rms=0.01, split="train")
    validation = build_training_data(config, sample_rate=0, target_rms=0.01, split="validation")
    rng = np.random.default_rng(1)
    assert {train.example_detailed(rng)[2]["group"] for _ in range(8)} == {"synthetic"}
    assert "synthetic" not in {validation.example_detailed(rng)[2]["group"] for _ in range(8)}
    clean, noisy, rates = train.batch(8, rng)
    assert np.isfinite(noisy).all() and set(rates) <= set(SYNTHETIC_RATES)


def test_broadband_synthetic_traces_reach_nyquist_and_leave_older_streams_alone(tmp_path):
    from sigdenoise.data import build_training_data
    from sigdenoise.sensor_data import SHAPES, _broadband, synthetic_trace

    def top_half_share(x):
        power = np.abs(np.fft.rfft(x)) ** 2
        return power[power.size // 2:].sum() / power.sum()

    rng = np.random.default_rng(3)
    broadband = [top_half_share(_broadband(2048, rng)) for _ in range(64)]
    smooth = [top_half_share(SHAPES[k % len(SHAPES)](2048, rng)) for k in range(64)]
    assert np.median(broadband) > 10 * np.median(smooth)  # what the fourth sensor model had never seen

    # broadband_prob=0 draws exactly the stream earlier recipes trained on (stage 1 stays reproducible)
    old, _ = synthetic_trace(512, np.random.default_rng(7))
    same, _ = synthetic_trace(512, np.random.default_rng(7), broadband_prob=0.0)
    np.testing.assert_array_equal(old, same)
    # some broadband traces are stored as ADC counts: a few hundred levels at most
    rounded = [synthetic_trace(512, np.random.default_rng(seed), broadband_prob=1.0)[0] for seed in range(16)]
    assert any(np.unique(x).size < 512 for x in rounded)

    write_cache(tmp_path)
    config = DataConfig(kind="sensor", segment_seconds=0.256, clean_dir=str(tmp_path), clean_input_prob=0.5)
    source = build_training_data(config, sample_rate=0, target_rms=0.01, split="validation")
    assert source.clean_prob == 0.5  # the config's clean-in share reaches the sensor corruptor


def test_highpassed_broadband_traces_hold_nothing_slow_and_leave_older_streams_alone():
    from sigdenoise.sensor_data import _broadband, synthetic_trace

    def slow_share(x):  # power below 0.004 cycles per sample: where drift and aliased hum sit
        power = np.abs(np.fft.rfft(x)) ** 2
        return power[: int(0.004 * x.size) + 1].sum() / power.sum()

    rng = np.random.default_rng(5)
    plain = [slow_share(_broadband(4096, rng)) for _ in range(64)]
    highpassed = [slow_share(_broadband(4096, rng, highpass_prob=1.0)) for _ in range(64)]
    assert max(highpassed) < 0.01 < np.median(plain)  # acoustic emission: slow energy is never signal
    # highpass_prob=0 keeps the random stream of the recipes before it (the shipped model stays reproducible)
    for seed in range(8):
        before, _ = synthetic_trace(512, np.random.default_rng(seed), broadband_prob=0.5)
        same, _ = synthetic_trace(512, np.random.default_rng(seed), broadband_prob=0.5, highpass_prob=0.0)
        np.testing.assert_array_equal(before, same)


def test_read_tradb_joins_a_continuous_channel_in_mv_and_refuses_gaps():
    import sqlite3

    from sigdenoise.sensor_formats import read_tradb

    def tradb(times):
        con = sqlite3.connect(":memory:")
        con.execute('CREATE TABLE tr_data ("SetID" INTEGER PRIMARY KEY, "Time" INT, "ParamID" INT, "Chan" INT, '
                    '"SampleRate" INT, "Samples" INT, "DataFormat" INT, "Data" BLOB)')
        con.execute('CREATE TABLE tr_params ("ID" INTEGER PRIMARY KEY, "TR_mV" REAL)')
        con.execute("CREATE TABLE tr_globalinfo (Key UNIQUE, Value)")
        con.execute("INSERT INTO tr_params VALUES (2, 0.5)")
        con.execute("INSERT INTO tr_globalinfo VALUES ('TimeBase', '10000000')")
        for k, time in enumerate(times):  # blocks of 4 samples at 1 MHz: 40 ticks of 0.1 us apart
            block = np.arange(4 * k, 4 * k + 4, dtype="<i2").tobytes()
            con.execute("INSERT INTO tr_data (Time, ParamID, Chan, SampleRate, Samples, DataFormat, Data) "
                        "VALUES (?, 2, 1, 1000000, 4, 0, ?)", (time, block))
        con.commit()
        return con.serialize()

    values, rate = read_tradb(tradb([40, 0, 80]))  # the second block stored comes first in time
    assert rate == 1e6 and values.tolist() == [0.5 * v for v in (4, 5, 6, 7, 0, 1, 2, 3, 8, 9, 10, 11)]
    with pytest.raises(ValueError, match="gaps"):
        read_tradb(tradb([0, 40, 100]))


def test_read_numpy_pickle_builds_arrays_and_refuses_anything_else():
    import os
    import pickle

    from sigdenoise.sensor_formats import read_numpy_pickle

    data = {"fs": 50000, "sp_1": np.arange(5.0), "description": "motor"}
    back = read_numpy_pickle(pickle.dumps(data))
    assert back["fs"] == 50000 and back["sp_1"].tolist() == [0, 1, 2, 3, 4]

    class Sneaky:
        def __reduce__(self):
            return (os.getcwd, ())

    with pytest.raises(pickle.UnpicklingError, match="refused"):
        read_numpy_pickle(pickle.dumps({"x": Sneaky()}))
