"""The uncertainty band's statistics: how often ``mean ± z·scale·std`` holds the truth, and the scale that
makes it hold as often as it claims. Shared by calibration on clean data (:mod:`sigdenoise.calibrate`) and
without it (:mod:`sigdenoise.adapt`); imports nothing from the package."""
from __future__ import annotations

import numpy as np

Z90 = 1.645  # mean ± 1.645 std holds 90 % of a Gaussian


def coverage(errors: np.ndarray, spreads: np.ndarray, scale: float, z: float = Z90) -> float:
    """Share of samples with ``|error| <= z * scale * spread``."""
    return float(np.mean(np.abs(errors) <= z * scale * spreads))


def fit_scale(errors: np.ndarray, spreads: np.ndarray, *, target: float = 0.90, z: float = Z90) -> float:
    """The smallest scale whose band covers ``target`` of the samples (the target-quantile of |e| / (z·std))."""
    ratio = np.abs(errors) / (z * np.maximum(spreads, 1e-12))
    return float(np.quantile(ratio, target))
