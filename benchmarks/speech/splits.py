"""Where a speech model's quality gap lies: on voices and noises it trained on, or on new ones.

    python -m benchmarks.speech.splits [--model speech] [--config configs/speech-range.toml] [--clips 48]

The benchmark's mixtures (``benchmarks.speech.mixtures``: 0/5/10/15 dB in turn, same construction)
are drawn four times, once per pair of

- voices: the training recordings (the held-out rule's complement minus the config's
  ``data.exclude_speakers``) or the held-out plain voices (Asterisk fr, KLettres de/nl; the Fillets voices
  are left out, their references carry room sound);
- noises: the training noise files or the held-out ones,

and every system denoises the same mixtures. The learned peers trained on none of these recordings, so
their rows change only with how hard each cell is; a model that leads on its own training voices and
noises and falls behind on new ones is short of data, one that trails everywhere is short of fit.
Writes a Markdown table and a .json of per-mixture numbers.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..common import machine_description, machine_line, si_sdr
from .floors import learned_peers
from .metrics import estoi, pesq_wb
from .mixtures import build_mixtures

CELLS = (("training", "training"), ("training", "held-out"), ("held-out", "training"), ("held-out", "held-out"))


def split_rule(voices: str, noises: str, exclude_speakers=()):
    """``select(clip, role)`` for :func:`build_mixtures`: which voices and noises one cell draws from."""
    from sigdenoise.data import is_excluded, is_validation

    def select(clip: dict, role: str) -> bool:
        held_out = is_validation(clip, role)
        if role == "noise":
            return held_out == (noises == "held-out")
        if voices == "held-out":
            return held_out and not clip["group"].startswith("cs-")
        return not held_out and not is_excluded(clip["group"], exclude_speakers)

    select.__qualname__ = f"split_rule({voices} voices, {noises} noises)"
    return select


def score(clean: np.ndarray, noisy: np.ndarray, out: np.ndarray) -> dict:
    return {"pesq": pesq_wb(clean, out), "estoi": estoi(clean, out), "si_sdr": si_sdr(clean, out),
            "si_sdr_in": si_sdr(clean, noisy)}


def summarise(rows: list[dict]) -> dict:
    """Means over one cell's mixtures, with the 0 and 5 dB inputs apart (where the gap to DTLN was)."""
    low = [r for r in rows if r["snr_db"] <= 5]
    return {"pesq": float(np.nanmean([r["pesq"] for r in rows])),
            "estoi": float(np.mean([r["estoi"] for r in rows])),
            "si_sdr": float(np.mean([r["si_sdr"] for r in rows])),
            "si_sdr_0_5db": float(np.mean([r["si_sdr"] for r in low])) if low else float("nan"),
            "si_sdr_in": float(np.mean([r["si_sdr_in"] for r in rows]))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="speech")
    parser.add_argument("--config", default="configs/speech-range.toml",
                        help="training config whose data.exclude_speakers defines the training voices")
    parser.add_argument("--clips", type=int, default=48, help="mixtures per cell (a multiple of 4 keeps SNRs even)")
    parser.add_argument("--out", default="benchmarks/speech/splits.md")
    args = parser.parse_args(argv)
    import torch

    import sigdenoise
    from sigdenoise.config import load_train_config

    torch.set_num_threads(2)
    exclude = load_train_config(args.config).data.exclude_speakers
    model = sigdenoise.load_model(args.model, device="cpu")
    systems = {"sigdenoise": lambda x, sr: model.denoise(x, sample_rate=sr), **learned_peers()}
    t = time.time()
    per_mixture = {}
    for voices, noises in CELLS:
        cell = f"{voices} voices, {noises} noises"
        mixtures = build_mixtures(args.clips, select=split_rule(voices, noises, exclude))
        per_mixture[cell] = {
            name: [{"mixture": m.name, "snr_db": m.snr_db, **score(m.clean, m.noisy, fn(m.noisy, m.sample_rate))}
                   for m in mixtures]
            for name, fn in systems.items()}
        print(f"[splits] {cell}: done", flush=True)
    summary = {cell: {name: summarise(rows) for name, rows in by_system.items()}
               for cell, by_system in per_mixture.items()}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps({"summary": summary, "per_mixture": per_mixture}, indent=1))
    out.write_text("\n".join(render(summary, args, time.time() - t)) + "\n")
    print(out.read_text())


def render(summary: dict, args, seconds: float) -> list[str]:
    lines = ["# Speech: seen and unseen voices and noises", "",
             f"`python -m benchmarks.speech.splits --model {args.model} --config {args.config} "
             f"--clips {args.clips}` — "
             f"{machine_line(machine_description())}, {time.strftime('%Y-%m-%d')}, {seconds:.0f} s", "",
             f"{args.clips} mixtures per cell at 0/5/10/15 dB in turn, built as the benchmark's are. \"Training\" "
             "means the recordings the shipped recipe trains on (new mixtures of them); the peers trained on none "
             "of these recordings. Held-out voices are the plain ones (Asterisk fr, KLettres de/nl).", "",
             "SI-SDR (dB), sigdenoise minus each peer; positive means sigdenoise leads:", ""]
    cells = list(summary)
    peers = [name for name in summary[cells[0]] if name != "sigdenoise"]
    lines += ["| voices, noises | noisy input | sigdenoise | " + " | ".join(f"vs {p}" for p in peers) + " |",
              "|---" * (len(peers) + 3) + "|"]
    for cell in cells:
        ours = summary[cell]["sigdenoise"]["si_sdr"]
        lines.append(f"| {cell} | {summary[cell]['sigdenoise']['si_sdr_in']:.2f} | {ours:.2f} | "
                     + " | ".join(f"{ours - summary[cell][p]['si_sdr']:+.2f}" for p in peers) + " |")
    lines += ["", "Every system, every cell:", "",
              "| voices, noises | system | PESQ | ESTOI | SI-SDR | SI-SDR at 0–5 dB |", "|---|---|---|---|---|---|"]
    for cell in cells:
        for name, s in summary[cell].items():
            lines.append(f"| {cell} | {name} | {s['pesq']:.3f} | {s['estoi']:.3f} | {s['si_sdr']:.2f} | "
                         f"{s['si_sdr_0_5db']:.2f} |")
    return lines


if __name__ == "__main__":
    main()
