"""Pick the sampler setting on the training run's validation mixtures (not the benchmark's).

    python -m benchmarks.speech.sweep --model runs/speech/model.safetensors [--clips 48]

Prints SI-SDR and wide-band PESQ for steps 1-3, ancestral (eta=1) and deterministic (eta=0), then
SI-SDR, PESQ and ESTOI for dry/wet mixes (``strength``) at the model's default steps: the numbers
behind ``default_steps`` and ``default_strength``.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from sigdenoise.checkpoint import load_checkpoint
from sigdenoise.config import DataConfig
from sigdenoise.data import build_training_data
from sigdenoise.diffusion import BridgeDenoiser, si_sdr
from sigdenoise.sampling import sample_bridge


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--clips", type=int, default=48)
    args = parser.parse_args(argv)
    from pesq import pesq

    torch.set_num_threads(2)
    state, config, _ = load_checkpoint(args.model)
    net = BridgeDenoiser(config)
    net.load_state_dict(state)
    net.eval()
    source = build_training_data(DataConfig(segment_seconds=4.0), sample_rate=config.sample_rate,
                                 target_rms=config.target_rms, split="validation", seed=7)
    clean, noisy, _ = source.batch(args.clips, np.random.default_rng(2024))
    c, n = torch.from_numpy(clean), torch.from_numpy(noisy)
    print(f"noisy: SI-SDR {si_sdr(n, c).mean():.2f}")

    def wideband_pesq(k: int, estimate: np.ndarray) -> float | None:
        peak = np.abs(noisy[k]).max() + 1e-8
        try:
            return pesq(16000, clean[k] / peak, estimate / peak, "wb")
        except Exception:  # PESQ refuses some signals (e.g. no utterance found); skip those clips
            return None

    for steps in (1, 2, 3):
        for eta in (0.0, 1.0):
            with torch.no_grad():
                est = net.decode(sample_bridge(net, net.encode(n), steps=steps, sigma_max=config.bridge.sigma_max,
                                               eta=eta, generator=torch.Generator().manual_seed(0)), n.shape[-1])
            scores = [wideband_pesq(k, est[k].numpy()) for k in range(len(c)) if np.abs(clean[k]).max() >= 1e-4]
            print(f"steps {steps} eta {eta:.0f}: SI-SDR {si_sdr(est, c).mean():.2f}  "
                  f"PESQ {np.mean([s for s in scores if s is not None]):.3f}", flush=True)

    # Dry/wet mixes on the noisy mixtures only (a clean-in clip is unchanged by any mix).
    from pystoi import stoi

    mixed = [k for k in range(len(c)) if np.abs(clean[k]).max() >= 1e-4 and not np.array_equal(clean[k], noisy[k])]
    with torch.no_grad():
        est = net.decode(sample_bridge(net, net.encode(n), steps=config.bridge.default_steps,
                                       sigma_max=config.bridge.sigma_max, generator=torch.Generator().manual_seed(0)),
                         n.shape[-1])
    print(f"\nstrength sweep at {config.bridge.default_steps} step(s), {len(mixed)} noisy mixtures "
          f"(noisy: ESTOI {np.mean([stoi(clean[k], noisy[k], 16000, extended=True) for k in mixed]):.3f})")
    for strength in (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7):
        out = strength * est + (1 - strength) * n
        scores = [wideband_pesq(k, out[k].numpy()) for k in mixed]
        estoi = np.mean([stoi(clean[k], out[k].numpy(), 16000, extended=True) for k in mixed])
        print(f"strength {strength:.2f}: SI-SDR {si_sdr(out[mixed], c[mixed]).mean():.2f}  "
              f"PESQ {np.mean([s for s in scores if s is not None]):.3f}  ESTOI {estoi:.3f}", flush=True)


if __name__ == "__main__":
    main()
