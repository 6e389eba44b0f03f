"""The sensor model's behaviour checks that the quality table does not show.

    python -m benchmarks.sensor.floors [--model sensor] [--out benchmarks/sensor/floors.md]

- long traces: a 1-hour trace at 1 kHz and a 10-second trace at 100 kHz, each denoised with
  8 posterior samples in a fresh process -> peak resident memory and wall time;
- NaN gaps: every missing sample comes back finite and flagged in ``repaired``, nothing dropped;
- spikes: on held-out traces with impulsive spikes, the lag of the cross-correlation peak
  between clean and denoised (events must not move) and the share of spike energy removed;
- multichannel: a 3-axis log through ``denoise_file`` keeps its channel names, order and
  length, and each channel's output matches denoising that channel alone (1 call: deterministic).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..common import machine_description, machine_line

LONG_TRACE_SCRIPT = r"""
import sys, time, numpy as np, torch
torch.set_num_threads(2)
import sigdenoise
model = sigdenoise.load_model(sys.argv[1], device="cpu")
rate, seconds = float(sys.argv[2]), float(sys.argv[3])
n = int(rate * seconds)
t = np.arange(n) / rate
rng = np.random.default_rng(0)
x = np.sin(2 * np.pi * 7.0 * t) + 0.3 * np.sin(2 * np.pi * 50.0 * t) + 0.2 * rng.standard_normal(n)
started = time.perf_counter()
result = model.denoise_detailed(x, sample_rate=rate, num_samples=8)
wall = time.perf_counter() - started
assert result.mean.shape == x.shape and np.isfinite(result.mean).all() and np.isfinite(result.std).all()
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(f"{peak:.0f} {wall:.1f}")
"""


def check_long_trace(model_name: str, rate: float, seconds: float) -> tuple[float, float]:
    res = subprocess.run([sys.executable, "-c", LONG_TRACE_SCRIPT, model_name, str(rate), str(seconds)],
                         capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(res.stderr[-2000:])
    peak, wall = res.stdout.split()[-2:]
    return float(peak), float(wall)


def _held_out_traces(count: int = 12, length: int = 4096):
    from .run import build_traces

    return build_traces(per_family=count, max_samples=length, seed=7)


def check_gaps(model) -> dict:
    from sigdenoise.sensor_data import dropouts

    filled = flagged = missing = 0
    for k, trace in enumerate(_held_out_traces()):
        noisy = dropouts(trace["clean"], np.random.default_rng(k), trace["sample_rate"], snr_db=(5.0, 10.0))
        gaps = ~np.isfinite(noisy)
        result = model.denoise_detailed(noisy, sample_rate=trace["sample_rate"], repair_nan=True)
        missing += int(gaps.sum())
        filled += int(np.isfinite(result.mean[gaps]).sum())
        flagged += int((result.repaired & gaps).sum()) if result.repaired is not None else 0
        assert result.mean.shape == noisy.shape
    return {"missing": missing, "filled": filled, "flagged": flagged}


def check_spikes(model) -> dict:
    from sigdenoise.sensor_data import spikes

    lags, removed = [], []
    for k, trace in enumerate(_held_out_traces()):
        clean = trace["clean"]
        noisy = spikes(clean, np.random.default_rng(100 + k), trace["sample_rate"])
        out = np.asarray(model.denoise(noisy, sample_rate=trace["sample_rate"]), np.float64)
        a, b = clean - clean.mean(), out - out.mean()
        window = 50
        corr = [np.dot(a[window:-window], np.roll(b, -lag)[window:-window]) for lag in range(-window, window + 1)]
        lags.append(int(np.argmax(corr)) - window)
        removed.append(1 - np.sum((out - clean) ** 2) / np.sum((noisy - clean) ** 2))
    return {"traces": len(lags), "nonzero_lags": int(sum(lag != 0 for lag in lags)),
            "max_abs_lag": int(max(abs(lag) for lag in lags)), "spike_error_removed_mean": float(np.mean(removed)),
            "spike_error_removed_min": float(np.min(removed))}


def check_multichannel(model_name: str) -> dict:
    import sigdenoise
    from sigdenoise.io import SensorLog, read_sensor_log, write_sensor_log

    model = sigdenoise.load_model(model_name, device="cpu")
    rng = np.random.default_rng(3)
    rate, n = 100.0, 3000
    t = np.arange(n) / rate
    data = np.stack([np.sin(2 * np.pi * f * t) + 0.3 * rng.standard_normal(n) for f in (1.0, 2.5, 4.0)])
    names = ["accel_x", "accel_y", "accel_z"]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "axes.csv", Path(tmp) / "axes_out.csv"
        write_sensor_log(src, SensorLog(data, rate, names))
        # One call (no sampler noise), so any difference is a channel mix-up, not a different draw:
        # with 2 steps each row of a batch gets its own noise and the outputs differ by ~1e-2.
        sigdenoise.denoise_file(src, dst, model=model, steps=1)
        out = read_sensor_log(dst)
    alone = np.stack([model.denoise(data[c], sample_rate=rate, steps=1) for c in range(3)])
    return {"names_kept": out.channel_names[:3] == names, "length_kept": out.data.shape[1] == n,
            "max_diff_vs_one_channel_at_a_time": float(np.abs(out.data[:3] - alone).max())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sensor")
    parser.add_argument("--out", default="benchmarks/sensor/floors.md")
    args = parser.parse_args(argv)
    import torch

    import sigdenoise

    torch.set_num_threads(2)
    model = sigdenoise.load_model(args.model, device="cpu")
    started = time.time()
    results = {
        "hour_at_1khz_peak_mib_wall_s": check_long_trace(args.model, 1000.0, 3600.0),
        "ten_s_at_100khz_peak_mib_wall_s": check_long_trace(args.model, 100000.0, 10.0),
        "gaps": check_gaps(model),
        "spikes": check_spikes(model),
        "multichannel": check_multichannel(args.model),
    }
    g, s, m = results["gaps"], results["spikes"], results["multichannel"]
    lines = [
        "# Sensor model behaviour checks", "",
        f"`python -m benchmarks.sensor.floors --model {args.model}` — {machine_line(machine_description())}, "
        f"{time.strftime('%Y-%m-%d')}, {time.time() - started:.0f} s", "",
        "| check | result | floor |", "|---|---|---|",
        "| 1 h at 1 kHz, 8 posterior samples: peak RSS (MiB) / wall (s), 2 threads | {0:.0f} / {1:.0f} | < 2048 MiB |"
        .format(*results["hour_at_1khz_peak_mib_wall_s"]),
        "| 10 s at 100 kHz, 8 posterior samples: peak RSS (MiB) / wall (s), 2 threads | {0:.0f} / {1:.0f} | < 2048 MiB |"
        .format(*results["ten_s_at_100khz_peak_mib_wall_s"]),
        f"| NaN gaps on {len(_held_out_traces())} held-out traces: missing / filled / flagged samples | "
        f"{g['missing']} / {g['filled']} / {g['flagged']} | all filled and flagged |",
        f"| spikes on {s['traces']} held-out traces: traces whose events moved (max lag, samples) | "
        f"{s['nonzero_lags']} ({s['max_abs_lag']}) | 0 |",
        f"| spikes: share of the spike error removed, mean / worst | {s['spike_error_removed_mean']:.2f} / "
        f"{s['spike_error_removed_min']:.2f} | – |",
        f"| 3-axis CSV through `denoise_file`: names kept / length kept / max diff vs one channel at a time | "
        f"{m['names_kept']} / {m['length_kept']} / {m['max_diff_vs_one_channel_at_a_time']:.2e} | True / True / ~0 |",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
