"""One command: streaming against offline denoising, latency against quality, speed and memory.

    python -m benchmarks.stream.run [--out benchmarks/stream/results.md] [--clips 16] [--minutes 60]

Speech: held-out mixtures of the speech benchmark (``benchmarks.speech.mixtures``, needs the corpus cache;
without it, the ``samples/`` clips, scored against offline output only) joined into one long signal, fed
to ``model.stream`` in chunks of 10 ms, 20 ms and random sizes (1-50 ms) at several latencies; offline
``model.denoise`` of the same signal is the reference ("SNR vs offline"), the clean speech the target
(SI-SDR, PESQ, ESTOI per mixture). Sensor: synthetic traces (``sensor_data.synthetic_trace``) under white,
coloured and hum noise, and the ECG sample. Speed: 20 ms chunks of 48 kHz input, one thread. Memory:
resident set size over a long stream (the sensor model for real; the speech stream's bookkeeping with the
network replaced by a pass-through, since a real hour of speech takes 15 minutes to denoise on one core).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # one thread: the real-time floor
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sigdenoise import load_model  # noqa: E402
from sigdenoise.io import atomic_write  # noqa: E402

from ..common import display_path, fmt, machine_description, machine_line, markdown_table, si_sdr  # noqa: E402

SEED = 20261207
SPEECH_LATENCIES = (0.25, 0.5, 0.75, 1.0)
SENSOR_LATENCY_SAMPLES = (1024, 2048, 4096)


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Energy of ``reference`` (mean removed) over that of ``estimate - reference``, in dB."""
    ref = np.asarray(reference, np.float64)
    error = np.sum((np.asarray(estimate, np.float64) - ref) ** 2)
    return float(10 * np.log10(np.sum((ref - ref.mean(-1, keepdims=True)) ** 2) / max(error, 1e-30)))


def worst_stretch_db(reference: np.ndarray, estimate: np.ndarray, samples: int) -> float:
    """:func:`snr_db` on each stretch of ``samples`` along the last axis: the lowest."""
    n = reference.shape[-1]
    return min(snr_db(reference[..., a:a + samples], estimate[..., a:a + samples])
               for a in range(0, max(n - samples // 2, 1), samples))


def chunk_sizes(kind: str, sample_rate: float, seed: int = SEED):
    """``k -> samples`` of the k-th chunk: fixed 10 ms or 20 ms, or random 1-50 ms."""
    if kind == "random":
        rng = np.random.default_rng(seed)
        sizes = rng.integers(1, max(2, int(0.05 * sample_rate)) + 1, size=1_000_000)
        return lambda k: int(sizes[k % sizes.size])
    size = max(1, int(round(float(kind.rstrip("ms")) / 1000 * sample_rate)))
    return lambda k: size


def run_stream(stream, x: np.ndarray, sizes) -> tuple[np.ndarray, float, float]:
    """Feed ``x`` chunk by chunk; the output, the seconds spent in ``process``/``flush``, and the slowest call."""
    outs, i, k, spent, slowest = [], 0, 0, 0.0, 0.0
    while i < x.shape[-1]:
        n = sizes(k)
        started = time.perf_counter()
        outs.append(stream.process(x[..., i:i + n]))
        took = time.perf_counter() - started
        spent, slowest = spent + took, max(slowest, took)
        i, k = i + n, k + 1
    started = time.perf_counter()
    outs.append(stream.flush())
    return np.concatenate(outs, axis=-1), spent + time.perf_counter() - started, slowest


# --------------------------------------------------------------------------- speech
def speech_signal(clips: int):
    """One long 16 kHz signal of held-out mixtures, their clean speech and where each mixture starts."""
    try:
        from ..speech.mixtures import build_mixtures

        mixtures = build_mixtures(clips)
        source = f"{clips} held-out mixtures of the speech benchmark (benchmarks.speech.mixtures, 0-15 dB SNR)"
        noisy = [m.noisy for m in mixtures]
        clean = [m.clean for m in mixtures]
    except Exception as exc:  # no corpus cache on this machine
        from sigdenoise.io import read_signal

        root = Path(__file__).resolve().parents[2] / "samples"
        parts = [read_signal(p).data for p in sorted(root.glob("noisy_speech_*_16k.wav"))]
        noisy = [np.asarray(p if p.ndim == 1 else p[0], np.float32) for p in parts] * 6
        clean = None
        source = f"the samples/ speech clips, joined 6 times (no corpus cache: {exc}); no clean reference"
    starts = np.cumsum([0] + [len(n) for n in noisy])
    return (np.concatenate(noisy), None if clean is None else np.concatenate(clean), starts, source)


def speech_quality(clean, estimate, starts) -> dict:
    """Per-mixture SI-SDR, PESQ and ESTOI against the clean speech, averaged."""
    from ..speech.metrics import estoi, pesq_wb

    scores = {"si_sdr": [], "pesq": [], "estoi": []}
    for a, b in zip(starts[:-1], starts[1:]):
        scores["si_sdr"].append(si_sdr(clean[a:b], estimate[a:b]))
        scores["pesq"].append(pesq_wb(clean[a:b], estimate[a:b]))
        scores["estoi"].append(estoi(clean[a:b], estimate[a:b]))
    return {k: float(np.nanmean(v)) for k, v in scores.items()}


def bench_speech(model, clips: int) -> dict:
    x, clean, starts, source = speech_signal(clips)
    offline = model.denoise(x, sample_rate=16000)
    rows = [{"system": "offline denoise", "latency_s": None, "chunks": "whole signal",
             **({} if clean is None else speech_quality(clean, offline, starts))}]
    runs = [(0.5, kind, None) for kind in ("10ms", "20ms", "random")] + [
        (lat, "20ms", None) for lat in SPEECH_LATENCIES if lat != 0.5]
    if not model.config.running_level:  # a running-level model has no use for it (and refuses it)
        runs.append((0.5, "20ms", float(x.std())))
    outputs = {}
    for latency, kind, level in runs:
        stream = model.stream(sample_rate=16000, latency=latency, level=level)
        y, spent, _ = run_stream(stream, x, chunk_sizes(kind, 16000))
        assert y.shape == x.shape
        outputs[(latency, kind, level)] = y
        rows.append({"system": "stream" if level is None else "stream, `level` given (the whole signal's RMS)",
                     "latency_s": stream.latency, "chunks": kind,
                     "snr_vs_offline_db": snr_db(offline, y),
                     "worst_2s_vs_offline_db": worst_stretch_db(offline, y, 32000),
                     "rtf": spent / (len(x) / 16000),
                     **({} if clean is None else speech_quality(clean, y, starts))})
    same = all(np.array_equal(outputs[(0.5, "20ms", None)], outputs[(0.5, k, None)]) for k in ("10ms", "random"))
    # how far the output moves when only the level the network is fed changes (offline, whole signal)
    import dataclasses

    sensitivity = {db: snr_db(offline, model.with_config(dataclasses.replace(
        model.config, target_rms=model.config.target_rms * 10 ** (db / 20))).denoise(x, sample_rate=16000))
        for db in (0.5, 1.0, 2.0)}
    back, ahead = model.reach_samples(model.resolve_steps(None))
    plan = model.stream(sample_rate=16000).plan
    return {"source": source, "seconds": len(x) / 16000, "rows": rows, "chunk_sizes_identical": same,
            "running_level": model.config.running_level, "reads_ahead_s": ahead / 16000,
            "lookahead_s": plan.lookahead / 16000,
            "level_sensitivity": sensitivity,
            "noisy": None if clean is None else speech_quality(clean, x, starts)}


def bench_steady(model, seconds: float = 45.0) -> list[dict]:
    """Stream against offline on the bundled recordings, each looped to ``seconds``: a steady level."""
    from sigdenoise.io import read_signal

    rows = []
    for path in sorted((Path(__file__).resolve().parents[2] / "samples").glob("noisy_speech_*")):
        clip = read_signal(path)
        x = np.atleast_2d(clip.data.astype(np.float32))
        x = np.tile(x, (1, int(math.ceil(seconds * clip.sample_rate / x.shape[-1]))))
        offline = model.denoise(x, sample_rate=clip.sample_rate)
        for kind in ("20ms", "random"):
            stream = model.stream(sample_rate=clip.sample_rate, channels=x.shape[0])
            y, spent, _ = run_stream(stream, x, chunk_sizes(kind, clip.sample_rate))
            rows.append({"file": f"samples/{path.name}", "rate": clip.sample_rate, "channels": x.shape[0],
                         "seconds": x.shape[-1] / clip.sample_rate, "chunks": kind, "latency_s": stream.latency,
                         "snr_vs_offline_db": snr_db(offline, y),
                         "worst_2s_vs_offline_db": worst_stretch_db(offline, y, int(2 * clip.sample_rate)),
                         "rtf": spent / (x.shape[-1] / clip.sample_rate)})
    return rows


def bench_onset(model, silence_db: float = -100.0) -> dict:
    """Speech after 2 s of near-silence (a muted microphone): how loud the stream's output gets, and how
    much of the input its first second after the onset keeps, streamed and offline."""
    x, _, _, _ = speech_signal(2)
    speech = x[:6 * 16000]
    lead = (10 ** (silence_db / 20) * speech.std() * np.random.default_rng(SEED).standard_normal(32000))
    signal = np.concatenate([lead.astype(np.float32), speech])
    offline = model.denoise(signal, sample_rate=16000)
    y, _, _ = run_stream(model.stream(sample_rate=16000), signal, chunk_sizes("20ms", 16000))
    after = slice(32000, 48000)
    kept = lambda out: float(np.std(out[after]) / np.std(signal[after]))  # noqa: E731
    return {"silence_db": silence_db, "peak_ratio_stream": float(np.abs(y).max() / np.abs(signal).max()),
            "peak_ratio_offline": float(np.abs(offline).max() / np.abs(signal).max()),
            "kept_stream": kept(y), "kept_offline": kept(offline)}


def bench_realtime(model, seconds: float = 30.0) -> dict:
    """Processing time over audio time for 20 ms chunks of 48 kHz input, on one thread."""
    import soxr

    x, _, _, _ = speech_signal(10)
    x48 = soxr.resample(x[:int(seconds * 16000)], 16000, 48000, quality="VHQ").astype(np.float32)
    stream = model.stream(sample_rate=48000)
    y, spent, slowest = run_stream(stream, x48, chunk_sizes("20ms", 48000))
    assert y.shape == x48.shape
    block = stream.plan.block / stream.plan.model_rate
    return {"seconds": len(x48) / 48000, "latency_s": stream.latency, "rtf": spent / (len(x48) / 48000),
            "slowest_call_s": slowest, "block_s": block, "threads": torch.get_num_threads()}


# --------------------------------------------------------------------------- sensor
def sensor_cases(count: int, samples: int) -> list[dict]:
    from sigdenoise.io import read_signal
    from sigdenoise.sensor_data import RECIPES, synthetic_trace

    rng = np.random.default_rng(SEED)
    cases = []
    for i in range(count):
        clean, rate = synthetic_trace(samples, rng)
        recipe = ("white", "coloured", "hum")[i % 3]
        noisy = RECIPES[recipe](clean, rng, rate, snr_db=(0.0, 10.0))
        cases.append({"name": f"synthetic {i} ({recipe}, {rate:g} Hz)", "rate": rate,
                      "clean": clean[None].astype(np.float32), "noisy": noisy[None].astype(np.float32)})
    ecg = read_signal(Path(__file__).resolve().parents[2] / "samples" / "noisy_ecg_360hz.csv")
    cases.append({"name": "samples/noisy_ecg_360hz.csv", "rate": ecg.sample_rate, "clean": None,
                  "noisy": ecg.data.astype(np.float32)})
    return cases


def bench_sensor(model, count: int, samples: int) -> dict:
    cases = sensor_cases(count, samples)
    rows = []
    for case in cases:
        x, rate = case["noisy"], case["rate"]
        offline = model.denoise(x, sample_rate=rate)
        row = {"case": case["name"], "samples": x.shape[-1], "runs": []}
        if case["clean"] is not None:
            row["input_snr_db"] = snr_db(case["clean"], x)
            row["offline_snr_db"] = snr_db(case["clean"], offline)
        runs = [(2048, kind, False) for kind in ("10ms", "20ms", "random")] + [
            (n, "20ms", False) for n in SENSOR_LATENCY_SAMPLES if n != 2048]
        if not model.config.running_level:  # a running-level model has no use for them (and refuses them)
            runs.append((2048, "20ms", True))
        for n, kind, known in runs:
            # known: the whole trace's mean and RMS given ahead (offset=, level=), as offline has them
            stats = {"offset": x.mean(-1), "level": x.std(-1)} if known else {}
            stream = model.stream(sample_rate=rate, channels=x.shape[0], latency=n / rate, **stats)
            y, _, _ = run_stream(stream, x, chunk_sizes(kind, rate))
            run = {"latency_samples": n, "latency_s": stream.latency, "chunks": kind + (", mean and RMS given" if known
                                                                                      else ""),
                   "snr_vs_offline_db": snr_db(offline, y)}
            if case["clean"] is not None:
                run["snr_db"] = snr_db(case["clean"], y)
            row["runs"].append(run)
        rows.append(row)
    # mean and band: the calibrated 90 % band, streamed
    band = []
    for case in [c for c in cases if c["clean"] is not None][:3]:
        stream = model.stream(sample_rate=case["rate"], num_samples=8, return_std=True)
        outs, x = [], case["noisy"]
        for i in range(0, x.shape[-1], 50):
            outs.append(stream.process(x[:, i:i + 50]))
        outs.append(stream.flush())
        mean = np.concatenate([o[0] for o in outs], -1)
        std = np.concatenate([o[1] for o in outs], -1)
        mean_off, std_off = model.denoise(x, sample_rate=case["rate"], num_samples=8, return_std=True)
        inside = np.abs(case["clean"] - mean) <= 1.645 * std
        inside_off = np.abs(case["clean"] - mean_off) <= 1.645 * std_off
        band.append({"case": case["name"], "coverage": float(inside.mean()),
                     "coverage_offline": float(inside_off.mean()),
                     "std_ratio": float(np.median(std) / max(np.median(std_off), 1e-30))})
    return {"rows": rows, "band": band, "running_level": model.config.running_level}


# --------------------------------------------------------------------------- memory
def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


def long_stream(model, *, rate: float, minutes: float, chunk: int, make_chunk) -> dict:
    """Feed ``minutes`` of signal; resident memory after minute 1 and at the end, and the peak between."""
    stream = model.stream(sample_rate=rate)
    per_minute = int(60 * rate)
    fed, marks, started = 0, [], time.perf_counter()
    minute_one = peak = None
    while fed < minutes * per_minute:
        stream.process(make_chunk(fed, chunk))
        fed += chunk
        if fed // per_minute != (fed - chunk) // per_minute:
            marks.append(rss_mib())
            if minute_one is None:
                minute_one = marks[-1]
            peak = max(peak or 0.0, marks[-1])
    stream.flush()
    return {"minutes": minutes, "rate": rate, "rss_minute_1_mib": minute_one, "rss_end_mib": marks[-1],
            "rss_peak_after_minute_1_mib": peak, "growth_mib": peak - minute_one,
            "seconds": time.perf_counter() - started}


def bench_memory(speech, sensor, minutes: float) -> dict:
    rng = np.random.default_rng(SEED)
    noise = rng.standard_normal(1 << 16).astype(np.float32)

    def make(fed, n):  # a tone in noise, without holding the whole stream in memory
        t = (np.arange(fed, fed + n) % (1 << 16))
        return np.sin(t * 0.05).astype(np.float32) + 0.3 * noise[t]

    out = {"sensor": long_stream(sensor, rate=100.0, minutes=minutes, chunk=100, make_chunk=make)}
    passthrough = speech.with_config(speech.config)
    passthrough._sample_rows = lambda rows, **_: rows.clone()  # the bookkeeping of a speech stream, no network
    out["speech_bookkeeping"] = long_stream(passthrough, rate=16000.0, minutes=minutes, chunk=320, make_chunk=make)
    return out


# --------------------------------------------------------------------------- report
def report(results: dict, command: str) -> str:
    sp, rt, se, mem = results["speech"], results["realtime"], results["sensor"], results["memory"]
    lines = ["# Streaming benchmark", "",
             f"`{command}` — {results['seconds']:.0f} s on {machine_line(results['machine'])}.", "",
             f"Models: speech `{results['speech_model']}`, sensor `{results['sensor_model']}`. One torch thread.", "",
             "## Speech: stream against offline, and latency against quality", "",
             f"Signal: {sp['source']}, joined into one {sp['seconds']:.0f} s stream. \"SNR vs offline\": the "
             "concatenated stream output against `model.denoise` of the same signal, over the whole stream and "
             "over its worst 2 s. SI-SDR, PESQ (wide band) and ESTOI: per mixture against its clean speech, "
             "averaged. RTF: processing time over audio time at 16 kHz.", ""]
    header = ["system", "latency (s)", "chunks", "SNR vs offline (dB)", "worst 2 s (dB)", "SI-SDR (dB)",
              "PESQ", "ESTOI", "RTF"]
    table = []
    if sp.get("noisy"):
        table.append(["noisy input", "–", "–", "–", "–", fmt(sp["noisy"]["si_sdr"]), fmt(sp["noisy"]["pesq"]),
                      fmt(sp["noisy"]["estoi"], 3), "–"])
    for r in sp["rows"]:
        table.append([r["system"], fmt(r["latency_s"], 3) if r["latency_s"] else "–", r["chunks"],
                      fmt(r.get("snr_vs_offline_db", math.nan), 1), fmt(r.get("worst_2s_vs_offline_db", math.nan), 1),
                      fmt(r.get("si_sdr", math.nan)), fmt(r.get("pesq", math.nan)), fmt(r.get("estoi", math.nan), 3),
                      fmt(r.get("rtf", math.nan), 3)])
    lines += [markdown_table(header, table), "",
              f"Chunks of 10 ms, 20 ms and random sizes give bit-identical output: "
              f"{'yes' if sp['chunk_sizes_identical'] else 'NO'}.", "",
              "Stream and offline cut the same chunks on the same frame grid and draw the same sampler noise at "
              "every frame. What can set them apart is the level and the look-ahead. "
              + _level_and_lookahead(sp), "",
              "## Speech: the bundled recordings, looped", "",
              "Each `samples/` recording repeated to at least 45 s (its own rate and channels), streamed at the "
              "default latency, at its running level: here the level is steady and settles on the whole "
              "signal's within seconds."
              + ("" if sp["reads_ahead_s"] <= sp["lookahead_s"] else
                 " On the rain recording most of the input is noise the model removes, so the output is quiet and "
                 "the far context the look-ahead misses weighs most."), "",
              markdown_table(["recording", "rate (Hz)", "channels", "seconds", "chunks", "SNR vs offline (dB)",
                              "worst 2 s (dB)", "RTF"],
                             [[r["file"], f"{r['rate']:g}", r["channels"], fmt(r["seconds"], 0), r["chunks"],
                               fmt(r["snr_vs_offline_db"], 1), fmt(r["worst_2s_vs_offline_db"], 1),
                               fmt(r["rtf"], 3)] for r in results["steady"]]), "",
              "## Speech: a start after near-silence", "",
              f"2 s at {results['onset']['silence_db']:g} dB (a muted microphone), then 6 s of the mixtures. A "
              "running level that has seen only the silence would scale the speech by that much; the level never "
              "sits more than 12 dB below the last 0.5 s (`sigdenoise.level.ATTACK_RATIO`), so the network gets "
              "the speech at most that much too loud while the running level catches up.", "",
              markdown_table(["", "stream", "offline"],
                             [["output peak / input peak", fmt(results["onset"]["peak_ratio_stream"], 2),
                               fmt(results["onset"]["peak_ratio_offline"], 2)],
                              ["output RMS / input RMS, first second after the onset",
                               fmt(results["onset"]["kept_stream"], 2), fmt(results["onset"]["kept_offline"], 2)]]),
              "",
              "## Real time: 48 kHz input in 20 ms chunks, one thread", "",
              markdown_table(["audio (s)", "latency (s)", "processing / audio time", "slowest call (s)",
                              "block (s)"],
                             [[fmt(rt["seconds"], 1), fmt(rt["latency_s"], 3), fmt(rt["rtf"], 3),
                               fmt(rt["slowest_call_s"], 3), fmt(rt["block_s"], 3)]]), "",
              "A call that completes a block runs the network on its window; the others only buffer. The "
              "slowest call must stay under the block length for the output to keep up. All timings here were "
              "taken with other jobs sharing the 2 cores (load average above): the RTF column of the speech "
              "table swings with them.", "",
              "## Sensor: stream against offline, and latency against output SNR", "",
              "The sensor model is rate-agnostic, so its latency is counted in samples at the input's rate "
              "(default 2048). Its default sampler draws fresh noise at its second step (eta 1); the stream "
              "draws the same noise at every frame as offline does. Its output carries each trace's mean, so "
              + ("the model is fed the running mean and RMS offline too (`running_level`), as a stream is."
                 if results["sensor"].get("running_level") else
                 "the running mean a stream knows (and its running RMS) is what differs from offline most; the "
                 "rows with both given ahead (`offset=`, `level=`) show what is left."), ""]
    header = ["case", "samples", "input SNR", "offline SNR", "latency (samples)", "chunks", "stream SNR",
              "SNR vs offline (dB)"]
    table = []
    for row in se["rows"]:
        for run in row["runs"]:
            table.append([row["case"], row["samples"], fmt(row.get("input_snr_db", math.nan), 1),
                          fmt(row.get("offline_snr_db", math.nan), 1), run["latency_samples"], run["chunks"],
                          fmt(run.get("snr_db", math.nan), 1), fmt(run["snr_vs_offline_db"], 1)])
    lines += [markdown_table(header, table), "",
              "Mean and band (8 posterior samples, default latency): share of clean samples inside mean ± 1.645 "
              "std, streamed and offline, and the streamed band's median width over offline's.", "",
              markdown_table(["case", "coverage (stream)", "coverage (offline)", "band width stream / offline"],
                             [[b["case"], fmt(b["coverage"], 3), fmt(b["coverage_offline"], 3), fmt(b["std_ratio"], 2)]
                              for b in se["band"]]), "",
              "## Memory over a long stream", "",
              markdown_table(["stream", "minutes", "RSS after minute 1 (MiB)", "peak after (MiB)", "at the end (MiB)",
                              "growth (MiB)", "wall time (s)"],
                             [[name, fmt(m["minutes"], 0), fmt(m["rss_minute_1_mib"], 1),
                               fmt(m["rss_peak_after_minute_1_mib"], 1), fmt(m["rss_end_mib"], 1),
                               fmt(m["growth_mib"], 1), fmt(m["seconds"], 0)] for name, m in mem.items()]), "",
              "Run in a fresh process. `sensor`: the sensor model for real, 100 Hz, 1 s chunks. "
              "`speech_bookkeeping`: a 16 kHz speech "
              "stream in 20 ms chunks with the network call replaced by a pass-through (everything else real: "
              "buffers, job queue, accumulators); an hour of real speech denoising takes longer than this "
              "benchmark may run.", ""]
    return "\n".join(lines)


def _level_and_lookahead(sp: dict) -> str:
    """The speech section's account of what separates the stream from offline, for the model measured."""
    moved = (" The network reads level: scaling offline's input to it alone by "
             + ", ".join(f"{db:g} dB" for db in sp["level_sensitivity"]) + " moves its output by "
             + " / ".join(fmt(v, 1) for v in sp["level_sensitivity"].values()) + " dB SNR.")
    if sp["running_level"]:
        level = ("The level: this model is fed the running mean and RMS of what has arrived offline too "
                 "(`running_level`, `sigdenoise.level`), so both scale every hop alike." + moved)
    else:
        level = ("The level: offline scales the whole signal by its RMS, a stream by the running RMS of what has "
                 "arrived (`sigdenoise.level`), which lags wherever the level changes (the mixtures here differ by "
                 "±5 dB, and the first 0.25 s sets the level alone)." + moved + " The last row is given the whole "
                 "signal's level (`level=`).")
    reach = (f" The look-ahead: the network's output at a sample depends on the input up to "
             f"{sp['reads_ahead_s']:.2f} s later, and the stream waits {sp['lookahead_s']:.2f} s for it at the "
             "default latency")
    reach += (", so its windows hold all that offline's chunks give the network." if sp["reads_ahead_s"]
              <= sp["lookahead_s"] else ": a block's window sees less than its chunk.")
    return level + reach + " Against the clean speech the stream scores as offline does."


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="benchmarks/stream/results.md")
    parser.add_argument("--speech-model", default="speech")
    parser.add_argument("--sensor-model", default="sensor")
    parser.add_argument("--clips", type=int, default=16, help="speech mixtures joined into the stream (default 16)")
    parser.add_argument("--sensor-traces", type=int, default=6)
    parser.add_argument("--sensor-samples", type=int, default=20000)
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the memory test's streams")
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)  # the fresh process below
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.time()
    speech = load_model(args.speech_model, device="cpu")
    sensor = load_model(args.sensor_model, device="cpu")
    if args.memory_only:
        print(json.dumps(bench_memory(speech, sensor, args.minutes)))
        return 0
    results = {"machine": machine_description(),
               "speech_model": display_path(speech.metadata.get("path", args.speech_model)),
               "sensor_model": display_path(sensor.metadata.get("path", args.sensor_model))}
    results["speech"] = bench_speech(speech, args.clips)
    print("speech done", round(time.time() - started), file=sys.stderr)
    results["steady"] = bench_steady(speech)
    results["onset"] = bench_onset(speech)
    print("steady done", round(time.time() - started), file=sys.stderr)
    results["realtime"] = bench_realtime(speech)
    print("realtime done", round(time.time() - started), file=sys.stderr)
    results["sensor"] = bench_sensor(sensor, args.sensor_traces, args.sensor_samples)
    print("sensor done", round(time.time() - started), file=sys.stderr)
    # in a fresh process, so memory the earlier parts freed cannot hide growth
    child = subprocess.run([sys.executable, "-m", "benchmarks.stream.run", "--memory-only", "--minutes",
                            str(args.minutes), "--speech-model", args.speech_model, "--sensor-model",
                            args.sensor_model], capture_output=True, text=True, check=True)
    results["memory"] = json.loads(child.stdout.strip().splitlines()[-1])
    results["seconds"] = time.time() - started
    command = "python -m benchmarks.stream.run " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    out = Path(args.out)
    text = report(results, command.strip())
    atomic_write(out, lambda tmp: tmp.write_text(text))
    atomic_write(out.with_suffix(".json"), lambda tmp: tmp.write_text(json.dumps(results, indent=1, default=float)))
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
