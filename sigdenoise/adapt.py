"""Adapt a model to a user's own noisy recordings or logs, with no clean references.

The method is RemixIT-style self-training (Tzinis et al. 2022) with the model itself as the teacher:

1. The teacher (the model as it is) splits each segment ``y`` of the user's data into a signal estimate
   ``s`` and a noise estimate ``n = y - s``.
2. The student (a copy of the model) learns to recover ``s`` from ``s + n'``, where ``n'`` is the noise
   estimate of another segment, brought to this segment's own noise level: the user's noises over the
   user's signals, in combinations the data never held, at the user's own SNRs. Half of the examples keep
   their own noise (``y`` itself), which ties the student to the teacher where the remix cannot help.
3. A share of the files is held aside. On them both models are scored without clean data by
   *self-consistency*: how well a model undoes the user's noise added to its own output,
   ``score(M) = mean SI-SDR (speech) or SNR (sensors) of M(M(y) + n') against M(y)``. A model that
   removes noise and keeps the signal scores high; one that passes noise through or erases the signal
   scores low. The report says whether the adapted model scored better; callers refuse a worse one.

Sensor models get their 90 % band recalibrated the same way: on ``M(y) + n'`` the band of each model's
posterior samples is scaled until it covers 90 % of ``M(y)``, and the base model's own scale (fitted on
clean data) is carried over in the ratio of the two fits.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .band import coverage, fit_scale
from .checkpoint import save_checkpoint
from .config import TrainConfig
from .diffusion import bridge_loss, si_sdr, snr
from .preprocess import resample
from .train import load_state, resolve_precision, save_state

DEFAULT_MINUTES = 10.0
HOLDOUT_SHARE = 0.2
MAX_SEGMENTS = 4096  # a bound on memory: 4096 x 2 s of 16 kHz float32 is 0.5 GB with its estimates
EVAL_SEGMENTS = 48


@dataclass(frozen=True)
class AdaptSettings:
    """How to adapt: wall-clock budget, optimiser and mixing settings."""

    minutes: float = DEFAULT_MINUTES  # the whole run: teacher pass, training and the before/after check
    max_steps: int = 100_000
    batch_size: int = 8
    lr: float = 5e-5
    ema_decay: float = 0.99
    remix_prob: float = 0.5  # share of examples whose noise comes from another segment
    holdout_share: float = HOLDOUT_SHARE
    segment_seconds: float = 2.0  # speech; sensor models take their chunk length
    seed: int = 0

    def __post_init__(self):
        if not self.minutes > 0 or self.batch_size < 1 or not 0 < self.holdout_share < 1:
            raise ValueError(f"adapt needs minutes > 0, batch_size >= 1 and 0 < holdout_share < 1; got "
                             f"{self.minutes}, {self.batch_size}, {self.holdout_share}")


@dataclass
class Recording:
    """One input: ``data`` ``[channels, time]`` at ``sample_rate``; ``name`` and ``sha256`` for the record."""

    data: np.ndarray
    sample_rate: float
    name: str = ""
    sha256: str = ""

    @property
    def seconds(self) -> float:
        return self.data.shape[-1] / self.sample_rate


@dataclass
class AdaptReport:
    """What adapting did and whether it helped (``better``), by the self-consistency score."""

    base_score: float
    adapted_score: float
    metric: str
    steps: int
    minutes: float
    train_segments: int
    holdout_segments: int
    band: dict = field(default_factory=dict)

    @property
    def better(self) -> bool:
        return self.adapted_score > self.base_score

    def describe(self) -> str:
        verdict = "better" if self.better else "WORSE"
        return (f"self-consistency on {self.holdout_segments} held-aside segments ({self.metric}, dB): "
                f"{self.base_score:.2f} before, {self.adapted_score:.2f} after ({verdict}); "
                f"{self.steps} steps on {self.train_segments} segments in {self.minutes:.1f} min")


class AdaptWorseError(RuntimeError):
    """The adapted model scored worse than the one it started from; ``model`` and ``report`` are kept."""

    def __init__(self, model, report: AdaptReport):
        self.model, self.report = model, report
        super().__init__(f"adapting made the model worse by its self-consistency check ({report.describe()}); "
                         "the original model is unchanged. Adapt on more (or longer) recordings, or keep the "
                         "result anyway with keep_worse=True (the CLI's --keep-worse)")


def recording_checksum(data: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(data, dtype=np.float32).tobytes()).hexdigest()


def _segments(recordings: Sequence[Recording], model, length: int) -> tuple[list[np.ndarray], list[float], list[int]]:
    """Windows of ``length`` samples at the model's rate (or the file's, for a rate-agnostic model), each
    with its rate and the index of the recording it came from; near-silent windows are dropped."""
    out, rates, owners = [], [], []
    for k, rec in enumerate(recordings):
        rate = model.config.sample_rate or rec.sample_rate
        rows = resample(np.asarray(rec.data, np.float64), orig_sr=rec.sample_rate, target_sr=rate)
        for row in rows:
            row = row - row.mean()
            if row.size < length:  # a short file gives one padded window
                row = np.pad(row, (0, length - row.size))
            for start in range(0, row.size - length + 1, length):
                window = row[start:start + length]
                if np.sqrt(np.mean(window ** 2)) > 1e-6:
                    out.append(window.astype(np.float32))
                    rates.append(float(rate))
                    owners.append(k)
    return out, rates, owners


def _denoise_rows(model, rows: np.ndarray, rate: float, *, num_samples: int = 1, seed: int = 0):
    """``model`` on equal-length rows at one rate, as the pipeline runs it (each row its own level)."""
    result = model.denoise_detailed(rows, sample_rate=rate, num_samples=num_samples, seed=seed, repair_nan=True)
    return np.asarray(result.mean, np.float32), (None if result.std is None else np.asarray(result.std, np.float32))


def _by_rate(segments: list[np.ndarray], rates: list[float]) -> dict[float, list[int]]:
    groups: dict[float, list[int]] = {}
    for i, r in enumerate(rates):
        groups.setdefault(r, []).append(i)
    return groups


def _teacher_split(model, segments, rates) -> tuple[np.ndarray, np.ndarray]:
    """(signal estimates, noise estimates) ``[N, length]`` of the teacher."""
    clean = np.empty((len(segments), segments[0].size), np.float32)
    for rate, idx in _by_rate(segments, rates).items():
        for start in range(0, len(idx), 64):
            part = idx[start:start + 64]
            clean[part] = _denoise_rows(model, np.stack([segments[i] for i in part]), rate)[0]
    noisy = np.stack(segments)
    return clean, noisy - clean


def _rms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=-1) + 1e-20)


def _with_noise(signal: np.ndarray, noise: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Each row of ``signal`` plus the same row of ``noise`` brought to the RMS of that row of ``level``."""
    gain = (_rms(level) / _rms(noise))[:, None]
    return signal + noise * gain.astype(np.float32)


def _partners(count: int, rng: np.random.Generator) -> np.ndarray:
    """For each of ``count`` segments another one (all shifted by one random offset; itself if alone)."""
    order = np.arange(count)
    return (order + 1 + rng.integers(0, max(count - 1, 1))) % count if count > 1 else order


def _remixed(clean: np.ndarray, noise: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``clean[i]`` plus ``noise[j]`` brought to ``noise[i]``'s level (the user's own SNR)."""
    return _with_noise(clean[i], noise[j], noise[i])


def self_consistency(model, segments: np.ndarray, rates: list[float], noise: np.ndarray, *,
                     seed: int = 0) -> tuple[float, np.ndarray]:
    """Mean SI-SDR (speech) or SNR (sensors), dB, of ``model(model(y) + n')`` against ``model(y)``,
    ``n'`` being another held-out segment's noise estimate at this segment's noise level; also the
    first-pass outputs ``model(y)``."""
    rng = np.random.default_rng(seed)
    first = np.empty_like(segments)
    for rate, idx in _by_rate(list(segments), rates).items():
        first[idx] = _denoise_rows(model, segments[idx], rate)[0]
    partner = _partners(len(segments), rng)
    probe = _with_noise(first, noise[partner], segments - first)
    second = np.empty_like(segments)
    for rate, idx in _by_rate(list(segments), rates).items():
        second[idx] = _denoise_rows(model, probe[idx], rate)[0]
    measure = si_sdr if model.config.task == "speech" else snr
    scores = measure(torch.from_numpy(second).double(), torch.from_numpy(first).double(), max_db=60.0)
    keep = _rms(first) > 1e-6  # an erased segment has no reference: it counts at the floor
    values = torch.where(torch.from_numpy(keep), scores, torch.full_like(scores, -10.0))
    return float(values.mean()), first


def recalibrate_band(model, segments: np.ndarray, rates: list[float], noise: np.ndarray, *, seed: int = 0,
                     num_samples: int = 8, target: float = 0.90) -> tuple[float, dict]:
    """An ``uncertainty_scale`` for ``model`` from the user's own data: the band of its posterior samples on
    ``model(y) + n'`` scaled to cover ``target`` of ``model(y)``."""
    raw = model.with_config(dataclasses.replace(model.config, uncertainty_scale=1.0))
    rng = np.random.default_rng(seed + 1)
    partner = _partners(len(segments), rng)
    errors, spreads = [], []
    for rate, idx in _by_rate(list(segments), rates).items():
        first = _denoise_rows(raw, segments[idx], rate)[0]
        probe = _with_noise(first, noise[partner[idx]], segments[idx] - first)
        mean, std = _denoise_rows(raw, probe, rate, num_samples=num_samples, seed=seed)
        errors.append((mean - first).ravel())
        spreads.append(std.ravel())
    errors, spreads = np.concatenate(errors), np.concatenate(spreads)
    scale = fit_scale(errors, spreads, target=target)
    return scale, {"uncertainty_scale": scale, "target_coverage": target, "num_samples": num_samples,
                   "examples": int(spreads.size), "coverage_after": coverage(errors, spreads, scale),
                   "data": "the user's held-aside segments: the adapted model's output plus another "
                           "segment's noise estimate (no clean data)"}


def _loss_settings(model) -> dict:
    """The loss weights the model was trained with (its checkpoint's training config), else the defaults."""
    saved = ((model.metadata.get("training") or {}).get("config") or {})
    base = TrainConfig()
    names = ("t_one_prob", "complex_weight", "magnitude_weight", "sisdr_weight", "waveform_loss", "waveform_max_db")
    return {k: saved.get(k, getattr(base, k)) for k in names}


def adapt_model(model, recordings: Sequence[Recording], settings: AdaptSettings = AdaptSettings(), *,
                state_path: str | Path | None = None,
                progress: Callable[[int, int, float], None] | None = None):
    """Fine-tune a copy of ``model`` on ``recordings`` alone; returns ``(adapted DenoiseModel, AdaptReport)``.

    ``model`` is left untouched. ``state_path`` (optional) keeps the run's state so a killed run resumes
    there. ``progress(step, total_steps_estimate, seconds_left)`` is called as it goes.
    """
    started = time.monotonic()
    deadline = started + settings.minutes * 60
    if not recordings:
        raise ValueError("adapt needs at least one recording")
    length = (int(round(settings.segment_seconds * model.config.sample_rate)) if model.config.sample_rate
              else min(model.chunk_samples()[0], 4096))
    segments, rates, owners = _segments(recordings, model, length)
    if len(segments) < 4:
        raise ValueError(f"adapt needs more than {len(segments)} usable window(s) of {length} samples "
                         "(silent stretches are skipped): give it longer or more recordings")
    rng = np.random.default_rng(settings.seed)
    if len(segments) > MAX_SEGMENTS:
        keep = np.sort(rng.choice(len(segments), MAX_SEGMENTS, replace=False))
        segments, rates, owners = [segments[i] for i in keep], [rates[i] for i in keep], [owners[i] for i in keep]
    # hold out whole recordings where there are several, else every fifth window
    files = sorted(set(owners))
    if len(files) >= 3:
        held_files = set(files[k] for k in np.random.default_rng(settings.seed).permutation(len(files))
                         [:max(1, int(round(len(files) * settings.holdout_share)))])
        held = np.array([o in held_files for o in owners])
    else:
        held = (np.arange(len(segments)) % int(round(1 / settings.holdout_share))) == 0
    clean, noise = _teacher_split(model, segments, rates)
    train_idx, hold_idx = np.flatnonzero(~held), np.flatnonzero(held)
    if len(hold_idx) > EVAL_SEGMENTS:
        hold_idx = np.sort(np.random.default_rng(settings.seed + 2).choice(hold_idx, EVAL_SEGMENTS, replace=False))
    hold = np.stack([segments[i] for i in hold_idx])
    hold_rates = [rates[i] for i in hold_idx]
    base_score, _ = self_consistency(model, hold, hold_rates, noise[hold_idx], seed=settings.seed)
    eval_seconds = time.monotonic() - started  # the teacher pass and one check: the final check costs as much

    student = copy.deepcopy(model.network).cpu().train()
    ema = copy.deepcopy(model.network).cpu().eval()
    ema.requires_grad_(False)
    opt = torch.optim.AdamW(student.parameters(), lr=settings.lr)
    step, elapsed = 0, 0.0
    state_path = Path(state_path) if state_path else None
    if state_path and state_path.exists():
        step, elapsed = load_state(state_path, student, ema, opt, rng)
        deadline -= elapsed
    bf16 = resolve_precision("auto") == "bf16"
    loss_settings = _loss_settings(model)
    generator = torch.Generator().manual_seed(settings.seed + step)
    target_rms = model.config.target_rms
    step_seconds, last_save = None, time.monotonic()
    while step < settings.max_steps:
        left = deadline - time.monotonic() - 1.2 * eval_seconds
        if left <= (step_seconds or 0.0):
            break
        t0 = time.monotonic()
        i = rng.choice(train_idx, settings.batch_size)
        j = np.where(rng.uniform(size=settings.batch_size) < settings.remix_prob,
                     rng.choice(train_idx, settings.batch_size), i)
        target, mixed = clean[i], _remixed(clean, noise, i, j)
        gain = (target_rms / _rms(mixed))[:, None].astype(np.float32)  # scaled as in training and serving
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss, _ = bridge_loss(student, torch.from_numpy(target * gain), torch.from_numpy(mixed * gain),
                                  rate=torch.tensor([rates[k] for k in i], dtype=torch.float32),
                                  generator=generator, **loss_settings)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema.parameters(), student.parameters()):
                e.lerp_(p, 1 - settings.ema_decay)
            for e, b in zip(ema.buffers(), student.buffers()):
                e.copy_(b)
        step += 1
        took = time.monotonic() - t0
        elapsed += took
        step_seconds = took if step_seconds is None else 0.9 * step_seconds + 0.1 * took
        if progress is not None:
            remaining = max(deadline - time.monotonic(), 0.0)
            progress(step, step + int(max(remaining - 1.2 * eval_seconds, 0) / max(step_seconds, 1e-3)), remaining)
        if state_path and time.monotonic() - last_save > 30:
            save_state(state_path, student, ema, opt, step, rng, elapsed)
            last_save = time.monotonic()
    if state_path and step:
        save_state(state_path, student, ema, opt, step, rng, elapsed)

    adapted = type(model)(ema, model.config, metadata=copy.deepcopy(model.metadata), device=model.device,
                          batch_size=model.batch_size)
    adapted_score, _ = self_consistency(adapted, hold, hold_rates, noise[hold_idx], seed=settings.seed)
    band: dict = {}
    if model.config.task == "sensor" and model.band_calibrated:
        # The probe (output plus another segment's noise) is not the clean truth, so its fitted scale is not
        # used as it is: the base model's scale, fitted on real clean data, is carried over in the ratio
        # in which adapting changed the probe's fit.
        probe_base, _ = recalibrate_band(model, hold, hold_rates, noise[hold_idx], seed=settings.seed)
        probe_adapted, band = recalibrate_band(adapted, hold, hold_rates, noise[hold_idx], seed=settings.seed)
        scale = model.config.uncertainty_scale * probe_adapted / max(probe_base, 1e-9)
        band = {**band, "uncertainty_scale": scale, "probe_scale_base": probe_base,
                "probe_scale_adapted": probe_adapted,
                "rule": "base scale x (adapted / base) scale fitted on the probe"}
        adapted = adapted.with_config(dataclasses.replace(adapted.config, uncertainty_scale=scale))
    report = AdaptReport(base_score=base_score, adapted_score=adapted_score,
                         metric="SI-SDR" if model.config.task == "speech" else "SNR", steps=step,
                         minutes=(time.monotonic() - started) / 60, train_segments=len(train_idx),
                         holdout_segments=len(hold_idx), band=band)
    training = dict(adapted.metadata.get("training") or {})
    if band:
        training["calibration"] = {**band, "previous": (training.get("calibration") or {})}
    training["adapted"] = {
        "base_model": model.metadata.get("path", ""),
        "method": "remix (RemixIT-style self-training; the base model is the teacher)",
        "settings": dataclasses.asdict(settings),
        "inputs": [{"name": r.name, "seconds": round(r.seconds, 3), "sha256": r.sha256 or recording_checksum(r.data)}
                   for r in recordings],
        "report": {**dataclasses.asdict(report), "better": report.better},
    }
    adapted.metadata = {**adapted.metadata, "training": training}
    return adapted, report


def save_adapted(model, path: str | Path) -> None:
    """Write an adapted model as a checkpoint any front end loads (``load_model(path)``)."""
    meta = model.metadata
    save_checkpoint(path, model.network.state_dict(), model.config, data=meta.get("data") or {},
                    training=meta.get("training") or {})


def recordings_from_arrays(signals, sample_rate) -> list[Recording]:
    """``signals``: one array ``(time,)`` / ``(channels, time)`` or a list of them; ``sample_rate``: one rate
    or one per signal."""
    if isinstance(signals, (np.ndarray, torch.Tensor)):
        signals = [signals]
    signals = list(signals)
    rates = list(sample_rate) if isinstance(sample_rate, (list, tuple)) else [sample_rate] * len(signals)
    if len(rates) != len(signals):
        raise ValueError(f"{len(signals)} signals but {len(rates)} sample rates")
    out = []
    for k, (x, rate) in enumerate(zip(signals, rates)):
        x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        x = np.atleast_2d(np.asarray(x, np.float64))
        if x.ndim != 2 or not np.isfinite(x).all():
            raise ValueError(f"signal {k}: expected finite (time,) or (channels, time) samples, got shape {x.shape}")
        if not (isinstance(rate, (int, float, np.number)) and math.isfinite(rate) and rate > 0):
            raise ValueError(f"signal {k}: sample_rate must be a positive number, got {rate!r}")
        out.append(Recording(data=x, sample_rate=float(rate), name=f"signal {k}"))
    return out
