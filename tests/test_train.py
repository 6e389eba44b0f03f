"""The training command on tiny generated folders shaped like users' data; kill-safe resume."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import sigdenoise
from sigdenoise.cli import main as cli_main

from .conftest import make_tiny_config


def _tone(rng, seconds=1.0, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    return (0.2 * np.sin(2 * np.pi * rng.uniform(150, 600) * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.fixture
def voicebank_like(tmp_path):
    """clean_trainset_wav/ and noisy_trainset_wav/ with matching names (VoiceBank-DEMAND layout)."""
    rng = np.random.default_rng(0)
    clean_dir, noisy_dir = tmp_path / "vb" / "clean_trainset_wav", tmp_path / "vb" / "noisy_trainset_wav"
    clean_dir.mkdir(parents=True)
    noisy_dir.mkdir()
    for k in range(4):
        clean = _tone(rng)
        sf.write(clean_dir / f"p{k}.wav", clean, 16000)
        sf.write(noisy_dir / f"p{k}.wav", clean + 0.05 * rng.standard_normal(clean.size), 16000)
    return tmp_path / "vb"


@pytest.fixture
def dns_like(tmp_path):
    """clean/<speaker>/*.wav and noise/*.wav folders (DNS-Challenge layout), at 8 kHz to exercise resampling."""
    rng = np.random.default_rng(1)
    for spk in ("a", "b"):
        (tmp_path / "dns" / "clean" / spk).mkdir(parents=True)
        for k in range(6):
            sf.write(tmp_path / "dns" / "clean" / spk / f"{k}.wav", _tone(rng, sr=8000), 8000)
    (tmp_path / "dns" / "noise").mkdir()
    for k in range(10):
        sf.write(tmp_path / "dns" / "noise" / f"n{k}.wav", 0.1 * rng.standard_normal(8000).astype(np.float32), 8000)
    return tmp_path / "dns"


def _write_config(tmp_path, data_section: str) -> str:
    from sigdenoise.config import to_dict

    model = to_dict(make_tiny_config())
    lines = ['out_dir = "%s"' % (tmp_path / "run"), "steps = 4", "batch_size = 2", "validate_every = 2",
             "checkpoint_every = 1", "validation_clips = 2", "threads = 1", "", "[model]",
             f'task = "{model["task"]}"', f'sample_rate = {model["sample_rate"]}',
             f'chunk_seconds = {model["chunk_seconds"]}', f'overlap_seconds = {model["overlap_seconds"]}',
             "[model.stft]", *[f"{k} = {v}" for k, v in model["stft"].items()],
             "[model.net]", 'name = "bridge_crn"', *[f"{k} = {json.dumps(v)}" for k, v in model["net"].items() if k != "name"],
             "[model.bridge]", *[f"{k} = {v}" for k, v in model["bridge"].items()],
             "[data]", data_section, "segment_seconds = 0.5"]
    path = tmp_path / "tiny.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_train_on_paired_folder_then_resume(tmp_path, voicebank_like):
    config = _write_config(tmp_path, f'kind = "paired"\npaired_dir = "{voicebank_like}"')
    assert cli_main(["train", "--config", config, "--set", "steps=2"]) == 0
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert any("validation" in entry for entry in log)
    # a second run with more steps resumes from the saved state instead of starting over
    assert cli_main(["train", "--config", config]) == 0
    from safetensors import safe_open

    with safe_open(str(tmp_path / "run" / "state.safetensors"), framework="pt") as fh:
        assert fh.metadata()["step"] == "4"
    model = sigdenoise.load_model(tmp_path / "run" / "model.safetensors", device="cpu")
    assert model.metadata["training"]["step"] == 4
    y = model.denoise(np.zeros(1600, np.float32) + 0.01 * np.random.default_rng(0).standard_normal(1600),
                      sample_rate=16000)
    assert y.shape == (1600,)


def _trained_on_dns_folders(tmp_path, dns_like, *, steps: int):
    """A tiny config over the DNS-style folders and the model it trains in ``steps`` steps."""
    config = _write_config(tmp_path, f'kind = "speech_mix"\nclean_dir = "{dns_like / "clean"}"\n'
                                     f'noise_dir = "{dns_like / "noise"}"')
    assert cli_main(["train", "--config", config, "--set", f"steps={steps}"]) == 0
    return config, tmp_path / "run" / "model.safetensors"


@pytest.mark.slow
def test_train_on_dns_style_folders_and_fine_tune(tmp_path, dns_like):
    config, first = _trained_on_dns_folders(tmp_path, dns_like, steps=2)
    tuned = tmp_path / "tuned"
    assert cli_main(["train", "--config", config, "--init", str(first), "--out", str(tuned), "--set", "steps=1"]) == 0
    assert (tuned / "model.safetensors").exists()
    assert json.loads((tuned / "config.json").read_text())["init"] == str(first)  # the weights it started from
    # a new hop is a representation to fine-tune to; a new network or FFT size cannot take the weights
    rehopped = tmp_path / "rehopped"
    assert cli_main(["train", "--config", config, "--init", str(first), "--out", str(rehopped), "--set", "steps=1",
                     "--set", "model.stft.hop_length=8"]) == 0
    assert sigdenoise.load_model(rehopped / "model.safetensors", device="cpu").config.stft.hop_length == 8
    with pytest.raises(ValueError, match="n_fft"):
        cli_main(["train", "--config", config, "--init", str(first), "--out", str(tmp_path / "refft"),
                  "--set", "steps=1", "--set", "model.stft.n_fft=126"])


def _assert_same_function(old_path, new_path, *, t: float) -> None:
    """The two checkpoints' networks give the same estimate (a grown model before any training step)."""
    from sigdenoise.checkpoint import load_checkpoint
    from sigdenoise.diffusion import BridgeDenoiser

    models = []
    for path in (old_path, new_path):
        state, config, _ = load_checkpoint(path)
        models.append(BridgeDenoiser(config).eval())
        models[-1].load_state_dict(state)
    spec = models[0].encode(torch.randn(2, 1600))
    times = torch.full((2,), t)
    torch.testing.assert_close(models[1](spec, times, spec), models[0](spec, times, spec))


def test_init_grows_appended_blocks_as_identity(tmp_path, dns_like):
    from sigdenoise.checkpoint import load_checkpoint
    from sigdenoise.train import grown_blocks

    config, first = _trained_on_dns_folders(tmp_path, dns_like, steps=1)
    old_cfg = load_checkpoint(first)[1]
    new_net = dataclasses.replace(old_cfg.net, dilations=old_cfg.net.dilations + (4, 8))
    assert grown_blocks(old_cfg.net, new_net) == [len(old_cfg.net.dilations), len(old_cfg.net.dilations) + 1]
    assert grown_blocks(new_net, old_cfg.net) is None  # dropping blocks is not growing
    assert grown_blocks(old_cfg.net, dataclasses.replace(new_net, bottleneck=old_cfg.net.bottleneck + 8)) is None
    # zero training steps: the grown network must compute exactly what the init network did
    grown = tmp_path / "grown"
    assert cli_main(["train", "--config", config, "--init", str(first), "--out", str(grown), "--set", "steps=0",
                     "--set", f"model.net.dilations={list(new_net.dilations)}"]) == 0
    assert load_checkpoint(grown / "model.safetensors")[1].net == new_net
    _assert_same_function(first, grown / "model.safetensors", t=0.7)
    with pytest.raises(ValueError, match="append"):
        cli_main(["train", "--config", config, "--init", str(first), "--out", str(tmp_path / "wider"),
                  "--set", "steps=1", "--set", "model.net.bottleneck=24"])


def test_causal_blocks_bound_what_the_network_reads_ahead():
    from sigdenoise.nets.crn import BridgeCRN

    torch.manual_seed(0)
    for causal_min_dilation in (0, 4):
        net = BridgeCRN(in_channels=2, out_channels=2, freq_bins=16, channels=(4, 8), bottleneck=16,
                        dilations=(1, 2, 4, 8), norm="batch", causal_min_dilation=causal_min_dilation).double().eval()
        back, ahead = net.reach_frames()  # float64: the farthest frames' influence is ~1e-8, lost in float32
        x, t = torch.randn(1, 2, 16, 120, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
        y = net(x, t)
        later, earlier = x.clone(), x.clone()
        later[..., 60:] = torch.randn_like(later[..., 60:])
        earlier[..., :60] = torch.randn_like(earlier[..., :60])
        moved_by_later = ((net(later, t) - y).abs().amax(dim=(0, 1, 2)) > 0).nonzero()
        moved_by_earlier = ((net(earlier, t) - y).abs().amax(dim=(0, 1, 2)) > 0).nonzero()
        assert int(moved_by_later[0]) == 60 - ahead and int(moved_by_earlier[-1]) == 59 + back
    assert (back, ahead) == (5 + 1 + 2 + 8 + 16, 5 + 1 + 2)  # 5 convolutions; blocks of dilation 4 and 8 causal


def test_init_makes_blocks_causal_keeping_past_and_present_taps(tmp_path, dns_like):
    from sigdenoise.checkpoint import load_checkpoint

    config, first = _trained_on_dns_folders(tmp_path, dns_like, steps=1)
    old_state, old_cfg, _ = load_checkpoint(first)
    causal = tmp_path / "causal"
    assert cli_main(["train", "--config", config, "--init", str(first), "--out", str(causal), "--set", "steps=0",
                     "--set", "model.net.causal_min_dilation=4"]) == 0
    new_state, new_cfg, _ = load_checkpoint(causal / "model.safetensors")
    assert new_cfg.net.causal_min_dilation == 4
    for i, d in enumerate(old_cfg.net.dilations):
        old, new = old_state[f"net.temporal.{i}.depthwise.weight"], new_state[f"net.temporal.{i}.depthwise.weight"]
        if d >= 4:  # taps (t-2d, t-d, t) take (0, the old t-d, the old t)
            assert torch.equal(new[..., 1:], old[..., :2]) and not new[..., 0].any()
        else:
            assert torch.equal(new, old)


def test_ema_model_carries_batch_norm_statistics(tmp_path, voicebank_like):
    config = _write_config(tmp_path, f'kind = "paired"\npaired_dir = "{voicebank_like}"')
    assert cli_main(["train", "--config", config, "--set", "steps=3", "--set", 'model.net.norm="batch"',
                     "--set", "model.mask_offset=1.0", "--set", "model.log_magnitude_input=true"]) == 0
    from sigdenoise.checkpoint import load_checkpoint

    state, model_config, _ = load_checkpoint(tmp_path / "run" / "model.safetensors")
    assert model_config.net.norm == "batch" and model_config.mask_offset == 1.0
    running = [v for k, v in state.items() if k.endswith("running_var")]
    assert running and not all(torch.allclose(v, torch.ones_like(v)) for v in running)


def test_speech_augmentation_changes_voices_only_in_training(dns_like):
    from sigdenoise.config import DataConfig
    from sigdenoise.data import build_training_data

    config = DataConfig(kind="speech_mix", clean_dir=str(dns_like / "clean"), noise_dir=str(dns_like / "noise"),
                        segment_seconds=0.5, augment=True)
    train = build_training_data(config, sample_rate=16000, target_rms=0.05, split="train")
    assert train.augment
    clean, noisy, rates = train.batch(8, np.random.default_rng(0))
    assert clean.shape == noisy.shape == (8, 8000) and np.isfinite(clean).all() and (rates == 16000).all()
    plain = build_training_data(dataclasses.replace(config, augment=False), sample_rate=16000, target_rms=0.05,
                                split="train")
    assert not plain.augment and not np.allclose(plain.batch(8, np.random.default_rng(0))[0], clean)


def test_band_limited_and_wider_pitched_voices_stay_targets(dns_like):
    from sigdenoise.config import DataConfig
    from sigdenoise.data import band_limit, build_training_data

    white = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    for seed in range(6):
        thin = band_limit(white, sample_rate=16000, rng=np.random.default_rng(seed))
        power = np.abs(np.fft.rfft(thin)) ** 2  # 1 Hz bins
        assert abs(thin.std() - white.std()) < 1e-3 * white.std()  # level kept
        assert power[7500:].sum() < 0.01 * power.sum()  # nothing left above 7.5 kHz (edges at 3-7 kHz)
    config = DataConfig(kind="speech_mix", clean_dir=str(dns_like / "clean"), noise_dir=str(dns_like / "noise"),
                        segment_seconds=0.5, augment=True, clean_input_prob=1.0)
    wide = dataclasses.replace(config, speed_range=(0.65, 1.5))
    clean, noisy, _ = build_training_data(dataclasses.replace(wide, speech_band_prob=1.0), sample_rate=16000,
                                          target_rms=0.05).batch(4, np.random.default_rng(0))
    full = build_training_data(wide, sample_rate=16000, target_rms=0.05).batch(4, np.random.default_rng(0))[0]
    assert np.array_equal(clean, noisy)  # clean in, clean out: the thin voice is the target, not the noise
    assert clean.shape == (4, 8000) and np.isfinite(clean).all()
    power = np.abs(np.fft.rfft(clean, axis=-1)) ** 2  # 2 Hz bins
    assert (power[:, 3750:].sum(-1) < 1e-4 * power.sum(-1)).all()  # nothing above 7.5 kHz
    # the first example draws the same voice either way; only the band-limited one is filtered
    assert not np.allclose(clean[0], full[0], atol=1e-3)


def test_noise_augmentation_makes_new_noises_only_in_training(dns_like):
    from sigdenoise.config import DataConfig
    from sigdenoise.data import build_training_data, machine_drone, random_equaliser, room_reverb

    config = DataConfig(kind="speech_mix", clean_dir=str(dns_like / "clean"), noise_dir=str(dns_like / "noise"),
                        segment_seconds=0.5, synthetic_noise_prob=0.0, noise_augment=True)
    train = build_training_data(config, sample_rate=16000, target_rms=0.05, split="train")
    plain = build_training_data(dataclasses.replace(config, noise_augment=False), sample_rate=16000, target_rms=0.05)
    assert train.noise_augment and not plain.noise_augment
    assert not build_training_data(config, sample_rate=16000, target_rms=0.05, split="validation").noise_augment
    augmented, original = train._noise(8000, np.random.default_rng(3)), plain._noise(8000, np.random.default_rng(3))
    assert augmented.shape == original.shape == (8000,) and np.isfinite(augmented).all()
    assert not np.allclose(augmented, original)
    # a drone is harmonic: its spectrum is concentrated in a few lines, unlike white noise
    drone = machine_drone(16000, sample_rate=16000, rng=np.random.default_rng(0))
    assert abs(drone.std() - 1) < 1e-3
    power = np.sort(np.abs(np.fft.rfft(drone)) ** 2)[::-1]
    assert power[:200].sum() > 0.9 * power.sum()
    click = np.zeros(16000, np.float32)
    click[100] = 1.0
    heard = room_reverb(click, sample_rate=16000, rng=np.random.default_rng(4))
    assert abs(np.sqrt(np.mean(heard ** 2)) - np.sqrt(np.mean(click ** 2))) < 1e-4  # level kept
    assert np.sum(heard[100 + 1600:] ** 2) > 0.001 * np.sum(heard ** 2)  # a tail 100 ms on
    assert np.sum(heard[:100] ** 2) < 1e-12  # causal (up to FFT round-off)
    x = np.random.default_rng(1).standard_normal(4001).astype(np.float32)
    shaped = random_equaliser(x, np.random.default_rng(2), max_db=6.0)
    assert shaped.shape == x.shape and 10 ** (-6 / 20) < shaped.std() / x.std() < 10 ** (6 / 20)


def test_event_noise_is_drawn_in_training_only_and_comes_and_goes(dns_like):
    from sigdenoise.config import DataConfig
    from sigdenoise.data import build_training_data, event_noise

    for seed in range(8):
        x = event_noise(16000, sample_rate=16000, rng=np.random.default_rng(seed))
        assert x.shape == (16000,) and np.isfinite(x).all() and abs(x.std() - 1) < 1e-3
    # events come and go: over seeds, the loudest 20 ms frame is well above the median one
    peaks = []
    for seed in range(8):
        frames = event_noise(16000, sample_rate=16000, rng=np.random.default_rng(seed)).reshape(50, 320)
        energy = (frames ** 2).mean(1)
        peaks.append(energy.max() / np.median(energy))
    assert max(peaks) > 10
    config = DataConfig(kind="speech_mix", clean_dir=str(dns_like / "clean"), noise_dir=str(dns_like / "noise"),
                        segment_seconds=0.5, noise_augment=True, event_noise_prob=1.0)
    train = build_training_data(config, sample_rate=16000, target_rms=0.05, split="train")
    expected_rng = np.random.default_rng(5)
    expected_rng.uniform()  # the draw that picks event noise
    expected = event_noise(8000, sample_rate=16000, rng=expected_rng)
    assert np.array_equal(train._noise(8000, np.random.default_rng(5)), expected)
    held_out = build_training_data(config, sample_rate=16000, target_rms=0.05, split="validation")
    assert not np.array_equal(held_out._noise(8000, np.random.default_rng(5)), expected)


def test_opt_in_event_kinds_stay_above_the_voice_and_are_checked(dns_like):
    from sigdenoise.config import DataConfig
    from sigdenoise.data import build_training_data, event_noise, notes, strokes, whine

    sr = 16000
    for kind in (whine, notes, strokes):
        for seed in range(6):
            x = kind(2 * sr, sample_rate=sr, rng=np.random.default_rng(seed))
            assert x.shape == (2 * sr,) and np.isfinite(x).all() and x.std() > 0
            if kind is not strokes:  # pitched: keep clear of speaking voices' 80-300 Hz fundamentals
                power = np.abs(np.fft.rfft(x)) ** 2
                freqs = np.fft.rfftfreq(x.size, 1 / sr)
                assert power[(freqs > 80) & (freqs < 300)].sum() < 0.01 * power.sum(), (kind.__name__, seed)
    every = ("impacts", "chirps", "siren", "whine", "notes", "strokes")
    drawn = [event_noise(sr, sample_rate=sr, rng=np.random.default_rng(seed), kinds=every) for seed in range(6)]
    assert all(np.isfinite(x).all() and abs(x.std() - 1) < 1e-3 for x in drawn)
    with pytest.raises(ValueError, match="event_kinds"):
        DataConfig(event_kinds=("impacts", "thunder"))
    # laid over a real noise: not the events alone
    config = DataConfig(kind="speech_mix", clean_dir=str(dns_like / "clean"), noise_dir=str(dns_like / "noise"),
                        segment_seconds=0.5, noise_augment=True, event_noise_prob=1.0, event_over_noise_prob=1.0)
    train = build_training_data(config, sample_rate=sr, target_rms=0.05, split="train")
    rng = np.random.default_rng(5)
    rng.uniform()
    alone = event_noise(8000, sample_rate=sr, rng=rng)
    scene = train._noise(8000, np.random.default_rng(5))
    assert np.isfinite(scene).all() and not np.allclose(scene, alone)


def test_pauses_of_noisy_recordings_become_noise_without_speech_in_them():
    from sigdenoise.config import DataConfig
    from sigdenoise.data import SpeechMixer, pause_streams, pauses

    sr, rng = 16000, np.random.default_rng(0)
    hiss = 0.003 * rng.standard_normal(3 * sr).astype(np.float32)  # about -50 dBFS of room tone
    take = hiss.copy()
    take[sr:2 * sr] += 0.3 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr)  # one second of "speech"
    runs = pauses(take, sr)
    assert sum(r.size for r in runs) > 1.5 * sr  # most of the two pause seconds
    for run in runs:  # no tone leaks in: each run is hiss-level
        assert 0.5 < run.std() / 0.003 < 1.5
    assert pauses(0.3 * rng.standard_normal(sr), sr) == []  # no pauses: nothing 20 dB under the loud frames
    assert pauses(np.zeros(sr, np.float32), sr) == []  # digital silence is not noise

    clips = [{"group": "noisy-a", "audio": take}, {"group": "clean-b", "audio": take}]
    streams = pause_streams(clips, ("noisy-*",), sample_rate=sr)
    assert len(streams) == 1 and streams[0].size > 1.5 * sr
    mixer = SpeechMixer(speech={"b": take}, noise=[np.ones(sr, np.float32)], sample_rate=sr, target_rms=0.05,
                        config=DataConfig(pause_noise_groups=("noisy-*",), pause_noise_prob=1.0,
                                          synthetic_noise_prob=0.0), pause_noise=streams)
    noise = mixer._noise(4000, rng)
    assert 0.5 < noise.std() / 0.003 < 1.5  # drawn from the pauses, not from the other noise


def test_excluded_speakers_are_left_out_of_training_data(dns_like):
    from sigdenoise.config import DataConfig
    from sigdenoise.data import build_training_data

    config = DataConfig(kind="speech_mix", clean_dir=str(dns_like / "clean"), noise_dir=str(dns_like / "noise"),
                        segment_seconds=0.5)
    assert set(build_training_data(config, sample_rate=16000, target_rms=0.05).speech) == {"a", "b"}
    kept = build_training_data(dataclasses.replace(config, exclude_speakers=("a*",)), sample_rate=16000,
                               target_rms=0.05)
    assert set(kept.speech) == {"b"}
    with pytest.raises(ValueError, match="exclude_speakers"):
        build_training_data(dataclasses.replace(config, exclude_speakers=("*",)), sample_rate=16000, target_rms=0.05)


def test_validation_examples_keep_their_own_length_when_training_segments_are_shorter(dns_like):
    from sigdenoise.config import DataConfig
    from sigdenoise.data import build_training_data
    from sigdenoise.train import validation_data

    config = DataConfig(kind="speech_mix", clean_dir=str(dns_like / "clean"), noise_dir=str(dns_like / "noise"),
                        segment_seconds=0.25, validation_seconds=0.5)
    lengths = [build_training_data(data, sample_rate=16000, target_rms=0.05).batch(2, np.random.default_rng(0))[0].shape[1]
               for data in (config, validation_data(config))]
    assert lengths == [4000, 8000]
    assert validation_data(dataclasses.replace(config, validation_seconds=0.0)).segment_seconds == 0.25
    with pytest.raises(ValueError, match="validation_seconds"):
        DataConfig(validation_seconds=-1.0)


def test_bf16_training_runs_and_ships_float32_weights(tmp_path, voicebank_like):
    config = _write_config(tmp_path, f'kind = "paired"\npaired_dir = "{voicebank_like}"')
    assert cli_main(["train", "--config", config, "--set", "steps=2", "--set", 'precision="bf16"']) == 0
    from sigdenoise.checkpoint import load_checkpoint

    state, _, meta = load_checkpoint(tmp_path / "run" / "model.safetensors")
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())
    assert meta["training"]["config"]["precision"] == "bf16"
    assert meta["training"]["precision"] == "bf16"
    assert all(np.isfinite(v).all() for v in meta["training"]["validation"].values())


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_takes_bf16_only_where_the_cpu_has_it(monkeypatch, native):
    from sigdenoise import train

    monkeypatch.setattr(train, "native_bf16", lambda: native)
    assert train.resolve_precision("auto") == ("bf16" if native else "fp32")
    assert train.resolve_precision("fp32") == "fp32"
    assert train.resolve_precision("bf16") == "bf16"  # asked for by name: kept, with a warning where emulated


def test_unknown_precision_is_refused(tmp_path, voicebank_like):
    config = _write_config(tmp_path, f'kind = "paired"\npaired_dir = "{voicebank_like}"')
    with pytest.raises((ValueError, SystemExit), match="precision"):
        cli_main(["train", "--config", config, "--set", "steps=1", "--set", 'precision="fp16"'])


def test_rooms_codecs_clipping_and_extra_noise_and_speech_folders_shape_training_inputs_only(dns_like, tmp_path):
    import shutil

    from sigdenoise.config import DataConfig
    from sigdenoise.data import build_training_data, codec_pair, room_pair

    # a room: the target keeps the direct path and early reflections, the input also the late tail
    click = np.zeros(16000, np.float32)
    click[100] = 1.0
    target, heard = room_pair(click, sample_rate=16000, rng=np.random.default_rng(0))
    assert np.sum(target[100 + 800:] ** 2) < 1e-12 < np.sum(heard[100 + 800:] ** 2)
    assert np.argmax(np.abs(target)) == np.argmax(np.abs(heard)) == 100
    # a codec: both signals come back aligned and at their length
    rng = np.random.default_rng(1)
    voice = np.convolve(rng.standard_normal(32000), np.ones(8) / 8, "same").astype(np.float32) * 0.1
    for seed in range(4):
        coded, coded_noisy = codec_pair(voice, voice + 0.01, sample_rate=16000, rng=np.random.default_rng(seed))
        assert coded.shape == coded_noisy.shape == voice.shape
        assert np.corrcoef(coded[2000:-2000], voice[2000:-2000])[0, 1] > 0.9, seed
    # extra noise folders join the training draw only; a missing one is named
    extra = tmp_path / "more-noise"
    shutil.copytree(dns_like / "noise", extra)
    config = DataConfig(kind="speech_mix", clean_dir=str(dns_like / "clean"), noise_dir=str(dns_like / "noise"),
                        segment_seconds=0.5, augment=True, extra_noise_dirs=(str(extra),),
                        speech_reverb_prob=1.0, codec_prob=1.0, clip_prob=1.0)
    plain = build_training_data(dataclasses.replace(config, extra_noise_dirs=()), sample_rate=16000, target_rms=0.05)
    train = build_training_data(config, sample_rate=16000, target_rms=0.05)
    assert len(train.noise) > len(plain.noise)
    assert len(build_training_data(config, sample_rate=16000, target_rms=0.05, split="validation").noise) == \
        len(build_training_data(dataclasses.replace(config, extra_noise_dirs=()), sample_rate=16000,
                                target_rms=0.05, split="validation").noise)
    clean, noisy, _ = train.batch(4, np.random.default_rng(2))
    assert clean.shape == noisy.shape == (4, 8000) and np.isfinite(clean).all() and np.isfinite(noisy).all()
    with pytest.raises(FileNotFoundError, match="no-such"):
        build_training_data(dataclasses.replace(config, extra_noise_dirs=(str(tmp_path / "no-such"),)),
                            sample_rate=16000, target_rms=0.05)
    # extra speech folders likewise: their speakers join the training draw, validation keeps clean_dir's alone
    voices = tmp_path / "more-voices"
    shutil.copytree(dns_like / "clean", voices / "other")
    with_voices = dataclasses.replace(config, extra_speech_dirs=(str(voices),))
    assert len(build_training_data(with_voices, sample_rate=16000, target_rms=0.05).speech) > len(train.speech)
    assert len(build_training_data(with_voices, sample_rate=16000, target_rms=0.05, split="validation").speech) == \
        len(build_training_data(config, sample_rate=16000, target_rms=0.05, split="validation").speech)
    with pytest.raises(FileNotFoundError, match="extra_speech_dirs"):
        build_training_data(dataclasses.replace(config, extra_speech_dirs=(str(tmp_path / "none"),)),
                            sample_rate=16000, target_rms=0.05)
    # level jitter: the network's input level varies (training only), clean and noisy alike
    levels = {}
    for jitter in (0.0, 6.0):
        mixer = build_training_data(dataclasses.replace(config, level_jitter_db=jitter, clip_prob=0.0),
                                    sample_rate=16000, target_rms=0.05)
        pairs = [mixer.example(np.random.default_rng(k)) for k in range(12)]
        levels[jitter] = 20 * np.log10([np.sqrt(np.mean(n ** 2)) / 0.05 for _, n in pairs])
        ratios = [np.sqrt(np.mean(c ** 2) / np.mean(n ** 2)) for c, n in pairs if np.any(c)]
        assert np.all(np.array(ratios) < 2.0)
    assert np.abs(levels[0.0]).max() < 0.01 and 1.0 < np.abs(levels[6.0]).max() <= 6.0


def test_training_through_the_sampler_matches_the_sampler_and_reaches_every_step(tmp_path, dns_like):
    from sigdenoise.config import TrainConfig
    from sigdenoise.diffusion import BridgeDenoiser, bridge_loss, sample_with_grad
    from sigdenoise.sampling import sample_bridge

    torch.manual_seed(0)
    model = BridgeDenoiser(make_tiny_config())
    model.eval()
    noisy = torch.randn(2, 4000) * 0.1
    y = model.encode(noisy)
    # with the same noise draws, the differentiable sampler is the shipped one
    expected = sample_bridge(model, y, steps=3, sigma_max=model.config.bridge.sigma_max,
                             generator=torch.Generator().manual_seed(5))
    got = sample_with_grad(model, y, steps=3, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(got, expected, atol=1e-6)
    # the loss through two steps depends on what the network does at t = 1/2, which one step never asks for
    calls = []
    hook = model.register_forward_hook(lambda module, args, out: calls.append(float(args[1][0])))
    loss, _ = bridge_loss(model, noisy, noisy * 0.5, t_one_prob=0.5, complex_weight=1.0, magnitude_weight=1.0,
                          sisdr_weight=0.0, sampler_steps=2, generator=torch.Generator().manual_seed(1))
    hook.remove()
    assert calls == [1.0, 0.5]
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    with pytest.raises(ValueError, match="sampler_loss"):
        TrainConfig(sampler_loss_steps=0)
    # a training run with it on goes through the CLI like any other
    config = _write_config(tmp_path, f'kind = "speech_mix"\nclean_dir = "{dns_like / "clean"}"\n'
                                     f'noise_dir = "{dns_like / "noise"}"')
    assert cli_main(["train", "--config", config, "--set", "steps=2", "--set", "sampler_loss_prob=1.0"]) == 0
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_a_stage_config_holds_only_its_changes_to_its_base(tmp_path):
    from sigdenoise.config import load_train_config

    (tmp_path / "one.toml").write_text('steps = 100\nlr = 1e-3\n[model]\nsample_rate = 8000\n[model.net]\n'
                                       'channels = [8, 16]\n[data]\nsnr_db = [0.0, 10.0]\n')
    (tmp_path / "two.toml").write_text('base = "one.toml"\nsteps = 50\n[model.net]\nbottleneck = 64\n'
                                       '[data]\nclip_prob = 0.5\n')
    two = load_train_config(tmp_path / "two.toml", {"data.codec_prob": 0.25})
    assert (two.steps, two.lr, two.model.sample_rate) == (50, 1e-3, 8000)
    assert (two.model.net.channels, two.model.net.bottleneck) == ((8, 16), 64)
    assert (two.data.snr_db, two.data.clip_prob, two.data.codec_prob) == ((0.0, 10.0), 0.5, 0.25)
    (tmp_path / "one.toml").write_text('base = "two.toml"\n')
    with pytest.raises(ValueError, match="circle"):
        load_train_config(tmp_path / "two.toml")
    # the shipped stages load whole: every stage from the first up
    for path in sorted((Path(__file__).parent.parent / "configs").glob("speech*.toml")):
        assert load_train_config(path).model.task == "speech"
    # a stage that starts from another's weights is written as that stage's changes: its base is the
    # stage whose output it starts from
    import tomllib

    for path in sorted((Path(__file__).parent.parent / "configs").glob("*.toml")):
        raw = tomllib.loads(path.read_text())
        if load_train_config(path).init:
            model = raw.get("model", {})
            # settings of how the weights are used, and the one growth fine-tuning allows
            assert "base" in raw and set(model) <= {"default_strength", "edge_context_seconds", "running_level", "bridge",
                                                                "net"}, \
                path.name
            assert set(model.get("bridge", {})) <= {"default_steps"}, path.name
            # the changes fine-tuning allows: appended blocks, blocks made causal
            assert set(model.get("net", {})) <= {"dilations", "causal_min_dilation"}, path.name
            base = load_train_config(path.parent / raw["base"])
            assert load_train_config(path).init == f"{base.out_dir}/model.safetensors", path.name
