"""Build the demo files in samples/ from the training-allowed sources of DATA.md.

Deterministic (fixed seed, sorted inputs): running it again rewrites the same files.
Speech comes from the held-out validation voices (Asterisk fr-CA, Czech minor speakers)
of the decoded cache that ``python -m sigdenoise.sources`` builds; the sensor traces come
from the scipy 1.11.4 and aeon 1.6.0 wheels (downloaded, not installed). Usage:

    .venv/bin/python scripts/make_samples.py [--out samples]
"""
from __future__ import annotations

import argparse
import io as _io
import json
from pathlib import Path

import numpy as np

from sigdenoise.io import SensorLog, write_audio, write_sensor_log
from sigdenoise.preprocess import resample
from sigdenoise.sources import CACHE, prepare, pypi_member

SEED = 20240514
RATE = 16000
SNR_DB = 5.0
PEAK = 0.7  # mixtures are scaled to this peak so that nothing clips


def _manifest(role: str) -> tuple[Path, list[dict]]:
    folder = CACHE / f"{role}-{RATE}"
    if not (folder / "manifest.json").exists():
        prepare(role, RATE)
    return folder, json.loads((folder / "manifest.json").read_text())["clips"]


def _load(folder: Path, clip: dict) -> np.ndarray:
    return np.load(folder / clip["file"]).astype(np.float64)


def _pick_speech(clips: list[dict], rng: np.random.Generator, *, groups: set[str], lo: float, hi: float) -> dict:
    pool = sorted((c for c in clips if c["group"] in groups and lo <= c["seconds"] <= hi), key=lambda c: c["file"])
    return pool[int(rng.integers(len(pool)))]


def _noise_bed(folder: Path, clips: list[dict], sources: list[str]) -> tuple[np.ndarray, list[dict]]:
    """Concatenate noise files (given by their path inside the Debian package) into one bed."""
    picked = [next(c for c in clips if c["source"] == s) for s in sources]
    return np.concatenate([_load(folder, c) for c in picked]), picked


def _mix(speech: np.ndarray, noise: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Speech plus a random segment of ``noise`` scaled to SNR_DB (mean power over the clip)."""
    start = int(rng.integers(0, noise.size - speech.size + 1))
    segment = noise[start:start + speech.size]
    gain = np.sqrt(np.mean(speech ** 2) / (np.mean(segment ** 2) * 10 ** (SNR_DB / 10)))
    return speech + gain * segment


def _describe(clip: dict) -> str:
    return f"`{clip['package']}` `{clip['source']}` ({clip['licence']})"


def make_speech(out: Path, rng: np.random.Generator) -> list[str]:
    speech_dir, speech = _manifest("speech")
    noise_dir, noise = _manifest("noise")
    lines = []
    czech_minor = {c["group"] for c in speech if c["group"].startswith("cs-")} - {"cs-m", "cs-v", "cs-other"}
    industry, industry_src = _noise_bed(noise_dir, noise, [
        f"usr/share/games/lincity-ng/sounds/IndustryHigh{k}.wav" for k in (1, 2, 3)])
    rain, rain_src = _noise_bed(noise_dir, noise, ["usr/share/games/megaglest/tilesets/birch_forest/sounds/rain.ogg"])
    light, light_src = _noise_bed(noise_dir, noise, [
        f"usr/share/games/lincity-ng/sounds/IndustryLight{k}.wav" for k in (1, 2, 3)])

    # 1. French (fr-CA) prompt in heavy-industry noise, 16 kHz mono.
    clip = _pick_speech(speech, rng, groups={"fr"}, lo=3.0, hi=6.0)
    mix = _mix(_load(speech_dir, clip), industry, rng)
    name = "noisy_speech_fr_industry_16k.wav"
    write_audio(out / name, mix * PEAK / np.abs(mix).max(), RATE, subtype="PCM_16")
    lines.append(_entry(name, "16 kHz, mono, 16-bit WAV", clip, industry_src, f"{SNR_DB:g} dB SNR"))

    # 2. A minor Czech voice actor in rain, 16 kHz mono.
    clip = _pick_speech(speech, rng, groups=czech_minor, lo=3.0, hi=6.0)
    mix = _mix(_load(speech_dir, clip), rain, rng)
    name = "noisy_speech_cs_rain_16k.wav"
    write_audio(out / name, mix * PEAK / np.abs(mix).max(), RATE, subtype="PCM_16")
    lines.append(_entry(name, "16 kHz, mono, 16-bit WAV", clip, rain_src, f"{SNR_DB:g} dB SNR"))

    # 3. Stereo at 44.1 kHz, to show the any-rate, any-channel path: the voice reaches the
    #    right channel 0.25 ms later and 2 dB quieter; each channel gets its own noise segment.
    clip = _pick_speech(speech, rng, groups={"fr"}, lo=3.0, hi=6.0)
    voice = resample(_load(speech_dir, clip), orig_sr=RATE, target_sr=44100)
    bed = resample(light, orig_sr=RATE, target_sr=44100)
    delay = int(round(0.00025 * 44100))
    right_voice = np.concatenate([np.zeros(delay), voice[:-delay]]) * 10 ** (-2 / 20)
    stereo = np.stack([_mix(voice, bed, rng), _mix(right_voice, bed, rng)])
    name = "noisy_speech_fr_stereo_44k.flac"  # FLAC keeps it under 500 KB
    write_audio(out / name, stereo * PEAK / np.abs(stereo).max(), 44100, subtype="PCM_16")
    lines.append(_entry(name, "44.1 kHz, stereo, 16-bit FLAC (speech and noise resampled from 16 kHz)", clip, light_src,
                        f"{SNR_DB:g} dB SNR per channel, right channel delayed 0.25 ms and 2 dB quieter"))
    return lines


def _entry(name: str, form: str, speech: dict, noise: list[dict], how: str) -> str:
    noise_text = "; ".join(_describe(c) for c in noise)
    return (f"### `{name}`\n{form}, {speech['seconds']:.1f} s.\n"
            f"- speech: {_describe(speech)}, speaker group `{speech['group']}` (held out from training)\n"
            f"- noise: {noise_text}\n"
            f"- mix: {how} (SNR from the mean power over the whole clip); peak scaled to {PEAK}\n")


def make_ecg(out: Path, rng: np.random.Generator) -> str:
    raw = pypi_member("scipy", "1.11.4", "scipy/misc/ecg.dat")
    with np.load(_io.BytesIO(raw)) as archive:
        ecg = (archive["ecg"].astype(np.float64) - 1024) / 200  # mV, as scipy.misc.electrocardiogram does
    fs, start_s, seconds = 360.0, 60.0, 20.0
    clean = ecg[int(start_s * fs):int((start_s + seconds) * fs)]
    t = np.arange(clean.size) / fs
    hum = 0.12 * np.sin(2 * np.pi * 50 * t + rng.uniform(0, 2 * np.pi)) \
        + 0.04 * np.sin(2 * np.pi * 150 * t + rng.uniform(0, 2 * np.pi))
    drift = 0.35 * np.sin(2 * np.pi * 0.15 * t + rng.uniform(0, 2 * np.pi)) \
        + 0.15 * np.sin(2 * np.pi * 0.41 * t + rng.uniform(0, 2 * np.pi))
    noisy = clean + hum + drift + rng.normal(0, 0.04, clean.size)
    log = SensorLog(np.round(noisy, 4)[None, :], fs, ["ecg_mV"], None,
                    {"time_format": "seconds", "time_unit": "s", "time_start": 0.0, "time_decimals": 6})
    name = "noisy_ecg_360hz.csv"
    write_sensor_log(out / name, log)
    return (f"### `{name}`\nECG lead MLII in mV at 360 Hz, {seconds:g} s, columns `time` (seconds) and `ecg_mV`.\n"
            f"- source: PyPI `scipy==1.11.4` wheel, file `scipy/misc/ecg.dat` (npz key `ecg`, mV = (x - 1024) / 200), "
            f"samples {int(start_s * fs)}..{int((start_s + seconds) * fs) - 1}. scipy is BSD-3-Clause; the "
            "recording is an excerpt of record 208 of the MIT-BIH Arrhythmia Database (PhysioNet), as scipy's "
            "`electrocardiogram()` docstring states. The trace already holds real artefacts and ectopic beats.\n"
            "- added: 50 Hz mains hum 0.12 mV + 150 Hz harmonic 0.04 mV, baseline drift (0.15 Hz 0.35 mV + "
            "0.41 Hz 0.15 mV), white noise sigma 0.04 mV; values rounded to 0.1 uV\n")


def make_accel(out: Path, rng: np.random.Generator) -> str:
    member = "aeon/datasets/data/Daphnet_S06R02E0/S06R02E0.csv"
    raw = pypi_member("aeon", "1.6.0", member)
    import pandas as pd

    table = pd.read_csv(_io.BytesIO(raw))
    fs, start, seconds = 64.0, 1280, 30
    axes = ["ankle_horiz_fwd", "ankle_vert", "ankle_horiz_lateral"]
    clean = table[axes].to_numpy(np.float64).T[:, start:start + int(seconds * fs)]  # milli-g
    noisy = clean + rng.normal(0, 15.0, clean.shape)
    spikes = rng.choice(clean.shape[1], size=10, replace=False)
    noisy[rng.integers(0, 3, size=10), spikes] += rng.choice([-1, 1], size=10) * rng.uniform(400, 900, size=10)
    gap = int(rng.integers(int(8 * fs), clean.shape[1] - int(8 * fs)))
    noisy[:, gap:gap + int(0.5 * fs)] = np.nan  # a dropped half second on every axis
    log = SensorLog(np.round(noisy, 1), fs, ["accel_x", "accel_y", "accel_z"], "2024-05-14T09:30:00.000",
                    {"time_format": "iso", "time_column": "timestamp", "time_decimals": 3, "time_separator": "T",
                     "time_zone": ""})
    name = "noisy_accel_64hz.csv"
    write_sensor_log(out / name, log)
    return (f"### `{name}`\n3-axis accelerometer in milli-g at 64 Hz, {seconds} s, columns `timestamp` (ISO-8601, "
            "to the millisecond, so steps are 15 or 16 ms as in the source), `accel_x`, `accel_y`, `accel_z`.\n"
            f"- source: PyPI `aeon==1.6.0` wheel (BSD-3-Clause), file `{member}`: Daphnet Freezing of Gait "
            "(Roggen, Plotnik, Hausdorff 2013, UCI Machine Learning Repository, CC BY 4.0), subject S06 ankle sensor "
            f"(`{axes[0]}`, `{axes[1]}`, `{axes[2]}` -> x, y, z), rows {start}..{start + int(seconds * fs) - 1}. "
            "The timestamps are re-based to 2024-05-14T09:30:00 (the source counts from 1970-01-01T00:04:40).\n"
            f"- added: white noise sigma 15 mg, 10 spikes of 400-900 mg on random axes, a 0.5 s NaN gap on all axes "
            f"(empty cells, samples {gap}..{gap + int(0.5 * fs) - 1}); values rounded to 0.1 mg\n")


README_HEAD = """# Sample files

Short noisy examples for trying the denoiser, written by `scripts/make_samples.py`
(deterministic, seed {seed}) from the training-allowed sources listed in DATA.md. The clean
speech comes from voices held out of training (the fr-CA Asterisk speaker and the minor
Czech Fillets speakers), so these are fair demos. Run the script again to rebuild them
(it needs the decoded corpora cache, `python -m sigdenoise.sources`, and downloads the
scipy and aeon wheels without installing them).

"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "samples")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    sections = ["## Speech\n", *make_speech(args.out, rng), "## Sensor logs\n", make_ecg(args.out, rng),
                make_accel(args.out, rng)]
    text = README_HEAD.format(seed=SEED) + "\n".join(sections)
    (args.out / "README.md").write_text(text)
    for path in sorted(args.out.iterdir()):
        print(f"{path.stat().st_size / 1024:7.1f} KiB  {path}")


if __name__ == "__main__":
    main()
