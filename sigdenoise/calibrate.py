"""Calibrate a model's uncertainty band: one scale on the posterior spread, fitted on held-out data.

The spread of a few posterior samples is a relative measure; how wide the band must be to
hold the truth as often as it claims depends on the model and its sampler. We fit one
scalar so that ``mean ± z·std`` covers the clean signal ``target`` of the time on
corrupted validation examples, and store it in the checkpoint's config
(``uncertainty_scale``), where :meth:`DenoiseModel.denoise_detailed` applies it.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

Z90 = 1.645  # mean ± 1.645 std holds 90 % of a Gaussian


def coverage(errors: np.ndarray, spreads: np.ndarray, scale: float, z: float = Z90) -> float:
    """Share of samples with ``|error| <= z * scale * spread``."""
    return float(np.mean(np.abs(errors) <= z * scale * spreads))


def fit_scale(errors: np.ndarray, spreads: np.ndarray, *, target: float = 0.90, z: float = Z90) -> float:
    """The smallest scale whose band covers ``target`` of the samples (the target-quantile of |e| / (z·std))."""
    ratio = np.abs(errors) / (z * np.maximum(spreads, 1e-12))
    return float(np.quantile(ratio, target))


def calibration_examples(config, *, count: int, seed: int, data_dir: str | Path | None = None
                         ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(clean, noisy, sample_rate) from the held-out split, corrupted as in training."""
    from .config import DataConfig
    from .data import build_training_data

    folder = str(data_dir or "")
    if config.task == "sensor":
        data, rate = DataConfig(kind="sensor", clean_dir=folder), 0  # the sensor corpus is rate-agnostic
    else:
        data, rate = DataConfig(clean_dir=folder), config.sample_rate
    source = build_training_data(data, sample_rate=rate, target_rms=config.target_rms, split="validation", seed=seed)
    clean, noisy, rates = source.batch(count, np.random.default_rng(seed))
    # a clean-in example leaves nothing to be unsure about: the input is the answer
    return [(c.astype(np.float64), n.astype(np.float64), float(r))
            for c, n, r in zip(clean, noisy, rates) if not np.array_equal(c, n)]


def calibrate(model_path: str | Path, out_path: str | Path, *, count: int = 256, num_samples: int = 8,
              target: float = 0.90, seed: int = 4321, data_dir: str | Path | None = None) -> dict:
    """Fit ``uncertainty_scale`` for the model at ``model_path`` and write the calibrated copy to ``out_path``."""
    from .checkpoint import load_checkpoint, save_checkpoint
    from .pipeline import load_model

    model = load_model(model_path, device="cpu")
    previous = model.config.uncertainty_scale
    errors, spreads = [], []
    for clean, noisy, rate in calibration_examples(model.config, count=count, seed=seed, data_dir=data_dir):
        result = model.denoise_detailed(noisy, sample_rate=rate, num_samples=num_samples, seed=seed,
                                        repair_nan=True)
        errors.append(np.asarray(result.mean, np.float64) - clean)
        spreads.append(np.asarray(result.std, np.float64) / previous)  # the raw posterior spread
    errors, spreads = np.concatenate(errors), np.concatenate(spreads)
    scale = fit_scale(errors, spreads, target=target)
    state, config, meta = load_checkpoint(model_path)
    summary = {"uncertainty_scale": scale, "target_coverage": target, "num_samples": num_samples,
               "examples": len(spreads), "coverage_before": coverage(errors, spreads, 1.0),
               "coverage_after": coverage(errors, spreads, scale), "seed": seed,
               "data": "held-out split, corrupted as in training, seeds disjoint from the benchmark's"}
    training = {**meta["training"], "calibration": summary}
    save_checkpoint(out_path, state, dataclasses.replace(config, uncertainty_scale=scale), data=meta["data"],
                    training=training)
    return summary
