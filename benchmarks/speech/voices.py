"""How a speech model treats each voice of the corpus: a diagnosis, not a benchmark.

    python -m benchmarks.speech.voices --model checkpoints/speech.safetensors [--clips 12] [--steps 1]

For every speaker group of both splits (training and held-out), ``--clips`` 2 s windows of its
"clean" speech are
- mixed with white noise at 5 dB and with a training noise file at 5 dB -> median SI-SDR gain, and
- fed in as they are -> median SI-SDR of the output against that input ("pass-through").
Medians, because a window that is mostly pause makes SI-SDR swing by tens of dB.
A model that leaves clean speech of a group well alone (30-40 dB) but changes another group's
"clean" takes by 6-20 dB is telling you those takes are not clean (room sound, effects, coding);
this is how the Fillets voices were found out (configs/speech.toml).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

import sigdenoise
from sigdenoise.config import DataConfig
from sigdenoise.data import build_training_data, set_snr
from sigdenoise.synth import coloured_noise
from sigdenoise.diffusion import si_sdr
from sigdenoise.sampling import sample_bridge

RATE = 16000
SECONDS = 2.0


def _windows(stream: np.ndarray, count: int, n: int, rng: np.random.Generator, level: float) -> list[np.ndarray]:
    out = []
    for _ in range(count):
        start = rng.integers(0, max(1, stream.size - n))
        x = np.asarray(stream[start:start + n], np.float32)
        if x.size == n and np.sqrt(np.mean(x ** 2)) > 1e-4:  # a silent stretch has no SI-SDR
            out.append(x / np.sqrt(np.mean(x ** 2)) * level)
    return out


def _looped(noise: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    noise = np.tile(noise, int(np.ceil((n + 1) / noise.size)) + 1)
    start = rng.integers(0, noise.size - n)
    return np.asarray(noise[start:start + n], np.float32)


def _noise_window(noises: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """A window of a random training noise file that is not digital silence.

    Some game sounds hold seconds of zeros (wolf_00.ogg, tree_falling_00.ogg); such a "mixture" is
    the clean speech itself, and its SI-SDR "gain" (output vs a perfect input) read as -60 to -88 dB,
    which an earlier version of this script reported as speech being removed.
    """
    for _ in range(50):
        window = _looped(noises[rng.integers(len(noises))], n, rng)
        if np.sqrt(np.mean(window ** 2)) > 1e-4:
            return window
    raise RuntimeError("no audible noise window found in 50 draws")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a speech checkpoint (.safetensors)")
    parser.add_argument("--clips", type=int, default=12, help="2 s windows per speaker group")
    parser.add_argument("--steps", type=int, default=1, help="sampler steps")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verbose", action="store_true", help="print every window's gain")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)

    loaded = sigdenoise.load_model(args.model, device="cpu")  # the network alone: windows skip the pipeline
    model, config = loaded.network, loaded.config
    data = DataConfig(kind="speech_mix", synthetic_noise_prob=0.0)
    splits = {split: build_training_data(data, sample_rate=RATE, target_rms=config.target_rms, split=split, seed=5)
              for split in ("train", "validation")}
    noises = splits["train"].noise
    n = int(SECONDS * RATE)

    def run(noisy: np.ndarray) -> torch.Tensor:
        y = torch.from_numpy(noisy)
        with torch.no_grad():
            x = sample_bridge(model, model.encode(y), steps=args.steps, sigma_max=config.bridge.sigma_max,
                              generator=torch.Generator().manual_seed(0), rate=torch.full((y.shape[0],), float(RATE)))
        return model.decode(x, n)

    print("| split | speaker group | minutes | gain, white 5 dB | gain, real noise 5 dB | pass-through SI-SDR |")
    print("|---|---|---|---|---|---|")
    for split, source in splits.items():
        for group, stream in sorted(source.speech.items()):
            rng = np.random.default_rng(args.seed)
            clean = _windows(stream, args.clips, n, rng, config.target_rms)
            if not clean:
                continue
            white = [c + set_snr(c, coloured_noise(n, exponent=0.0, rng=rng), 5.0) for c in clean]
            real = [c + set_snr(c, _noise_window(noises, n, rng), 5.0) for c in clean]
            reference = torch.from_numpy(np.stack(clean))
            gains = []
            for mixtures in (white, real):
                noisy = np.stack(mixtures).astype(np.float32)
                gain = si_sdr(run(noisy), reference) - si_sdr(torch.from_numpy(noisy), reference)
                if args.verbose:
                    print(group, gain.numpy().round(1))
                gains.append(gain.median().item())
            passthrough = si_sdr(run(reference.numpy()), reference).median().item()
            print(f"| {split} | {group} | {stream.size / RATE / 60:.1f} | {gains[0]:+.1f} | {gains[1]:+.1f} | "
                  f"{passthrough:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
