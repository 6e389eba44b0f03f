"""Deterministic validation mixtures from held-out speakers and held-out noise files.

The corpora are the project's cache (``python -m sigdenoise.sources`` fills it):
``~/.cache/sigdenoise/{speech,noise}-16000/manifest.json``, mono float32 .npy
clips at 16 kHz. Only clips for which ``sigdenoise.data.is_validation(clip, role)``
holds are used, unless a caller passes another ``select`` rule (``benchmarks.speech.splits``
draws the same kind of mixtures from the training split too).

Construction (everything is seeded; mixture ``i`` depends only on ``seed`` and
``i``, so ``--clips 8`` gives the first 8 mixtures of ``--clips 60``):

* Utterances: each held-out speaker's clips in a seeded order; a clip of
  >= 2 s stands alone (cropped to 8 s), shorter ones are joined with 0.2 s of
  silence until 3-6 s. Utterances are taken round-robin over the corpora
  (Asterisk fr, Fillets Czech minor voices, KLettres de/nl) and, inside a corpus,
  over its speakers, so a small ``--clips`` still covers several voices.
* Noise: held-out noise files of >= 1 s, taken round-robin over source files
  (the OpenTTD catalogue counts as one); a random excerpt the length of the
  utterance, looped with a 50 ms cross-fade where the file is shorter.
* SNR: 0, 5, 10, 15 dB in turn (mixture ``i`` gets ``SNRS[i % 4]``), defined on
  the RMS of the whole utterance and of the whole noise excerpt. The clean speech
  is set to -25 dBFS RMS +- 5 dB (seeded), and both are scaled down together if
  the mixture would peak above 0.95.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

SR = 16000
SNRS = (0, 5, 10, 15)
SEED = 20240917
GAP_S = 0.2
CACHE = Path(os.environ.get("SIGDENOISE_CACHE", Path.home() / ".cache" / "sigdenoise"))


@dataclass
class Mixture:
    name: str
    snr_db: float
    clean: np.ndarray
    noisy: np.ndarray
    sample_rate: int = SR
    info: dict = field(default_factory=dict)


def _manifest(role: str) -> tuple[Path, list[dict]]:
    root = CACHE / f"{role}-{SR}"
    path = root / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `sigdenoise fetch-data {role}` first")
    return root, json.loads(path.read_text())["clips"]


def _corpus(group: str) -> str:
    """The recording family of a speaker: three families, so that (3 and 4 being coprime)
    every family meets every SNR within 12 consecutive mixtures."""
    for prefix in ("cs-", "klettres-", "nl-"):
        if group.startswith(prefix):
            return prefix[:-1]
    return group


def _stable_seed(*parts) -> int:
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:12], 16)


def _utterance_plans(clips: list[dict], seed: int) -> list[list[dict]]:
    """Lists of clips (one speaker each) that make one utterance, in round-robin order."""
    by_speaker: dict[str, list[dict]] = {}
    for c in sorted(clips, key=lambda c: c["file"]):
        by_speaker.setdefault(c["group"], []).append(c)
    per_speaker: dict[str, list[list[dict]]] = {}
    for spk, items in sorted(by_speaker.items()):
        rng = np.random.default_rng(_stable_seed(seed, "speaker", spk))
        order = [items[k] for k in rng.permutation(len(items))]
        plans, buf, target = [], [], rng.uniform(3.0, 6.0)
        for c in order:
            if c["seconds"] >= 2.0:
                plans.append([c])
                continue
            length = sum(x["seconds"] for x in buf) + GAP_S * len(buf)
            if buf and length + GAP_S + c["seconds"] > 6.0:
                if length >= 2.0:
                    plans.append(buf)
                buf, target = [], rng.uniform(3.0, 6.0)
            buf.append(c)
            if sum(x["seconds"] for x in buf) + GAP_S * (len(buf) - 1) >= target:
                plans.append(buf)
                buf, target = [], rng.uniform(3.0, 6.0)
        if plans:
            per_speaker[spk] = plans
    # Round-robin: corpora in turn, and within a corpus its speakers in turn.
    corpora: dict[str, list[str]] = {}
    for spk in sorted(per_speaker):
        corpora.setdefault(_corpus(spk), []).append(spk)
    rng = np.random.default_rng(_stable_seed(seed, "order"))
    streams = []
    for corpus in sorted(corpora):
        speakers = [corpora[corpus][k] for k in rng.permutation(len(corpora[corpus]))]
        queues = [list(per_speaker[s]) for s in speakers]
        stream = []
        while any(queues):
            for q in queues:
                if q:
                    stream.append(q.pop(0))
        streams.append(stream)
    out = []
    while any(streams):
        for s in streams:
            if s:
                out.append(s.pop(0))
    return out


def _noise_order(clips: list[dict], seed: int) -> list[dict]:
    by_source: dict[str, list[dict]] = {}
    for c in sorted(clips, key=lambda c: c["file"]):
        if c["seconds"] >= 1.0:
            by_source.setdefault(c["group"], []).append(c)
    rng = np.random.default_rng(_stable_seed(seed, "noise"))
    sources = sorted(by_source)
    sources = [sources[k] for k in rng.permutation(len(sources))]
    queues = [[by_source[s][k] for k in rng.permutation(len(by_source[s]))] for s in sources]
    out = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def _load(root: Path, clip: dict) -> np.ndarray:
    return np.load(root / clip["file"]).astype(np.float32).reshape(-1)


def _noise_excerpt(noise: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if noise.size >= n:
        start = int(rng.integers(0, noise.size - n + 1))
        return noise[start:start + n].copy()
    fade = min(int(0.05 * SR), noise.size // 4)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    out = noise.copy()
    while out.size < n + noise.size:
        head = out[-fade:] * ramp[::-1] + noise[:fade] * ramp
        out = np.concatenate([out[:-fade], head, noise[fade:]])
    start = int(rng.integers(0, noise.size))
    return out[start:start + n].copy()


def _package_noise(root: Path, clips: list[dict], n: int, rng: np.random.Generator) -> tuple[dict, np.ndarray]:
    """``n`` samples of one noise package: an excerpt of one of its files of 1 s or more, or, for a package
    of short events only (key clicks), its events laid one after another at 2-8 per second, as typing is."""
    long = [c for c in clips if c["seconds"] >= 1.0]
    for _ in range(20):
        if long:
            clip = long[int(rng.integers(len(long)))]
            out = _noise_excerpt(_load(root, clip), n, rng)
        else:
            clip = {"file": "(events)", "package": clips[0]["package"],
                    "source": f"{len(clips)} short files laid in sequence"}
            out = np.zeros(n, np.float32)
            at = int(rng.integers(0, SR // 4))
            while at < n:
                event = _load(root, clips[int(rng.integers(len(clips)))])[: n - at]
                out[at:at + event.size] += event
                at += int(SR / rng.uniform(2.0, 8.0))
        out = out - out.mean()
        if _rms(out) > 1e-4:
            return clip, out
    return clip, out


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def every_clip(clip: dict, role: str) -> bool:
    """The selection rule of the unseen-source split: its packages are held out whole, so all of them
    (but grunts and effects, which are not speech)."""
    from sigdenoise.data import NOT_SPEECH_GROUPS

    return role != "speech" or clip["group"] not in NOT_SPEECH_GROUPS


# split name -> (speech cache, noise cache, selection rule); "unseen" reads only packages no training stage reads
SPLITS = {"in-package": ("speech", "noise", None), "unseen": ("heldout-speech", "heldout-noise", every_clip)}


def build_mixtures(n_clips: int, seed: int = SEED, select: Callable[[dict, str], bool] | None = None,
                   split: str = "in-package") -> list[Mixture]:
    """The first ``n_clips`` mixtures (deterministic for a given seed) of ``split``'s caches.

    "in-package" keeps the clips ``select(clip, role)`` keeps ("speech" or "noise"; by default the held-out
    validation files of the training packages); "unseen" mixes the whole held-out packages of
    ``sigdenoise.sources.HELDOUT_*_SOURCES``."""
    speech_role, noise_role, split_rule = SPLITS[split]
    if select is None:
        select = split_rule
    if select is None:
        from sigdenoise.data import is_validation as select
    rule = f"{select.__module__}.{select.__qualname__}"
    s_root, s_clips = _manifest(speech_role)
    n_root, n_clips_all = _manifest(noise_role)
    speech = [c for c in s_clips if select(c, "speech")]
    noise = [c for c in n_clips_all if select(c, "noise")]
    plans = _utterance_plans(speech, seed)
    noises = _noise_order(noise, seed)
    by_package: dict[str, list[dict]] = {}
    if split == "unseen":
        for c in sorted(noise, key=lambda c: c["file"]):
            by_package.setdefault(c["package"], []).append(c)
    if n_clips > len(plans):
        raise ValueError(f"only {len(plans)} utterances in the selected split, {n_clips} asked")
    mixtures = []
    for i in range(n_clips):
        rng = np.random.default_rng(_stable_seed(seed, "mixture", i))
        plan = plans[i]
        gap = np.zeros(int(GAP_S * SR), np.float32)
        parts = []
        for k, c in enumerate(plan):
            if k:
                parts.append(gap)
            parts.append(_load(s_root, c))
        clean = np.concatenate(parts)[: 8 * SR]
        clean = clean - clean.mean()
        snr = float(SNRS[i % len(SNRS)])
        if by_package:  # packages in turn (five of them against four SNRs: every package meets every SNR)
            package = sorted(by_package)[i % len(by_package)]
            nclip, excerpt = _package_noise(n_root, by_package[package], clean.size, rng)
        for attempt in range(0 if by_package else len(noises)):
            nclip = noises[(i + attempt * 7) % len(noises)]
            excerpt = _noise_excerpt(_load(n_root, nclip), clean.size, rng)
            excerpt = excerpt - excerpt.mean()
            if _rms(excerpt) > 1e-4:
                break
        level_db = -25.0 + float(rng.uniform(-5.0, 5.0))
        clean = clean * (10 ** (level_db / 20) / max(_rms(clean), 1e-9))
        excerpt = excerpt * (_rms(clean) / _rms(excerpt) / 10 ** (snr / 20))
        noisy = clean + excerpt
        peak = float(np.max(np.abs(noisy)))
        if peak > 0.95:
            clean, excerpt, noisy = (a * (0.95 / peak) for a in (clean, excerpt, noisy))
        mixtures.append(Mixture(
            name=f"{i:03d}_{plan[0]['group']}_{snr:g}dB",
            snr_db=snr,
            clean=clean.astype(np.float32),
            noisy=noisy.astype(np.float32),
            info={
                "speaker": plan[0]["group"],
                "speech_files": [c["file"] for c in plan],
                "noise_file": nclip["file"],
                "noise_package": nclip.get("package", ""),
                "noise_source": nclip["source"],
                "seconds": round(clean.size / SR, 3),
                "level_dbfs": round(20 * np.log10(_rms(clean) + 1e-12), 2),
                "split_rule": rule,
            },
        ))
    return mixtures


if __name__ == "__main__":
    import sys

    for m in build_mixtures(int(sys.argv[1]) if len(sys.argv) > 1 else 8):
        actual = 20 * np.log10(_rms(m.clean) / _rms(m.noisy - m.clean))
        print(f"{m.name:28s} {m.info['seconds']:5.2f}s snr={actual:5.2f} peak={np.abs(m.noisy).max():.2f} "
              f"noise={m.info['noise_source']}")
