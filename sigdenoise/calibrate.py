"""Calibrate a model after training: its "do no harm" fallback and its uncertainty band.

Sensor models first get ``fallback_below_db`` (see :class:`~sigdenoise.config.ModelConfig`): the
correction size under which a chunk is handed back unchanged, chosen on windows of the *training*
split's series under every corruption recipe as the threshold with the best mean output SNR.

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

from .band import coverage, fit_scale
from .checkpoint import load_checkpoint, save_checkpoint
from .config import DataConfig
from .data import build_training_data
from .pipeline import load_model
from .preprocess import repair_nonfinite
from .sensor_data import RECIPES, default_sensor_cache, load_sensor_corpus
from .steps import fall_back_to_input, suspect_samples

FALLBACK_GRID_DB = tuple(float(v) for v in range(-40, -4, 3))  # -40 ... -7 dB


def output_snr(clean: np.ndarray, estimate: np.ndarray) -> float:
    """10·log10(Σ(c−c̄)² / Σ(y−c)²), the sensor benchmark's output SNR."""
    signal = np.sum((clean - clean.mean()) ** 2)
    return float(10 * np.log10(signal / max(np.sum((estimate - clean) ** 2), 1e-30)))


def recipe_windows(*, count: int, seed: int, data_dir: str | Path | None = None, max_samples: int = 4096
                   ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(clean, noisy, rate): ``count`` windows of the training split's series, each under every recipe.

    Windows go round the families in turn (a random series of each), so the 1,000 PLAID currents
    weigh no more than the one ECG record."""

    families: dict[str, list[dict]] = {}
    for entry in load_sensor_corpus(data_dir or default_sensor_cache(), split="train"):
        if len(entry["signal"]) >= 256:
            families.setdefault(entry["group"], []).append(entry)
    names = sorted(families)
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        members = families[names[k % len(names)]]
        entry = members[int(rng.integers(len(members)))]
        signal = np.asarray(entry["signal"], np.float64)
        n = min(signal.size, max_samples)
        start = int(rng.integers(0, signal.size - n + 1))
        clean = signal[start:start + n]
        out += [(clean, recipe(clean, rng, float(entry["sample_rate"])), float(entry["sample_rate"]))
                for recipe in RECIPES.values()]
    return out


def fit_fallback(model, examples) -> tuple[float | None, dict]:
    """The ``fallback_below_db`` with the best mean output SNR on ``examples`` (None if none beats off)."""

    raw = model.with_config(dataclasses.replace(model.config, fallback_below_db=None))  # rule applied below
    scores: dict[float | None, list[float]] = {None: [], **{t: [] for t in FALLBACK_GRID_DB}}
    for clean, noisy, rate in examples:
        estimate = np.asarray(raw.denoise_detailed(noisy, sample_rate=rate, repair_nan=True).mean, np.float64)
        given, _ = repair_nonfinite(noisy[None], repair=True)  # what the model was handed (gaps filled)
        suspect = suspect_samples(noisy[None])  # as the pipeline marks them
        scores[None].append(output_snr(clean, estimate))
        for threshold in FALLBACK_GRID_DB:  # the pipeline's own rule, applied afterwards at each threshold
            kept = fall_back_to_input(given, estimate[None], model.chunk_samples(), below_db=threshold,
                                      suspect=suspect)[0]
            scores[threshold].append(output_snr(clean, kept))
    means = {t: float(np.mean(v)) for t, v in scores.items()}
    best = max(means, key=lambda t: (means[t], t is None))  # ties go to "off"
    return best, {"fallback_below_db": best, "mean_snr_db_by_threshold": {str(t): round(m, 3) for t, m in means.items()},
                  "examples": len(examples), "data": "training split, windows taken round the families in turn, x every recipe (sensor_data.RECIPES)"}


def calibration_examples(config, *, count: int, seed: int, data_dir: str | Path | None = None
                         ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(clean, noisy, sample_rate) from the held-out split, corrupted as in training."""

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
              target: float = 0.90, seed: int = 4321, data_dir: str | Path | None = None,
              fallback_windows: int = 32) -> dict:
    """Fit ``fallback_below_db`` (sensor models; ``fallback_windows=0`` skips it) and ``uncertainty_scale``
    for the model at ``model_path``, and write the calibrated copy to ``out_path``."""

    model = load_model(model_path, device="cpu")
    # A freshly trained model offers no band (DenoiseModel.band_calibrated); here its spread is what is fitted.
    model.metadata = {**model.metadata, "training": {**(model.metadata.get("training") or {}),
                                                     "calibration": "being fitted"}}
    fallback, fallback_summary = model.config.fallback_below_db, None
    if model.config.task == "sensor" and fallback_windows > 0:
        fallback, fallback_summary = fit_fallback(
            model, recipe_windows(count=fallback_windows, seed=seed, data_dir=data_dir))
    model = model.with_config(dataclasses.replace(model.config, fallback_below_db=fallback))  # the band sees the final mean
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
               "data": "held-out split, corrupted as in training, seeds disjoint from the benchmark's",
               "fallback": fallback_summary}
    training = {**meta["training"], "calibration": summary}
    save_checkpoint(out_path, state, dataclasses.replace(config, uncertainty_scale=scale, fallback_below_db=fallback),
                    data=meta["data"], training=training)
    return summary
