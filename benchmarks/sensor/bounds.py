"""How far the first sensor model's floor is from what any time-frequency mask could do, on the benchmark's own cases.

    python -m benchmarks.sensor.bounds [--results benchmarks/sensor/results.json] [--out benchmarks/sensor/bounds.md]

Reads the per-case numbers of a finished ``benchmarks.sensor.run`` and adds two bounds no real
system reaches, both computed with the clean trace in hand:

- **ideal Wiener mask**: per STFT bin (the sensor model's own 126-point, hop-32 grid) the gain
  ``|C|² / (|C|² + |N|²)`` from the true clean (C) and corruption (N) spectra, applied to the noisy
  input: the oracle mask of the enhancement literature, a reference point for what masking a
  spectrogram can reach with perfect knowledge (not a strict bound: it is not the per-bin optimum
  for one realisation, and a model that writes new content, as under clipping, is not a mask);
- **best of all**: per case the best of sigdenoise, every classical filter and the untouched input,
  what a perfect chooser among them would score.

The floor is the classical oracle + 3 dB on average and ahead of it on every recipe.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sigdenoise.io import atomic_write

from ..common import markdown_table
from .run import IDEAL_MASK, SEED, build_cases, build_traces, ideal_mask_output



def main(argv=None) -> int:
    from sigdenoise.calibrate import output_snr

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default="benchmarks/sensor/results.json")
    ap.add_argument("--out", default="benchmarks/sensor/bounds.md")
    args = ap.parse_args(argv)
    run = json.loads(Path(args.results).read_text())
    seed = run.get("seed", SEED)
    traces = build_traces(per_family=8, max_samples=4096, seed=seed)
    cases = build_cases(traces, seed=seed)
    if len(cases) != len(run["cases"]):
        raise SystemExit(f"{args.results} holds {len(run['cases'])} cases, the default benchmark {len(cases)}: "
                         "rerun benchmarks.sensor.run with its defaults first")
    systems = [k for k in run["cases"][0] if isinstance(run["cases"][0][k], dict)]
    classical = [k for k in systems if k not in ("noisy input", "sigdenoise", "best classical (oracle)", IDEAL_MASK)]
    rows = []
    for case, stored in zip(cases, run["cases"]):
        trace = traces[case["trace"]]
        if (trace["file"], case["recipe"]) != (stored["file"], stored["recipe"]):
            raise SystemExit(f"{args.results} was run on other cases (seed or trace windows differ)")
        candidates = [stored[k]["snr"] for k in ["noisy input", *classical, "sigdenoise"]]
        rows.append({"recipe": case["recipe"], "family": trace["family"],
                     "input": stored["noisy input"]["snr"], "sigdenoise": stored["sigdenoise"]["snr"],
                     "oracle": stored["best classical (oracle)"]["snr"], "best of all": max(candidates),
                     "ideal mask": output_snr(trace["clean"], ideal_mask_output(trace["clean"], case["noisy"]))})

    columns = ["input", "sigdenoise", "oracle", "best of all", "ideal mask"]

    def table(key: str, label: str) -> str:
        groups = list(dict.fromkeys(r[key] for r in rows)) + ["all"]
        body = []
        for g in groups:
            sel = [r for r in rows if g == "all" or r[key] == g]
            means = {c: float(np.mean([r[c] for r in sel])) for c in columns}
            body.append([g, str(len(sel)), *(f"{means[c]:.1f}" for c in columns)])
        header = [label, "n", "input SNR", "sigdenoise", "classical oracle", "best of all (oracle chooser)",
                  "ideal Wiener mask"]
        return markdown_table(header, body)

    floor = float(np.mean([r["oracle"] for r in rows])) + 3
    text = "\n".join([
        "# Sensor benchmark: bounds", "",
        f"- command: `python -m benchmarks.sensor.bounds --results {args.results}`",
        f"- cases: the {len(rows)} of `{run['command']}` (seed {seed}); sigdenoise: {run['sigdenoise']}", "",
        "Output SNR in dB, means over cases. **classical oracle**: per case the best classical filter. "
        "**best of all**: per case the best of sigdenoise, every classical filter and the untouched input. "
        "**ideal Wiener mask**: per bin of a 126-point, hop-32 STFT the gain |C|²/(|C|²+|N|²) from the "
        "true clean and corruption spectra. All three choose with the clean trace in hand; no real system can.",
        "", f"The first sensor model's floor: {floor:.1f} dB on average (the classical oracle + 3) and ahead of the classical "
        "oracle on every recipe.",
        "", "## Per recipe", "", table("recipe", "recipe"), "", "## Per held-out family", "",
        table("family", "family"), ""])
    atomic_write(Path(args.out), lambda tmp: tmp.write_text(text))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
