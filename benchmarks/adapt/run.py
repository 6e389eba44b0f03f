"""Does `sigdenoise adapt` help on data the model never met? Bundled model against its adapted copy.

    python -m benchmarks.adapt.run [--part speech|sensor|both] [--minutes 10] [--clips 80]

Each part adapts the bundled model on noisy inputs alone (clean signals are used only to score), with
the default time budget, then scores the bundled and the adapted model on the same inputs:

* speech: the unseen-source mixtures of ``benchmarks.speech`` (Dutch voices, five held-out noise
  packages; ``sigdenoise fetch-data heldout-speech heldout-noise``), adapting on those noisy mixtures
  themselves: PESQ, ESTOI, SI-SDR per model, and the paired SI-SDR difference.
* sensor: the sensor benchmark's held-out families, every corruption recipe brought to an input SNR
  drawn from -5…10 dB, adapting on all those noisy windows: output SNR per family and per recipe, and
  the 90 % band's coverage after recalibration.

Writes ``benchmarks/adapt/results.md`` (and ``.json``) with the command and the machine.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from ..common import fmt, machine_description, machine_line, markdown_table, mean_ci

SENSOR_SEED = 20261207


def _speech_part(args) -> tuple[list[str], dict]:
    import sigdenoise
    from benchmarks.speech.metrics import SpeechMetrics
    from benchmarks.speech.mixtures import build_mixtures

    mixtures = build_mixtures(args.clips, split="unseen")
    base = sigdenoise.load_model("speech", device="cpu")
    t0 = time.perf_counter()
    adapted = base.adapt([m.noisy for m in mixtures], sample_rate=16000, minutes=args.minutes, keep_worse=True,
                         seed=args.seed)
    minutes = (time.perf_counter() - t0) / 60
    metric = SpeechMetrics()
    scores = {"noisy input": [], "bundled": [], "adapted": []}
    for m in mixtures:
        scores["noisy input"].append(metric(m.clean, m.noisy))
        scores["bundled"].append(metric(m.clean, base.denoise(m.noisy, sample_rate=16000)))
        scores["adapted"].append(metric(m.clean, adapted.denoise(m.noisy, sample_rate=16000)))
    rows = []
    for label, per_clip in scores.items():
        cells = []
        for k, d in (("pesq", 2), ("estoi", 3), ("si_sdr", 1), ("dnsmos_ovrl", 2)):
            mean, half, _ = mean_ci([c[k] for c in per_clip])
            cells.append(fmt(mean, d, half))
        rows.append([label] + cells)
    diff = [a["si_sdr"] - b["si_sdr"] for a, b in zip(scores["adapted"], scores["bundled"])]
    d_mean, d_half, _ = mean_ci(diff)
    report = adapted.adapt_report
    lines = ["## Speech: adapting on the unseen-source mixtures themselves", "",
             f"{len(mixtures)} mixtures (`build_mixtures({args.clips}, split=\"unseen\")`), adapted for "
             f"{minutes:.1f} min ({report.steps} steps); the bundled and adapted models at their default steps.", "",
             markdown_table(["system", "PESQ (wb)", "ESTOI", "SI-SDR (dB)", "DNSMOS OVRL"], rows), "",
             f"- adapted minus bundled, clip by clip: SI-SDR {d_mean:+.2f} ± {d_half:.2f} dB "
             f"(higher on {sum(d > 0 for d in diff)}/{len(diff)} clips)",
             f"- its own verdict, without clean data: {report.describe()}", ""]
    return lines, {"minutes": minutes, "report": {**report.__dict__, "better": report.better},
                   "per_clip": scores}


def _sensor_cases(traces, seed: int) -> list[dict]:
    """Every trace x recipe with the corruption scaled to an input SNR drawn from -5…10 dB."""
    from sigdenoise.calibrate import output_snr
    from sigdenoise.sensor_data import RECIPES

    cases = []
    for t, trace in enumerate(traces):
        for r, name in enumerate(RECIPES):
            rng = np.random.default_rng([seed, t, r])
            clean = trace["clean"]
            corruption = RECIPES[name](clean, rng, trace["sample_rate"]) - clean  # NaN where a gap is
            finite = np.isfinite(corruption)
            now = output_snr(clean[finite], clean[finite] + corruption[finite])
            wanted = rng.uniform(-5.0, 10.0)
            noisy = clean + corruption * 10 ** ((now - wanted) / 20)
            cases.append({"trace": t, "recipe": name, "noisy": noisy, "input_snr": wanted})
    return cases


def _sensor_part(args) -> tuple[list[str], dict]:
    import sigdenoise
    from benchmarks.sensor.run import build_traces, metrics
    from sigdenoise.band import Z90
    from sigdenoise.preprocess import repair_nonfinite

    traces = build_traces(per_family=args.per_family, max_samples=8192, seed=SENSOR_SEED)
    cases = _sensor_cases(traces, SENSOR_SEED)
    base = sigdenoise.load_model("sensor", device="cpu")
    t0 = time.perf_counter()
    inputs = [repair_nonfinite(c["noisy"], repair=True, name="benchmark input")[0] for c in cases]
    rates = [traces[c["trace"]]["sample_rate"] for c in cases]
    adapted = base.adapt(inputs, sample_rate=rates, minutes=args.minutes, keep_worse=True, seed=args.seed)
    minutes = (time.perf_counter() - t0) / 60
    rows_by = {}
    for label, model in (("bundled", base), ("adapted", adapted)):
        per_case = []
        for case, x, rate in zip(cases, inputs, rates):
            clean = traces[case["trace"]]["clean"]
            result = model.denoise_detailed(x, sample_rate=rate, num_samples=8, repair_nan=True)
            mean, std = np.asarray(result.mean, np.float64), np.asarray(result.std, np.float64)
            per_case.append({**metrics(clean, mean), "coverage": float(np.mean(np.abs(clean - mean) <= Z90 * std)),
                             "family": traces[case["trace"]]["family"], "recipe": case["recipe"]})
        rows_by[label] = per_case
    noisy = [{**metrics(traces[c["trace"]]["clean"], x), "family": traces[c["trace"]]["family"],
              "recipe": c["recipe"]} for c, x in zip(cases, inputs)]

    def table(key: str) -> list[list[str]]:
        rows = []
        for value in sorted({c[key] for c in noisy}):
            pick = [i for i, c in enumerate(noisy) if c[key] == value]
            b = np.mean([rows_by["bundled"][i]["snr"] for i in pick])
            a = np.mean([rows_by["adapted"][i]["snr"] for i in pick])
            rows.append([value, str(len(pick)), fmt(np.mean([noisy[i]["snr"] for i in pick]), 1), fmt(b, 1), fmt(a, 1),
                         f"{a - b:+.2f}", fmt(100 * np.mean([rows_by["adapted"][i]["coverage"] for i in pick]), 1)])
        return rows

    header = ["", "cases", "noisy SNR", "bundled SNR", "adapted SNR", "change (dB)", "adapted band coverage (%)"]
    overall_b = np.mean([c["snr"] for c in rows_by["bundled"]])
    overall_a = np.mean([c["snr"] for c in rows_by["adapted"]])
    report = adapted.adapt_report
    lines = ["## Sensor: adapting on low-SNR held-out logs", "",
             f"{len(cases)} windows: {len(traces)} held-out traces x every recipe at an input SNR drawn from "
             f"-5…10 dB (seed {SENSOR_SEED}); adapted for {minutes:.1f} min ({report.steps} steps). Output SNR in dB; "
             "band coverage: share of clean samples inside the 90 % band (8 posterior samples).", "",
             f"- mean output SNR: bundled {overall_b:.2f} dB, adapted {overall_a:.2f} dB ({overall_a - overall_b:+.2f}); "
             f"band coverage bundled {100 * np.mean([c['coverage'] for c in rows_by['bundled']]):.1f} %, adapted "
             f"{100 * np.mean([c['coverage'] for c in rows_by['adapted']]):.1f} %",
             f"- its own verdict, without clean data: {report.describe()}", "",
             "### Per family", "", markdown_table(["family"] + header[1:], table("family")), "",
             "### Per recipe", "", markdown_table(["recipe"] + header[1:], table("recipe")), ""]
    return lines, {"minutes": minutes, "report": {**report.__dict__, "better": report.better},
                   "bundled": rows_by["bundled"], "adapted": rows_by["adapted"], "noisy": noisy}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["speech", "sensor", "both"], default="both")
    parser.add_argument("--minutes", type=float, default=10.0, help="adapt's time budget per part (default 10)")
    parser.add_argument("--clips", type=int, default=80, help="speech: unseen-source mixtures (default 80)")
    parser.add_argument("--per-family", type=int, default=3, help="sensor: held-out traces per family (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/adapt/results.md")
    args = parser.parse_args(argv)
    command = "python -m benchmarks.adapt.run " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    machine = machine_description()
    lines = ["# Adapting to the user's data (`sigdenoise adapt`)", "", f"- command: `{command}`",
             f"- date: {machine['date']}", f"- machine: {machine_line(machine)}", ""]
    payload = {"command": command, "machine": machine}
    for part, run in (("speech", _speech_part), ("sensor", _sensor_part)):
        if args.part in (part, "both"):
            part_lines, payload[part] = run(args)
            lines += part_lines
            print("\n".join(part_lines), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1, default=float))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
