"""Per-recipe SNR gain of a sensor training run's EMA weights on held-out (or training) families.

    python -m benchmarks.sensor.heldout --config configs/sensor.toml --state runs/sensor-v3/state.safetensors \
                                        [--split validation|train] [--examples 240] [--steps N]
                                        [--gate-samples K]

A quick probe during or after training, not the benchmark (that is ``benchmarks.sensor.run``
against the classical filters): ``--examples`` corrupted windows drawn by the training data
source itself (seed 5; clean-in examples dropped), denoised in one batch. Prints per recipe the
mean SNR gain, the median input and output SNR, the median SI-SDR and the median least-squares
scale of the output on the clean trace (below 1: the output shrinks the signal).

``--gate-samples K`` (K >= 2) also asks whether the posterior knows when it is wrong: it draws K
samples per window and, for a sweep of thresholds, keeps the model's correction (mean − input) only
in windows where the samples' spread is below that fraction of the correction's size, and the input
elsewhere. The threshold is chosen by looking at this very table, so read its best row as an upper
bound for a gate tuned on other data.
"""
from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
import torch
from safetensors.torch import load_file

from sigdenoise.config import load_train_config
from sigdenoise.data import build_training_data
from sigdenoise.diffusion import BridgeDenoiser, si_sdr, snr
from sigdenoise.sampling import sample_bridge


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/sensor.toml")
    parser.add_argument("--state", required=True, help="a run's state.safetensors (its EMA weights are used)")
    parser.add_argument("--split", default="validation", choices=["validation", "train"])
    parser.add_argument("--examples", type=int, default=240)
    parser.add_argument("--steps", type=int, default=None, help="sampler steps (default: the model's)")
    parser.add_argument("--gate-samples", type=int, default=0, help="posterior samples for the gate sweep (0: off)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)

    config = load_train_config(args.config)
    model_config = config.model
    source = build_training_data(config.data, sample_rate=0, target_rms=model_config.target_rms, split=args.split,
                                 seed=5)
    rng = np.random.default_rng(5)
    examples = [e for e in (source.example_detailed(rng) for _ in range(args.examples)) if e[2]["recipe"] != "none"]
    noisy = torch.from_numpy(np.stack([e[1] for e in examples]))
    clean = torch.from_numpy(np.stack([e[0] for e in examples]))
    rate = torch.tensor([float(e[2]["sample_rate"]) for e in examples])
    state = load_file(args.state)
    model = BridgeDenoiser(model_config)
    model.load_state_dict({k[len("ema/"):]: v for k, v in state.items() if k.startswith("ema/")})
    model.eval()
    steps = args.steps or model_config.bridge.default_steps

    def draw(seed: int) -> torch.Tensor:
        with torch.no_grad():
            return model.decode(sample_bridge(model, model.encode(noisy), steps=steps,
                                              sigma_max=model_config.bridge.sigma_max, rate=rate,
                                              generator=torch.Generator().manual_seed(seed)), noisy.shape[-1])

    estimate = draw(0)
    snr_in, snr_out = snr(noisy, clean).numpy(), snr(estimate, clean).numpy()
    sisdr = si_sdr(estimate, clean).numpy()
    scale = ((estimate * clean).sum(-1) / clean.pow(2).sum(-1)).numpy()
    changed = ~(noisy == clean).all(-1).numpy()  # a window its recipe left exactly intact has no SNR gain
    rows = defaultdict(list)
    for e, keep, *values in zip(examples, changed, snr_in, snr_out, sisdr, scale):
        if keep:
            rows[e[2]["recipe"]].append(values)
    gain = snr_out - snr_in
    print(f"{args.split} families, {len(examples)} windows ({(~changed).sum()} left intact by their recipe, "
          f"skipped in the means); mean SNR gain {np.mean(gain[changed]):+.2f} dB")
    print("| recipe | n | mean SNR gain (dB) | median SNR in -> out (dB) | median SI-SDR out (dB) | median scale |")
    print("|---|---|---|---|---|---|")
    for recipe, values in sorted(rows.items()):
        v = np.array(values)
        g = v[:, 1] - v[:, 0]
        print(f"| {recipe} | {len(v)} | {np.mean(g):+.1f} | {np.median(v[:, 0]):.1f} -> "
              f"{np.median(v[:, 1]):.1f} | {np.median(v[:, 2]):.1f} | {np.median(v[:, 3]):.2f} |")
    if args.gate_samples >= 2:
        _gate_sweep(torch.stack([draw(seed) for seed in range(args.gate_samples)]), noisy, clean, changed)
    return 0


def _gate_sweep(samples: torch.Tensor, noisy: torch.Tensor, clean: torch.Tensor, changed: np.ndarray) -> None:
    mean, spread = samples.mean(0), samples.std(0)
    correction = (mean - noisy).pow(2).mean(-1).clamp(min=1e-20).sqrt()
    ratio = (spread.pow(2).mean(-1).sqrt() / correction).numpy()
    base = snr(noisy, clean).numpy()
    print(f"\ngate on posterior disagreement, {len(samples)} samples: correction kept where spread / correction "
          f"< threshold (median ratio {np.median(ratio[changed]):.3f})")
    print("| threshold | windows corrected | mean SNR gain (dB) |")
    print("|---|---|---|")
    for threshold in (0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, float("inf")):
        keep = torch.from_numpy(ratio < threshold)[:, None]
        gain = snr(torch.where(keep, mean, noisy), clean).numpy() - base
        print(f"| {threshold:g} | {int(keep[changed].sum())} of {int(changed.sum())} | {np.mean(gain[changed]):+.2f} |")


if __name__ == "__main__":
    raise SystemExit(main())
