"""One command: sigdenoise and classical sensor denoisers on held-out traces, every corruption recipe.

    python -m benchmarks.sensor.run [--model PATH] [--out benchmarks/sensor/results.md] [--traces N]
    python -m benchmarks.sensor.run --snr -5 5      # the low-SNR part: benchmarks/sensor/low-snr.md

Traces come only from the validation families (:func:`sigdenoise.sensor_data.is_sensor_validation`),
each corrupted by every recipe in :data:`sigdenoise.sensor_data.RECIPES` with a fixed seed per
(trace, recipe). Every system sees the same inputs in their own units and rates; NaN gaps are
filled by :func:`sigdenoise.preprocess.repair_nonfinite` before a classical filter (the pipeline
does the same inside with ``repair_nan=True``). "best classical" picks, per case, the classical
output with the highest SNR against the clean trace: an oracle no real user has. Writes a
Markdown report to ``--out`` and every per-case number next to it (same name, ``.json``).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # one thread each: a quiet, fair race
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from sigdenoise.band import Z90  # noqa: E402  (mean ± 1.645 std: the nominal 90 % band)
from sigdenoise.io import atomic_write  # noqa: E402

from ..common import display_path, fmt, machine_description, machine_line, markdown_table, mean_ci  # noqa: E402

SEED = 20241126


# --------------------------------------------------------------------------- cases
def build_traces(*, per_family: int, max_samples: int, seed: int, folder=None) -> list[dict]:
    """Up to ``per_family`` clean windows (at most ``max_samples`` long) from every held-out family."""
    from sigdenoise.sensor_data import default_sensor_cache, load_sensor_corpus

    entries = load_sensor_corpus(folder or default_sensor_cache(), split="validation")
    families: dict[str, list[dict]] = {}
    for e in entries:
        families.setdefault(e["group"], []).append(e)
    traces = []
    for family in sorted(families):
        members = sorted(families[family], key=lambda e: e["file"])
        rng = np.random.default_rng([seed, len(traces), sum(map(ord, family))])
        picks = rng.choice(len(members), size=min(per_family, len(members)), replace=False)
        for index in sorted(picks):
            e = members[int(index)]
            signal = np.asarray(e["signal"], np.float64)
            n = min(signal.size, max_samples)
            start = int(rng.integers(0, signal.size - n + 1))
            traces.append({"family": family, "file": e["file"], "source": e["source"], "start": start,
                           "sample_rate": float(e["sample_rate"]), "units": e["units"],
                           "rate_note": e.get("rate_note", ""), "clean": signal[start:start + n]})
    return traces


def build_cases(traces: list[dict], *, seed: int, snr_db: tuple[float, float] | None = None) -> list[dict]:
    """Every trace x every recipe, each corruption seeded by (seed, trace, recipe); ``snr_db`` replaces the
    recipes' own SNR range (the low-SNR part draws from -5...5 dB)."""
    from sigdenoise.sensor_data import RECIPES

    level = {} if snr_db is None else {"snr_db": tuple(snr_db)}
    cases = []
    for t, trace in enumerate(traces):
        for r, name in enumerate(RECIPES):
            noisy = RECIPES[name](trace["clean"], np.random.default_rng([seed, t, r]), trace["sample_rate"], **level)
            cases.append({"trace": t, "recipe": name, "noisy": noisy})
    return cases


# --------------------------------------------------------------------------- classical denoisers
def wavelet_bayes(x: np.ndarray, sample_rate: float) -> np.ndarray:
    from skimage.restoration import denoise_wavelet

    return denoise_wavelet(x, method="BayesShrink", mode="soft", wavelet="db4", rescale_sigma=True)


def wiener(x: np.ndarray, sample_rate: float) -> np.ndarray:
    from scipy.signal import wiener as _wiener

    with np.errstate(divide="ignore", invalid="ignore"):  # flat stretches: scipy then returns the local mean
        return _wiener(x, mysize=5)


def savitzky_golay(x: np.ndarray, sample_rate: float) -> np.ndarray:
    from scipy.signal import savgol_filter

    return savgol_filter(x, window_length=min(15, x.size - (x.size + 1) % 2), polyorder=3)


def median(x: np.ndarray, sample_rate: float) -> np.ndarray:
    from scipy.signal import medfilt

    return medfilt(x, kernel_size=5)


def notch_frequencies(sample_rate: float) -> list[float]:
    """50 and 60 Hz and their harmonics strictly below Nyquist (none for rates up to 100 Hz)."""
    return sorted({k * f for f in (50.0, 60.0) for k in range(1, 50) if k * f < sample_rate / 2})


def notch(x: np.ndarray, sample_rate: float) -> np.ndarray:
    from scipy.signal import filtfilt, iirnotch

    y = x
    for f in notch_frequencies(sample_rate):
        b, a = iirnotch(f, Q=30.0, fs=sample_rate)
        y = filtfilt(b, a, y)
    return y


CLASSICAL = {
    "wavelet BayesShrink": wavelet_bayes,
    "Wiener": wiener,
    "Savitzky-Golay": savitzky_golay,
    "median": median,
    "notch 50/60 Hz": notch,
}
SETTINGS = {
    "wavelet BayesShrink": "skimage denoise_wavelet, db4, soft, BayesShrink, default levels",
    "Wiener": "scipy.signal.wiener, window 5",
    "Savitzky-Golay": "scipy.signal.savgol_filter, window 15, order 3",
    "median": "scipy.signal.medfilt, kernel 5",
    "notch 50/60 Hz": "scipy.signal.iirnotch Q=30 at 50, 60 Hz and harmonics below Nyquist, filtfilt; "
                      "identity where the rate is 100 Hz or less",
}


# --------------------------------------------------------------------------- a reference no system reaches
IDEAL_MASK = "ideal mask (clean known)"
IDEAL_GRIDS = ((62, 16), (126, 32), (254, 64))  # (n_fft, hop): the sensor model's own grid, half and double


def ideal_mask_output(clean: np.ndarray, noisy: np.ndarray, *, n_fft: int = 126, hop: int = 32) -> np.ndarray:
    """The noisy trace (gaps interpolated) through the ideal Wiener mask of its own corruption: per STFT bin
    the gain |C|^2 / (|C|^2 + |N|^2) from the true clean (C) and corruption (N) spectra."""
    import torch

    from sigdenoise.preprocess import istft, repair_nonfinite, stft

    given, _ = repair_nonfinite(noisy, repair=True, name="benchmark input")
    n_fft = min(n_fft, clean.size - (clean.size % 2 == 0) - 1)  # short traces: a grid that fits
    hop = max(1, min(hop, n_fft // 4))
    c_spec = stft(torch.from_numpy(clean), n_fft=n_fft, hop_length=hop)
    x_spec = stft(torch.from_numpy(given), n_fft=n_fft, hop_length=hop)
    c_power, n_power = c_spec.abs() ** 2, (x_spec - c_spec).abs() ** 2
    mask = c_power / (c_power + n_power + 1e-30)
    return istft(mask * x_spec, n_fft=n_fft, hop_length=hop, length=clean.size).numpy()


def run_ideal_mask(traces, cases) -> list[dict]:
    """Per case the best of the ideal masks on three STFT grids: the headroom a mask could reach."""
    out = []
    for case in cases:
        clean = traces[case["trace"]]["clean"]
        scored = [metrics(clean, ideal_mask_output(clean, case["noisy"], n_fft=n, hop=h)) for n, h in IDEAL_GRIDS]
        out.append({**max(scored, key=lambda m: m["snr"]), "seconds": 0.0})
    return out


# --------------------------------------------------------------------------- metrics
def metrics(clean: np.ndarray, estimate: np.ndarray) -> dict:
    """Output SNR (dB, clean power about its mean over error power), NRMSE (error RMS / clean std), PRD (%)."""
    from sigdenoise.calibrate import output_snr  # the fallback is fitted on the same measure

    error = np.sum((estimate - clean) ** 2) + 1e-30
    centred = np.sum((clean - clean.mean()) ** 2) + 1e-30
    return {"snr": output_snr(clean, estimate),
            "nrmse": float(math.sqrt(error / centred)),
            "prd": float(100 * math.sqrt(error / (np.sum(clean ** 2) + 1e-30)))}


def run_classical(traces, cases) -> dict[str, list[dict]]:
    from sigdenoise.preprocess import repair_nonfinite

    results: dict[str, list[dict]] = {"noisy input": []}
    results.update({name: [] for name in CLASSICAL})
    for case in cases:
        trace = traces[case["trace"]]
        x, _ = repair_nonfinite(case["noisy"], repair=True, name="benchmark input")
        results["noisy input"].append({**metrics(trace["clean"], x), "seconds": 0.0})
        for name, fn in CLASSICAL.items():
            t0 = time.perf_counter()
            y = fn(x, trace["sample_rate"])
            if not np.isfinite(y).all():
                raise RuntimeError(f"{name} returned NaN/Inf on {trace['file']} + {case['recipe']}")
            results[name].append({**metrics(trace["clean"], y), "seconds": time.perf_counter() - t0})
    best = []
    for i in range(len(cases)):
        winner = max(CLASSICAL, key=lambda name: results[name][i]["snr"])
        best.append({**results[winner][i], "method": winner})
    results["best classical (oracle)"] = best
    return results


def run_sigdenoise(traces, cases, *, model_name: str, num_samples: int, device: str) -> tuple[list[dict] | None, str]:
    """Per-case metrics and a status line; ``None`` with the reason when no model could be run."""
    import torch

    import sigdenoise

    torch.set_num_threads(1)
    try:
        model = sigdenoise.load_model(model_name, device=device)
    except Exception as exc:  # any failure to load is reported as "unavailable", the classical table still runs
        return None, f"unavailable: load_model({model_name!r}) failed: {type(exc).__name__}: {exc}"
    out = []
    try:
        first = traces[cases[0]["trace"]]
        model.denoise_detailed(cases[0]["noisy"], sample_rate=first["sample_rate"], num_samples=1, repair_nan=True)
        for case in cases:
            trace = traces[case["trace"]]
            t0 = time.perf_counter()
            result = model.denoise_detailed(case["noisy"], sample_rate=trace["sample_rate"], num_samples=num_samples,
                                            repair_nan=True)
            seconds = time.perf_counter() - t0
            mean, std = np.asarray(result.mean, np.float64), np.asarray(result.std, np.float64)
            inside = np.abs(trace["clean"] - mean) <= Z90 * std
            out.append({**metrics(trace["clean"], mean), "seconds": seconds, "coverage": float(inside.mean())})
    except Exception as exc:
        return None, f"unavailable: denoise_detailed failed: {type(exc).__name__}: {exc}"
    info = model.info()
    return out, (f"{display_path(info.get('path', model_name))}, {info['parameters']:,} parameters, "
                 f"{model.config.bridge.default_steps} sampler steps, {num_samples} posterior samples")


def run_clean_input(traces, *, model_name: str, device: str) -> list[dict] | None:
    """Do no harm: each held-out trace handed in clean, at the model's default call; per trace the output's
    SNR against the trace itself (floor: 30 dB on every family)."""
    import torch

    import sigdenoise

    torch.set_num_threads(1)
    try:
        model = sigdenoise.load_model(model_name, device=device)
    except Exception:
        return None
    out = []
    for trace in traces:
        clean = np.asarray(trace["clean"], np.float64)
        y = np.asarray(model.denoise(clean, sample_rate=trace["sample_rate"]), np.float64)
        out.append({"family": trace["family"], "file": trace["file"], "snr": metrics(clean, y)["snr"]})
    return out


def plot_typical_case(traces, cases, sig: list[dict], noisy: list[dict], *, model_name: str, num_samples: int,
                      device: str, path: Path, recipe: str = "combined") -> str:
    """Clean, noisy, denoised and the 90 % band for the ``recipe`` case with sigdenoise's median SNR gain.

    The median case, not the best: the figure in the README should show what a user typically gets.
    Returns a one-line caption.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    import sigdenoise

    picks = [i for i, c in enumerate(cases) if c["recipe"] == recipe]
    gain = {i: sig[i]["snr"] - noisy[i]["snr"] for i in picks}
    picks.sort(key=gain.get)
    index = picks[len(picks) // 2]
    case, trace = cases[index], traces[cases[index]["trace"]]
    model = sigdenoise.load_model(model_name, device=device)
    result = model.denoise_detailed(case["noisy"], sample_rate=trace["sample_rate"], num_samples=num_samples,
                                    repair_nan=True)
    mean, std = np.asarray(result.mean, np.float64), np.asarray(result.std, np.float64)
    shown = slice(0, min(len(mean), 1024))
    t = np.arange(len(mean))[shown] / trace["sample_rate"]
    fig = Figure(figsize=(10, 3.6), dpi=110)
    ax = fig.add_subplot()
    ax.fill_between(t, (mean - Z90 * std)[shown], (mean + Z90 * std)[shown], color="#0f766e", alpha=0.2, lw=0,
                    label="90 % band")
    ax.plot(t, case["noisy"][shown], color="#9ca3af", lw=0.7, alpha=0.9, label=f"noisy ({recipe})")
    ax.plot(t, trace["clean"][shown], color="black", lw=0.8, label="clean (reference)")
    ax.plot(t, mean[shown], color="#0f766e", lw=1.1, label="sigdenoise")
    low, high = np.percentile(trace["clean"], [0.5, 99.5])
    pad = 0.6 * (high - low)
    ax.set_ylim(low - pad, high + pad)  # spikes would flatten the trace; they run off the top
    ax.set_xlabel("seconds")
    ax.set_ylabel(trace["units"] or "value")
    ax.legend(loc="upper right", ncol=4, fontsize=8, frameon=False)
    caption = (f"held-out {trace['family']} trace ({trace['file']}), recipe {recipe}: the median of "
               f"{len(picks)} cases by sigdenoise's SNR gain ({gain[index]:+.1f} dB, "
               f"{sig[index]['coverage']:.0%} of clean samples inside the band)")
    ax.set_title(caption, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, fig.savefig)
    return caption


# --------------------------------------------------------------------------- report
def report(args, machine, traces, cases, results, sig_status, command, clean_in=None) -> str:
    from sigdenoise.sensor_data import RECIPES, VALIDATION_SENSOR_GROUPS

    methods = ["sigdenoise", *CLASSICAL, "best classical (oracle)", *([IDEAL_MASK] if IDEAL_MASK in results else [])]
    families = sorted({t["family"] for t in traces})
    counts = {f: sum(t["family"] == f for t in traces) for f in families}
    seconds = sum(len(t["clean"]) / t["sample_rate"] for t in traces) * len(RECIPES)
    samples = sum(len(t["clean"]) for t in traces) * len(RECIPES)
    lines = [
        "# Sensor denoising benchmark", "",
        f"- command: `{command}`",
        f"- date: {machine['date']}",
        f"- machine: {machine_line(machine)}; 1 thread per system",
        f"- sigdenoise: {sig_status}",
        f"- traces: {len(traces)} clean windows (at most {args.max_samples} samples) from the held-out families "
        f"({', '.join(f'{f} ×{counts[f]}' for f in families)}); "
        f"held-out rule `sigdenoise.sensor_data.is_sensor_validation` (families {sorted(VALIDATION_SENSOR_GROUPS)}, "
        "none used in training)",
        f"- cases: every trace × {len(RECIPES)} recipes ({', '.join(RECIPES)}) = {len(cases)}; seed {args.seed}; "
        + ("each recipe at its own SNR range" if args.snr is None else
           f"every recipe's SNR drawn from {args.snr[0]:g}...{args.snr[1]:g} dB"),
        "",
        "Output SNR: 10·log10(Σ(c−c̄)² / Σ(y−c)²) against the clean trace c, in its own units (a DC error "
        "counts). SNR gain: output minus input SNR (input = the noisy trace, NaN gaps interpolated). NRMSE: "
        "RMS error / std of the clean trace. PRD: 100·sqrt(Σ(y−c)²/Σc²), the ECG-compression convention "
        "(not mean-removed, so small for traces on a large offset such as Daphnet's ~1 g). Means over cases "
        "± the half-width of a 95 % normal interval. **best classical** is an oracle: for each case the "
        "classical output with the highest SNR, chosen with the clean trace in hand. Time: wall-clock "
        "processing per system, µs per input sample, and real-time factor (processing s / signal s at the "
        "traces' native rates)."
        + (f" **{IDEAL_MASK}**: per case the best of the ideal Wiener masks (per-bin gain from the true clean and "
           "corruption spectra) on three STFT grids (n_fft 62, 126, 254): the headroom a time-frequency mask "
           "could reach with the answer in hand, not a system." if IDEAL_MASK in results else ""),
        "",
        "Classical settings (fixed, not tuned per trace): " + "; ".join(f"{k}: {v}" for k, v in SETTINGS.items()),
        "",
        "## Overall", "",
    ]
    header = ["system", "output SNR (dB)", "SNR gain (dB)", "NRMSE", "PRD (%)", "µs / sample", "RTF"]
    rows = []
    for m in ["noisy input", *methods]:
        r = results[m]
        if r is None:
            rows.append([m, "unavailable", "–", "–", "–", "–", "–"])
            continue
        snr = mean_ci([c["snr"] for c in r])
        gain = mean_ci([c["snr"] - n["snr"] for c, n in zip(r, results["noisy input"])])
        total = sum(c["seconds"] for c in r)
        timing = ["–", "–"] if m in ("noisy input", "best classical (oracle)", IDEAL_MASK) else \
            [f"{1e6 * total / samples:.2f}", f"{total / seconds:.2e}"]
        rows.append([m, fmt(snr[0], 1, snr[1]), fmt(gain[0], 1, gain[1]), fmt(mean_ci([c["nrmse"] for c in r])[0], 3),
                     fmt(mean_ci([c["prd"] for c in r])[0], 2), *timing])
    lines += [markdown_table(header, rows), ""]

    def by(key_fn, keys, label):
        header = [label, "n", "input SNR"] + methods
        rows = []
        for key in keys:
            idx = [i for i, c in enumerate(cases) if key_fn(c) == key]
            row = [key, str(len(idx)), fmt(mean_ci([results["noisy input"][i]["snr"] for i in idx])[0], 1)]
            for m in methods:
                row.append("–" if results[m] is None else fmt(mean_ci([results[m][i]["snr"] for i in idx])[0], 1))
            rows.append(row)
        return markdown_table(header, rows)

    lines += ["## Output SNR (dB) per recipe", "", by(lambda c: c["recipe"], list(RECIPES), "recipe"), ""]
    lines += ["## Output SNR (dB) per held-out family", "",
              by(lambda c: traces[c["trace"]]["family"], families, "family"), ""]
    wins = {}
    for c in results["best classical (oracle)"]:
        wins[c["method"]] = wins.get(c["method"], 0) + 1
    lines += ["Oracle picks: " + ", ".join(f"{k} {v}" for k, v in sorted(wins.items(), key=lambda kv: -kv[1])), ""]

    lines += ["## sigdenoise uncertainty: coverage of mean ± 1.645·std (nominal 90 %)", ""]
    sig = results.get("sigdenoise")
    if sig is None:
        lines += [f"sigdenoise {sig_status}; no coverage numbers.", ""]
    else:
        rows = []
        for name in RECIPES:
            idx = [i for i, c in enumerate(cases) if c["recipe"] == name]
            cov = mean_ci([sig[i]["coverage"] for i in idx])
            rows.append([name, str(len(idx)), fmt(100 * cov[0], 1, 100 * cov[1])])
        cov = mean_ci([c["coverage"] for c in sig])
        rows.append(["all", str(len(sig)), fmt(100 * cov[0], 1, 100 * cov[1])])
        lines += [markdown_table(["recipe", "n", "coverage (%)"], rows), ""]
    if clean_in:
        lines += ["## sigdenoise on clean input: output SNR (dB) against the input itself", "",
                  "Each trace handed in without corruption, at the default call (one posterior sample); "
                  "floor 30 dB on every family. 100+: handed back as it came (the fall-back).", ""]

        def shown(value: float) -> str:
            return "100+" if value >= 100 else fmt(value, 1)

        rows = []
        for family in families:
            snrs = [c["snr"] for c in clean_in if c["family"] == family]
            rows.append([family, str(len(snrs)), shown(float(np.median(snrs))), shown(float(np.min(snrs)))])
        rows.append(["all", str(len(clean_in)), shown(float(np.median([c["snr"] for c in clean_in]))),
                     shown(float(np.min([c["snr"] for c in clean_in])))])
        lines += [markdown_table(["family", "traces", "median", "worst"], rows), ""]
    notes = sorted({f"- {t['family']}: rate {t['sample_rate']:g} Hz — {t['rate_note']}"
                    for t in traces if t["rate_note"]})
    if notes:
        lines += ["Rates not stated by the source (they only move the hum recipe and the notch filter):", *notes, ""]
    lines += [f"Per-case numbers are in `{Path(args.out).with_suffix('.json').name}`.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Sensor denoising benchmark: sigdenoise against classical filters.")
    ap.add_argument("--model", default="sensor", help="a sigdenoise model name or .safetensors path (default: sensor)")
    ap.add_argument("--out", help="Markdown report; the JSON goes next to it (default benchmarks/sensor/results.md, "
                                   "or low-snr.md with --snr)")
    ap.add_argument("--snr", type=float, nargs=2, metavar=("LOW", "HIGH"),
                    help="draw every recipe's SNR from LOW...HIGH dB instead of its own range (the low-SNR part: -5 5)")
    ap.add_argument("--no-ideal-mask", action="store_true", help="leave out the ideal-mask reference")
    ap.add_argument("--traces", type=int, default=8, help="clean traces per held-out family (default 8)")
    ap.add_argument("--max-samples", type=int, default=4096, help="longest trace window in samples (default 4096)")
    ap.add_argument("--num-samples", type=int, default=8, help="sigdenoise posterior samples (default 8)")
    ap.add_argument("--device", default="cpu", help="device for sigdenoise (default cpu, like the classical filters)")
    ap.add_argument("--no-sigdenoise", action="store_true", help="classical filters only")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--plot", type=Path, help="also draw the median 'combined' case with its band to this PNG")
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = "benchmarks/sensor/results.md" if args.snr is None else "benchmarks/sensor/low-snr.md"
    command = "python -m benchmarks.sensor.run " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))

    machine = machine_description()
    traces = build_traces(per_family=args.traces, max_samples=args.max_samples, seed=args.seed)
    cases = build_cases(traces, seed=args.seed, snr_db=args.snr)
    print(f"[bench] {len(traces)} traces × recipes = {len(cases)} cases", flush=True)
    t0 = time.perf_counter()
    results: dict[str, list[dict] | None] = run_classical(traces, cases)
    print(f"[bench] classical filters: {time.perf_counter() - t0:.1f} s", flush=True)
    if not args.no_ideal_mask:
        results[IDEAL_MASK] = run_ideal_mask(traces, cases)
    if args.no_sigdenoise:
        sig, sig_status = None, "not run (--no-sigdenoise)"
    else:
        t0 = time.perf_counter()
        sig, sig_status = run_sigdenoise(traces, cases, model_name=args.model, num_samples=args.num_samples,
                                         device=args.device)
        print(f"[bench] sigdenoise: {sig_status} ({time.perf_counter() - t0:.1f} s)", flush=True)
    results["sigdenoise"] = sig
    clean_in = None if sig is None else run_clean_input(traces, model_name=args.model, device=args.device)
    if args.plot and sig is not None:
        print("[bench] plot: " + plot_typical_case(traces, cases, sig, results["noisy input"], model_name=args.model,
                                                   num_samples=args.num_samples, device=args.device,
                                                   path=args.plot), flush=True)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = report(args, machine, traces, cases, results, sig_status, command, clean_in)
    per_case = [{"family": traces[c["trace"]]["family"], "file": traces[c["trace"]]["file"],
                 "start": traces[c["trace"]]["start"], "samples": len(traces[c["trace"]]["clean"]),
                 "sample_rate": traces[c["trace"]]["sample_rate"], "recipe": c["recipe"],
                 **{m: (None if r is None else r[i]) for m, r in results.items()}} for i, c in enumerate(cases)]
    payload = {"command": command, "machine": machine, "seed": args.seed, "snr_db": args.snr, "sigdenoise": sig_status,
               "classical_settings": SETTINGS, "cases": per_case, "clean_input": clean_in}
    for path, content in ((out, text), (out.with_suffix(".json"), json.dumps(payload, indent=1))):
        atomic_write(path, lambda tmp, content=content: tmp.write_text(content))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
