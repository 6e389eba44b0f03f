"""What more sampler calls do to a speech model on the unseen-source mixtures (the web UI and model card quote it).

    python -m benchmarks.speech.calls [--model speech] [--clips 80] [--calls 1 2 4 8]

Writes ``benchmarks/speech/calls.md`` (and ``calls.json``): PESQ, ESTOI, SI-SDR and DNSMOS at each call count, with
each count's difference from the model's default, clip by clip. It reports; it does not choose the default (that
is picked on the training run's validation mixtures: ``benchmarks.speech.sweep``).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from sigdenoise.io import atomic_write

from ..common import display_path, machine_description, machine_line, markdown_table, mean_ci
from .metrics import SpeechMetrics
from .mixtures import build_mixtures

KEYS = ("pesq", "estoi", "si_sdr", "dnsmos_ovrl")
HEADER = ["PESQ (wb)", "ESTOI", "SI-SDR (dB)", "DNSMOS OVRL"]


def paired(a: list[dict], b: list[dict], key: str) -> str:
    mean, half, _ = mean_ci([x[key] - y[key] for x, y in zip(a, b)])
    return f"{mean:+.3f} ± {half:.3f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="speech")
    ap.add_argument("--clips", type=int, default=80)
    ap.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--out", default="benchmarks/speech/calls.md")
    args = ap.parse_args(argv)
    from sigdenoise import load_model

    torch.set_num_threads(1)
    machine, start = machine_description(), time.time()
    model = load_model(args.model, device="cpu")
    default = model.config.bridge.default_steps
    mixtures = build_mixtures(args.clips, split="unseen")
    metrics = SpeechMetrics()
    scores = {calls: [metrics(m.clean, model.denoise(m.noisy, sample_rate=m.sample_rate, steps=calls, seed=0))
                      for m in mixtures] for calls in sorted(set(args.calls) | {default})}
    rows = [[f"{calls}" + (" (default)" if calls == default else "")]
            + [f"{np.nanmean([s[k] for s in per_clip]):.3f}" for k in KEYS] for calls, per_clip in scores.items()]
    diffs = [[f"{calls} − {default}"] + [paired(scores[calls], scores[default], k) for k in KEYS]
             for calls in scores if calls != default]
    command = ("python -m benchmarks.speech.calls" + (f" --model {args.model}" if args.model != "speech" else "")
               + (f" --clips {args.clips}" if args.clips != 80 else "")
               + (f" --calls {' '.join(map(str, args.calls))}" if args.calls != [1, 2, 4, 8] else ""))
    text = "\n".join([
        "# Speech: what more sampler calls do (unseen-source mixtures)", "",
        f"- command: `{command}`", f"- machine: {machine_line(machine)}; {time.time() - start:.0f} s",
        f"- model: {display_path(str(model.info().get('path', args.model)))}, default {default} call(s); "
        f"{len(mixtures)} mixtures of `build_mixtures({args.clips}, split=\"unseen\")`, seed 0 for the sampler", "",
        "Means over clips:", "", markdown_table(["calls", *HEADER], rows), "",
        "Each count minus the default, clip by clip (mean ± half-width of the 95 % interval):", "",
        markdown_table(["calls", *HEADER], diffs), ""])
    out = Path(args.out)
    payload = json.dumps({"command": command, "machine": machine, "default": default,
                          "per_clip": {str(c): s for c, s in scores.items()}}, indent=1)
    for path, content in ((out, text), (out.with_suffix(".json"), payload)):  # a killed run leaves the old tables
        atomic_write(path, lambda tmp, content=content: tmp.write_text(content))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
