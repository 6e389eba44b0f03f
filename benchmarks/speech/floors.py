"""The speech model's behaviour checks that a quality table does not show.

    python -m benchmarks.speech.floors [--model speech] [--out benchmarks/speech/floors.md] [--no-peers]

- noise only in -> how much quieter out (dB), on held-out noise files; the learned peers
  (DeepFilterNet3, DTLN, NSNet2, RNNoise) get the same inputs in the same run (``--no-peers`` skips them);
- clean speech in (nothing added) -> SI-SDR of the output against the input; the same for the plain
  voices made deeper, higher or band-limited, sigdenoise and the learned peers side by side;
- a 10-minute 44.1 kHz stereo file -> peak resident memory of the whole call, and wall time;
- chunk seams: the same 12 s mixture denoised in 4 s chunks and in one piece, compared
  in 50 ms windows centred on the chunk borders versus everywhere else.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..common import machine_description, machine_line, si_sdr
from .mixtures import _load, _manifest

SR = 16000


def _validation(role):
    from sigdenoise.data import is_validation

    root, clips = _manifest(role)
    return [(root, c) for c in clips if is_validation(c, role)]


def round_robin(groups, n):
    """Up to ``n`` items, the groups (lists) taking turns; each group's share evenly spaced over it."""
    groups = [items for items in groups if items]
    share = [0] * len(groups)
    while sum(share) < n and any(s < len(g) for s, g in zip(share, groups)):
        for i, items in enumerate(groups):
            if share[i] < len(items) and sum(share) < n:
                share[i] += 1
    spaced = [[items[i] for i in np.linspace(0, len(items) - 1, k).round().astype(int)]
              for items, k in zip(groups, share)]
    return [queue[i] for i in range(max(share, default=0)) for queue in spaced if i < len(queue)]


def _noise_only_inputs(n=30):
    """``{name: waveform}``: held-out noise files of 1 s or more (first 4 s of each), each at a random
    level around -26 dBFS RMS.

    Picked round-robin over the noise packages, evenly spaced within each, so every kind of held-out
    noise counts (the manifest lists packages one after another: its first 20 files are all lincity's).
    """
    rng = np.random.default_rng(0)
    by_package = {}
    for root, clip in _validation("noise"):
        if clip["seconds"] >= 1.0:
            by_package.setdefault(clip["package"], []).append((root, clip))
    inputs = {}
    for root, clip in round_robin(by_package.values(), n):
        x = _load(root, clip)[: 4 * SR].astype(np.float32)
        if np.sqrt(np.mean(x ** 2)) < 1e-4:  # digital silence: no level to take away
            continue
        inputs[f"{clip['package']}/{clip['file'].rsplit('/', 1)[-1]} ({Path(clip['source']).name})"] = (
            x / np.sqrt(np.mean(x ** 2)) * 0.05 * rng.uniform(0.5, 2))
    return inputs


def noise_only_attenuation(denoise, inputs):
    """``{name: dB}``: how much quieter ``denoise(x, sr)`` leaves each noise-only input."""
    return {name: float(10 * np.log10(np.mean(x ** 2) / (np.mean(np.asarray(denoise(x, SR)) ** 2) + 1e-12)))
            for name, x in inputs.items()}


def mean_worst_count(per_file):
    """``{name: dB}`` -> (mean, worst, count), the form every row of the report takes."""
    values = list(per_file.values())
    return float(np.mean(values)), float(np.min(values)), len(values)


def learned_peers():
    """``{name: denoise(x, sr)}`` for every installed learned peer (the classical ones are not speech models)."""
    from .peers import PEERS, PeerUnavailable

    peers = {}
    for name in ("DeepFilterNet3", "DTLN", "NSNet2", "RNNoise"):
        try:
            peers[name] = PEERS[name]()
        except PeerUnavailable as exc:
            print(f"[floors] {name} skipped: {exc}")
    return peers


def _passthrough_clips(n=20):
    """Held-out clean clips of 1.5 s or more, spread over all speakers: ``{"plain": [...], "fillets": [...]}``."""
    clips = [(r, c) for r, c in _validation("speech") if c["seconds"] >= 1.5]
    chosen = {}
    for name, fillets in (("plain", False), ("fillets", True)):
        mine = [(r, c) for r, c in clips if c["group"].startswith("cs-") == fillets]
        chosen[name] = [_load(r, c).astype(np.float32) for r, c in mine[:: max(1, len(mine) // n)][:n]]
    return chosen


def _unseen_voice_clips(n=20):
    """Clean clips of the unseen table's voices (``fillets-ng-data-nl`` without the grunts), 1.5 s or more,
    spread over the speakers; empty when that corpus is not fetched."""
    try:
        root, clips = _manifest("heldout-speech")
    except FileNotFoundError:
        return []
    mine = [c for c in clips if c["seconds"] >= 1.5 and c["group"] != "nl-x"]
    mine.sort(key=lambda c: (c["group"], c["file"]))
    return [_load(root, c) for c in mine[:: max(1, len(mine) // n)][:n]]


UNSEEN_VOICES = "the unseen table's voices, as recorded (fillets-ng-data-nl)"


def _pitch(factor):
    import soxr

    return lambda x: soxr.resample(x, SR, int(round(SR / factor))).astype(np.float32)


def _band(low_hz, high_hz):
    from scipy.signal import butter, sosfilt

    sos = butter(6, [low_hz, high_hz], btype="bandpass", fs=SR, output="sos")
    return lambda x: sosfilt(sos, x).astype(np.float32)


# Voices the training recordings do not cover, made from the plain held-out clips: a model that has
# only heard ~29 voices may take a deep or a band-limited voice for noise.
VOICE_TRANSFORMS = {
    "as recorded": lambda x: x,
    "deeper (pitch and formants x0.7)": _pitch(0.7),
    "higher (x1.4)": _pitch(1.4),
    "telephone band (300-3400 Hz)": _band(300, 3400),
    "muffled (60-2000 Hz)": _band(60, 2000),
}


def check_clean_passthrough(denoise, clips):
    """Mean and worst SI-SDR (dB) of ``denoise(x, sr)`` against its clean input ``x``, and the count.

    The Fillets takes carry room sound and effects (every peer in results.md scores them below the
    noisy input), so they test "leave this alone" only loosely; the floor applies to the plain voices.
    """
    scores = [si_sdr(x, denoise(x, SR)) for x in clips]
    return float(np.mean(scores)), float(np.min(scores)), len(scores)


def check_voice_range(denoise, plain_clips, unseen_clips=()):
    """:func:`check_clean_passthrough` on the plain clips put through each of :data:`VOICE_TRANSFORMS`, and
    on the unseen table's own voices (dark, with the game's room sound: what a peer keeps and a model
    that takes them for noise loses shows up in that table's SI-SDR)."""
    out = {name: check_clean_passthrough(denoise, [transform(x) for x in plain_clips])
           for name, transform in VOICE_TRANSFORMS.items()}
    if len(unseen_clips):
        out[UNSEEN_VOICES] = check_clean_passthrough(denoise, unseen_clips)
    return out


LONG_FILE_SCRIPT = r"""
import sys, time, resource, numpy as np, torch
torch.set_num_threads(2)
import sigdenoise
model = sigdenoise.load_model(sys.argv[1], device="cpu")
rng = np.random.default_rng(0)
sr = 44100
x = (0.05 * rng.standard_normal((2, sr * 600))).astype(np.float32)  # 10 min stereo, float32 like soundfile
t = time.perf_counter()
y = model.denoise(x, sample_rate=sr)
wall = time.perf_counter() - t
assert y.shape == x.shape and np.isfinite(y).all()
peak = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(f"{peak:.0f} {wall:.1f}")
"""


def check_long_file(model_name):
    res = subprocess.run([sys.executable, "-c", LONG_FILE_SCRIPT, model_name], capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(res.stderr[-2000:])
    peak, wall = res.stdout.split()[-2:]
    return float(peak), float(wall)


def check_seams(model):
    from dataclasses import replace

    speech = [(_load(r, c)) for r, c in _validation("speech")[:40]]
    clean = np.concatenate(speech)[: 12 * SR].astype(np.float32)
    noise = _load(*_validation("noise")[1])
    noise = np.resize(noise, clean.size).astype(np.float32)
    noisy = clean + noise / (np.sqrt(np.mean(noise ** 2)) + 1e-9) * np.sqrt(np.mean(clean ** 2)) * 10 ** (-5 / 20)
    chunked = model.denoise(noisy, sample_rate=SR, eta=0.0)
    saved = model.config
    whole = model.with_config(replace(saved, chunk_seconds=13.0)).denoise(noisy, sample_rate=SR, eta=0.0)
    step = int((saved.chunk_seconds - saved.overlap_seconds) * SR)
    borders = np.arange(step, clean.size - step // 2, step) + int(saved.overlap_seconds * SR) // 2
    half = int(0.025 * SR)
    near = np.zeros(clean.size, bool)
    for b in borders:
        near[b - half: b + half] = True
    diff = chunked - whole
    near_db = 10 * np.log10(np.mean(whole[near] ** 2) / (np.mean(diff[near] ** 2) + 1e-12))
    far_db = 10 * np.log10(np.mean(whole[~near] ** 2) / (np.mean(diff[~near] ** 2) + 1e-12))
    # the first difference jumps at a seam; compare its size at borders with elsewhere
    jump = np.abs(np.diff(chunked))
    return float(near_db), float(far_db), float(jump[near[1:]].mean() / jump[~near[1:]].mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="speech")
    parser.add_argument("--out", default="benchmarks/speech/floors.md")
    parser.add_argument("--no-peers", dest="peers", action="store_false",
                        help="skip running the learned peers on the noise-only inputs")
    args = parser.parse_args(argv)
    import torch

    import sigdenoise

    torch.set_num_threads(2)
    model = sigdenoise.load_model(args.model, device="cpu")
    results = {}
    t = time.time()
    noise_inputs = _noise_only_inputs()
    clean_clips = _passthrough_clips()
    unseen_clips = _unseen_voice_clips()
    mine = lambda x, sr: model.denoise(x, sample_rate=sr)  # noqa: E731
    noise_per_file = {"sigdenoise": noise_only_attenuation(mine, noise_inputs)}
    voice_range = check_voice_range(mine, clean_clips["plain"], unseen_clips)
    results["clean_passthrough_si_sdr_db"] = {"plain": voice_range["as recorded"],
                                              "fillets": check_clean_passthrough(mine, clean_clips["fillets"])}
    results["voice_range_si_sdr_db"] = {"sigdenoise": voice_range}
    results["long_file_peak_mib_wall_s"] = check_long_file(args.model)
    results["seams_snr_near_far_db_jump_ratio"] = check_seams(model)
    results["noise_only_attenuation_db"] = mean_worst_count(noise_per_file["sigdenoise"])
    seconds = time.time() - t
    if args.peers:
        peers = learned_peers()
        noise_per_file.update((name, noise_only_attenuation(fn, noise_inputs)) for name, fn in peers.items())
        results["peers_noise_only_attenuation_db"] = {name: mean_worst_count(noise_per_file[name]) for name in peers}
        results["voice_range_si_sdr_db"].update((name, check_voice_range(fn, clean_clips["plain"], unseen_clips))
                                                for name, fn in peers.items())
    lines = [
        "# Speech model behaviour checks", "",
        f"`python -m benchmarks.speech.floors --model {args.model}` — {machine_line(machine_description())}, "
        f"{time.strftime('%Y-%m-%d')}, {seconds:.0f} s (sigdenoise's checks)", "",
        "| check | result | floor |", "|---|---|---|",
        "| noise-only input, attenuation (mean / worst, dB, {2} files) | {0:.1f} / {1:.1f} | ≥ 20 dB |".format(
            *results["noise_only_attenuation_db"]),
        "| clean input, SI-SDR of output vs input (mean / worst, dB, {2} clips of Asterisk fr, KLettres de/nl) | "
        "{0:.1f} / {1:.1f} | ≥ 20 dB |".format(*results["clean_passthrough_si_sdr_db"]["plain"]),
        "| the same for the Fillets voices (game characters with room sound and effects; {2} clips) | "
        "{0:.1f} / {1:.1f} | – (not clean) |".format(*results["clean_passthrough_si_sdr_db"]["fillets"]),
        "| 10 min 44.1 kHz stereo: peak RSS (MiB) / wall time (s), 2 threads | {0:.0f} / {1:.0f} | < 2048 MiB |".format(
            *results["long_file_peak_mib_wall_s"]),
        "| seams: chunked vs one-piece output, SNR near borders / elsewhere (dB); border jump ratio | "
        "{0:.1f} / {1:.1f}; {2:.2f} | no audible seam |".format(*results["seams_snr_near_far_db_jump_ratio"]),
    ]
    peers = results.get("peers_noise_only_attenuation_db")
    if peers:
        lines += ["", "The noise-only check on the learned peers, same inputs, same run:", "",
                  "| system | attenuation, mean / worst (dB) |", "|---|---|",
                  *[f"| {name} | {mean:.1f} / {worst:.1f} |" for name, (mean, worst, _) in peers.items()]]
    systems = list(noise_per_file)
    packages = sorted({name.split("/", 1)[0] for name in noise_per_file["sigdenoise"]})
    lines += ["", "Noise-only attenuation per held-out noise package, mean (dB) and file count "
              "(every file's number is in the .json next to this file):", "",
              "| package | files | " + " | ".join(systems) + " |", "|---" * (len(systems) + 2) + "|",
              *["| {} | {} | ".format(p, sum(k.startswith(p + "/") for k in noise_per_file["sigdenoise"])) + " | ".join(
                  "{:.1f}".format(np.mean([v for k, v in noise_per_file[s].items() if k.startswith(p + "/")]))
                  for s in systems) + " |" for p in packages]]
    voices = results["voice_range_si_sdr_db"]
    systems = list(voices)
    lines += ["", "Clean voices outside the training recordings' range: the plain clips above made deeper, higher or "
              "band-limited, then denoised with nothing added; SI-SDR of the output against that input, mean / worst "
              "(dB). A voice taken for noise shows up here.", "",
              "| voice | " + " | ".join(systems) + " |", "|---" * (len(systems) + 1) + "|",
              *["| {} | ".format(name) + " | ".join("{:.1f} / {:.1f}".format(*voices[s][name][:2]) for s in systems) + " |"
                for name in voices["sigdenoise"]]]
    Path(args.out).write_text("\n".join(lines) + "\n")
    results["noise_only_per_file_db"] = noise_per_file
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
