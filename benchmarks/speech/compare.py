"""Two systems of two speech benchmark runs, clip by clip on the same mixtures.

    python -m benchmarks.speech.compare NEW.json OLD.json [--label "sigdenoise (1 step)"] [--old-label DTLN]

Each run scores every system on its own mixtures; two runs built with the same split, clip count and seed
hold the same mixtures, so a candidate model's run (``benchmarks.speech.run --model ... --out NEW.md``) can be
set against the committed table's JSON clip by clip. Prints, per metric, the mean difference (NEW minus OLD)
± the half-width of its 95 % normal interval, and on how many clips NEW scored higher. Refuses runs whose
mixtures differ.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from ..common import mean_ci
from .run import METRICS

DEFAULT_LABEL = "sigdenoise (1 step)"


def _system(run: dict, label: str, path: str) -> list[dict]:
    for system in run["systems"]:
        if system["label"] == label:
            return system["per_clip"]
    labels = ", ".join(repr(s["label"]) for s in run["systems"])
    raise SystemExit(f"{path}: no system labelled {label!r}; it holds {labels}")


def compare(new: dict, old: dict, *, label: str = DEFAULT_LABEL, old_label: str | None = None,
            new_path: str = "NEW", old_path: str = "OLD") -> list[str]:
    """One line per metric: NEW's system minus OLD's, clip by clip."""
    if [c["name"] for c in new["clips"]] != [c["name"] for c in old["clips"]] or new["seed"] != old["seed"]:
        raise SystemExit(f"{new_path} and {old_path} were built from different mixtures (split, --clips or --seed "
                         "differ): run the candidate with the same command as the table it is compared with")
    a, b = _system(new, label, new_path), _system(old, old_label or label, old_path)
    lines = []
    for key, name, digits in METRICS:
        pairs = [(x[key], y[key]) for x, y in zip(a, b) if not (math.isnan(x[key]) or math.isnan(y[key]))]
        diff, half, n = mean_ci([x - y for x, y in pairs])
        new_mean, old_mean = (mean_ci([p[i] for p in pairs])[0] for i in (0, 1))
        lines.append(f"{name}: {new_mean:.{digits + 1}f} vs {old_mean:.{digits + 1}f}, difference "
                     f"{diff:+.{digits + 1}f} ± {half:.{digits + 1}f} (higher on {sum(x > y for x, y in pairs)}/{n})")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("new", help="the candidate run's JSON (written next to its --out table)")
    ap.add_argument("old", help="the run to compare with, e.g. benchmarks/speech/unseen.json")
    ap.add_argument("--label", default=DEFAULT_LABEL, help=f"the system in NEW (default {DEFAULT_LABEL!r})")
    ap.add_argument("--old-label", help="the system in OLD (default: the same label)")
    args = ap.parse_args(argv)
    with open(args.new) as fh_new, open(args.old) as fh_old:
        new, old = json.load(fh_new), json.load(fh_old)
    print("\n".join(compare(new, old, label=args.label, old_label=args.old_label, new_path=args.new,
                            old_path=args.old)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
