"""Pick the sampler setting on the training run's validation mixtures (not the benchmark's).

    python -m benchmarks.speech.sweep --model runs/speech/model.safetensors [--clips 48]

Prints SI-SDR and wide-band PESQ for steps 1-3, ancestral (eta=1) and deterministic (eta=0).
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
    for steps in (1, 2, 3):
        for eta in (0.0, 1.0):
            with torch.no_grad():
                est = net.decode(sample_bridge(net, net.encode(n), steps=steps, sigma_max=config.bridge.sigma_max,
                                               eta=eta, generator=torch.Generator().manual_seed(0)), n.shape[-1])
            scores = []
            for k in range(len(c)):
                if np.abs(clean[k]).max() < 1e-4:
                    continue
                peak = np.abs(noisy[k]).max() + 1e-8
                try:
                    scores.append(pesq(16000, clean[k] / peak, est[k].numpy() / peak, "wb"))
                except Exception:
                    pass
            print(f"steps {steps} eta {eta:.0f}: SI-SDR {si_sdr(est, c).mean():.2f}  PESQ {np.mean(scores):.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
