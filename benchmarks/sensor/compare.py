"""Two sensor benchmark runs' sigdenoise rows, case by case on the same cases.

    python -m benchmarks.sensor.compare NEW.json OLD.json

A candidate sensor model's run (``benchmarks.sensor.run --model ... --out NEW.md``, the JSON lands beside
it) against the committed table's JSON, made with the same ``--snr``, ``--traces``, ``--max-samples`` and
``--seed``: the output-SNR difference (NEW minus OLD) ± the half-width of its 95 % normal interval overall,
per recipe and per held-out family; band coverage before and after; and the worst clean-input trace per
family. Refuses runs of different cases.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..common import fmt, markdown_table, mean_ci


def _key(case: dict) -> tuple:
    return case["family"], case["file"], case["start"], case["samples"], case["recipe"]


def _difference(new: list[dict], old: list[dict]) -> tuple[str, str, str, str]:
    """OLD and NEW mean output SNR, their case-by-case difference, and coverage OLD -> NEW (%)."""
    diff, half, _ = mean_ci([a["snr"] - b["snr"] for a, b in zip(new, old)])
    coverage = [mean_ci([c["coverage"] for c in run])[0] * 100 for run in (old, new)]
    return (fmt(mean_ci([c["snr"] for c in old])[0], 2), fmt(mean_ci([c["snr"] for c in new])[0], 2),
            f"{diff:+.2f} ± {half:.2f}", f"{coverage[0]:.1f} → {coverage[1]:.1f}")


def compare(new: dict, old: dict, *, new_path: str = "NEW", old_path: str = "OLD") -> str:
    """A Markdown report of NEW's sigdenoise against OLD's, case by case."""
    if new["seed"] != old["seed"] or [_key(c) for c in new["cases"]] != [_key(c) for c in old["cases"]] \
            or new.get("snr_db") != old.get("snr_db"):
        raise SystemExit(f"{new_path} and {old_path} hold different cases (--snr, --traces, --max-samples or --seed "
                         "differ): run the candidate with the same command as the table it is compared with")
    if any(c.get("sigdenoise") is None for c in new["cases"] + old["cases"]):
        raise SystemExit("a run without sigdenoise rows (it could not load its model) has nothing to compare")
    pairs = [(a["sigdenoise"], b["sigdenoise"]) for a, b in zip(new["cases"], old["cases"])]
    header = ["cases", "n", "OLD SNR", "NEW SNR", "NEW − OLD (dB)", "coverage OLD → NEW (%)"]

    def rows(field: str) -> list[list[str]]:
        out = []
        for value in sorted({c[field] for c in old["cases"]}):
            picked = [p for p, c in zip(pairs, old["cases"]) if c[field] == value]
            out.append([value, str(len(picked)), *_difference([p[0] for p in picked], [p[1] for p in picked])])
        return out

    overall = [["all", str(len(pairs)), *_difference([p[0] for p in pairs], [p[1] for p in pairs])]]
    lines = [f"NEW: {new_path}; OLD: {old_path}; {len(pairs)} cases.", "",
             markdown_table(header, overall + rows("recipe") + rows("family"))]
    if new.get("clean_input") and old.get("clean_input"):
        worst = []
        for family in sorted({c["family"] for c in old["clean_input"]}):
            pick = [[c["snr"] for c in run["clean_input"] if c["family"] == family] for run in (old, new)]
            worst.append([family, *(("100+" if min(p) >= 100 else fmt(min(p), 1)) for p in pick)])
        lines += ["", "Clean input, worst trace against itself (dB):", "",
                  markdown_table(["family", "OLD", "NEW"], worst)]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("new", help="the candidate run's JSON (written next to its --out table)")
    ap.add_argument("old", help="the run to compare with, e.g. benchmarks/sensor/results.json")
    args = ap.parse_args(argv)
    with open(args.new) as fh_new, open(args.old) as fh_old:
        new, old = json.load(fh_new), json.load(fh_old)
    print(compare(new, old, new_path=args.new, old_path=args.old))
    return 0


if __name__ == "__main__":
    sys.exit(main())
