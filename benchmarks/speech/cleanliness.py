"""How clean each voice of the fetched speech corpus is, with no model: which groups may be targets.

    python -m benchmarks.speech.cleanliness [--package ktuberling-data]

Per speaker group, over its clips: the median of each clip's noise floor (the 5th percentile of
its 20 ms frame energies, dBFS) and of its range (95th minus 5th percentile, dB). A studio take
has pauses near digital silence (floor below about -45 dBFS, range 30 dB or more); a take with
room sound, hiss or no pauses at all sits far higher. This is how stage 3 (configs/speech-voices.toml)
chose which ktuberling languages to train on.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from sigdenoise.data import frame_energy_db
from sigdenoise.paths import CACHE


def clip_floor_and_range(audio: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """(noise floor in dBFS, 5-95 % frame-energy range in dB) of one clip."""
    energy = frame_energy_db(audio, sample_rate)[1]
    low, high = np.percentile(energy, [5, 95])
    return float(low), float(high - low)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default=None, help="only groups from this package (e.g. ktuberling-data)")
    parser.add_argument("--rate", type=int, default=16000, help="the prepared corpus' rate")
    args = parser.parse_args(argv)
    folder = CACHE / f"speech-{args.rate}"
    manifest = folder / "manifest.json"
    if not manifest.exists():
        raise SystemExit(f"{manifest} not found: run `sigdenoise fetch-data speech` first")
    groups: dict[str, list[tuple[float, float]]] = {}
    minutes: dict[str, float] = {}
    for clip in json.loads(manifest.read_text())["clips"]:
        if args.package and clip["package"] != args.package:
            continue
        groups.setdefault(clip["group"], []).append(clip_floor_and_range(np.load(folder / clip["file"]), args.rate))
        minutes[clip["group"]] = minutes.get(clip["group"], 0.0) + clip["seconds"] / 60
    print("| group | clips | minutes | median floor (dBFS) | median range (dB) |")
    print("|---|---|---|---|---|")
    for group in sorted(groups):
        values = np.array(groups[group])
        print(f"| {group} | {len(values)} | {minutes[group]:.1f} | {np.median(values[:, 0]):.1f} | "
              f"{np.median(values[:, 1]):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
