"""The ``sigdenoise`` command: train, calibrate, fetch-data, info, denoise, stream, adapt."""
from __future__ import annotations

import argparse
import json
import sys


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def cmd_train(args) -> int:
    from .config import load_train_config
    from .train import train

    overrides = {}
    for item in args.set or []:
        key, _, value = item.partition("=")
        overrides[key] = _parse_value(value)
    if args.out:
        overrides["out_dir"] = args.out
    config = load_train_config(args.config, overrides)
    path = train(config, init=args.init, resume=not args.restart)
    print(f"[train] model written to {path}")
    return 0


def cmd_calibrate(args) -> int:
    from .calibrate import calibrate

    summary = calibrate(args.model, args.out, count=args.examples, num_samples=args.num_samples,
                        target=args.target, fallback_windows=args.fallback_windows)
    print(json.dumps(summary, indent=1))
    print(f"[calibrate] calibrated model written to {args.out}")
    return 0


def cmd_fetch_data(args) -> int:
    from .sources import SOURCES, prepare, prepare_sensor

    roles = args.roles or ["speech", "noise"]
    known = [*SOURCES, "sensor"]
    unknown = sorted(set(roles) - set(known))
    if unknown:
        print(f"sigdenoise fetch-data: unknown role(s) {unknown}; choose from {', '.join(known)}", file=sys.stderr)
        return 2
    for role in roles:
        print(prepare_sensor() if role == "sensor" else prepare(role))
    return 0


def cmd_info(args) -> int:
    from .pipeline import load_model

    model = load_model(args.model, device="cpu")
    info = model.info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    cfg = info["config"]
    rate = f"{cfg['sample_rate']} Hz" if cfg["sample_rate"] else "native rate of each input (rate-agnostic)"
    training = info.get("training", {})
    validation = ", ".join(f"{k} {_number(v)}" for k, v in (training.get("validation") or {}).items()) or "none stored"
    lines = [
        f"model        {info.get('path', args.model)}",
        f"task         {cfg['task']}",
        f"runs at      {rate}",
        f"parameters   {info['parameters'] / 1e6:.2f} M ({cfg['net']['name']}, channels {cfg['net']['channels']})",
        f"STFT         n_fft {cfg['stft']['n_fft']}, hop {cfg['stft']['hop_length']}, "
        f"compression |X|^{cfg['stft']['alpha']} x {cfg['stft']['scale']}",
        f"sampler      Brownian bridge, sigma_max {cfg['bridge']['sigma_max']}, "
        f"default {cfg['bridge']['default_steps']} steps, strength {cfg.get('default_strength', 1.0)}",
        f"DC offset    {'handed back' if cfg.get('keep_offset', True) else 'dropped'}",
        f"calibrated   band scale {cfg.get('uncertainty_scale', 1.0):.4g}; fallback "
        + ("off" if cfg.get("fallback_below_db") is None
           else f"to the input in chunks the model changes by under {cfg['fallback_below_db']:g} dB"),
        f"data         {json.dumps(info.get('data', {}))}",
        f"training     step {training.get('step', '?')}, {_number(training.get('hours', '?'))} h"
        + (" (the last stage)" if len(training.get("stages") or ()) > 1 else ""),
    ]
    stages = training.get("stages") or ()
    if len(stages) > 1:  # a model fine-tuned from another: every stage's time, and the total
        lines += [f"  stage {i}    {s.get('run', '?')}: step {s.get('step', '?')}, {_number(s.get('hours', '?'))} h"
                  for i, s in enumerate(stages, 1)]
        hours = [s.get("hours") for s in stages]
        if all(isinstance(h, (int, float)) for h in hours):
            lines.append(f"  total      {_number(sum(hours))} h over {len(stages)} stages")
    lines.append(f"validation   {validation}")
    lines.append(f"written by   sigdenoise {info.get('sigdenoise_version', '?')}, checkpoint format "
                 f"{info.get('format_version', '?')}")
    if info.get("defaulted"):  # an older file: the settings it predates take this version's defaults
        lines.append(f"defaulted    {', '.join(info['defaulted'])}")
    adapted = training.get("adapted")
    if adapted:  # sigdenoise adapt: what it started from, on what, how, and its verdict
        report = adapted.get("report") or {}
        seconds = sum(item.get("seconds", 0) for item in adapted.get("inputs") or ())
        lines.append(f"adapted      from {adapted.get('base_model') or '?'} on {len(adapted.get('inputs') or ())} "
                     f"input(s), {seconds / 60:.1f} min; {adapted.get('method', '?')}")
        if report:
            lines.append(f"             {report.get('steps')} steps; self-consistency {report.get('metric')} "
                         f"{_number(report.get('base_score'))} -> {_number(report.get('adapted_score'))} dB "
                         f"({'better' if report.get('better') else 'worse'})")
    print("\n".join(lines))
    return 0


def _number(value) -> str:
    """A float as a person reads it (4 significant digits); anything else as it is."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def cmd_denoise(args) -> int:
    from .batch import BatchDiskError, BatchOptions, BatchUsageError, run_batch
    from .options import message_for

    columns = None
    if args.columns is not None:
        columns = tuple(c.strip() for c in args.columns.split(",") if c.strip()) or None
    try:
        options = BatchOptions(model=args.model, steps=args.steps, uncertainty=args.uncertainty, seed=args.seed,
                               strength=args.strength, remove_hum=not args.keep_mains, shifts=args.shifts,
                               device=args.device, sample_rate=args.sample_rate, workers=args.workers,
                               backend=args.backend, scheduler=args.scheduler, time_column=args.time_column,
                               columns=columns)
        summary = run_batch(args.inputs, args.output, options)
    except BatchUsageError as exc:
        print(f"sigdenoise denoise: error: {message_for(exc, 'cli')}", file=sys.stderr)
        return 2
    except BatchDiskError as exc:  # the manifest is whole; a rerun resumes
        print(f"sigdenoise denoise: error: {exc.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nsigdenoise denoise: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    print(summary.describe())
    return summary.exit_code


def _read_for_adapt(path, args):
    """One input of ``adapt`` as an adapt.Recording, with its kind ("audio" or "sensor")."""
    from .adapt import Recording
    from .io import AUDIO_EXTENSIONS, read_audio, read_sensor_log

    if path.suffix.lower() in AUDIO_EXTENSIONS:
        clip = read_audio(path)
        return Recording(data=clip.data, sample_rate=clip.sample_rate, name=str(path)), "audio"
    log = read_sensor_log(path, sample_rate=args.sample_rate, time_column=args.time_column)
    data = log.data
    if args.columns:
        wanted = [c.strip() for c in args.columns.split(",") if c.strip()]
        missing = [c for c in wanted if c not in log.channel_names]
        if missing:
            raise ValueError(f"{path}: no column(s) {missing}; it has {log.channel_names}")
        data = data[[log.channel_names.index(c) for c in wanted]]
    return Recording(data=data, sample_rate=log.sample_rate, name=str(path)), "sensor"


def cmd_adapt(args) -> int:
    import hashlib
    from pathlib import Path

    from .adapt import AdaptSettings, adapt_model, recording_checksum, save_adapted
    from .batch import BatchUsageError, find_inputs
    from .options import message_for
    from .pipeline import load_model

    output = Path(args.output)
    if output.suffix != ".safetensors":
        print(f"sigdenoise adapt: error: the output must be a .safetensors file, got {output}", file=sys.stderr)
        return 2
    try:
        files, _, notes = find_inputs(args.inputs)
    except BatchUsageError as exc:
        print(f"sigdenoise adapt: error: {message_for(exc, 'cli')}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"sigdenoise adapt: note: {note}", file=sys.stderr)
    recordings, kinds, skipped = [], set(), []
    for path in files:
        try:
            recording, kind = _read_for_adapt(Path(path), args)
        except Exception as exc:  # a file it cannot use is reported and skipped, as in denoise
            skipped.append(f"{path}: {message_for(exc, 'cli')}")
            continue
        recording.sha256 = recording_checksum(recording.data)
        recordings.append(recording)
        kinds.add(kind)
    for line in skipped:
        print(f"sigdenoise adapt: skipped {line}", file=sys.stderr)
    if not recordings:
        print("sigdenoise adapt: error: no usable inputs", file=sys.stderr)
        return 2
    if len(kinds) > 1 and not args.model:
        print("sigdenoise adapt: error: the inputs mix audio and sensor logs; adapt one kind at a time or name "
              "--model", file=sys.stderr)
        return 2
    try:
        model = load_model(args.model or ("speech" if kinds == {"audio"} else "sensor"), device="cpu")
    except Exception as exc:
        print(f"sigdenoise adapt: error: {exc}", file=sys.stderr)
        return 2
    settings = AdaptSettings(minutes=args.minutes, seed=args.seed)
    # the state of a killed run with the same model, inputs and settings is taken up again
    key = hashlib.sha256(repr((model.metadata.get("path"), sorted(r.sha256 for r in recordings),
                               settings)).encode()).hexdigest()[:12]
    state = output.with_name(f".{output.name}.{key}.adapt-state")
    seconds = sum(r.seconds for r in recordings)
    print(f"sigdenoise adapt: {len(recordings)} input(s), {seconds / 60:.1f} min of signal; budget "
          f"{args.minutes:g} min{' (resuming)' if state.exists() else ''}", file=sys.stderr)
    bar = None
    try:
        from tqdm import tqdm

        bar = tqdm(total=1, unit="step", dynamic_ncols=True, file=sys.stderr, mininterval=2)
    except ImportError:
        pass

    def progress(step, total, seconds_left):
        if bar is not None:
            bar.total = max(total, step)
            bar.n = step
            bar.set_postfix_str(f"{seconds_left / 60:.1f} min left", refresh=False)
            bar.refresh()

    try:
        adapted, report = adapt_model(model, recordings, settings, state_path=state, progress=progress)
    except KeyboardInterrupt:
        print("\nsigdenoise adapt: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except ValueError as exc:
        print(f"sigdenoise adapt: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    print(report.describe())
    if not report.better and not args.keep_worse:
        print(f"sigdenoise adapt: the adapted model scored worse than {model.metadata.get('path')}; nothing "
              "written (--keep-worse writes it anyway)", file=sys.stderr)
        state.unlink(missing_ok=True)
        return 1
    save_adapted(adapted, output)
    state.unlink(missing_ok=True)
    print(f"wrote {output}: use it with sigdenoise denoise --model {output}")
    return 0


def _version() -> str:
    from . import __version__

    return __version__


def cmd_stream(args) -> int:
    import signal

    from .pipeline import load_model
    from .stream import pipe_stream

    model = load_model(args.model, device=args.device)
    stream = model.stream(sample_rate=args.rate, channels=args.channels, latency=args.latency, steps=args.steps,
                          seed=args.seed, strength=args.strength, repair_nan=True)
    print(f"[stream] {args.model} at {args.rate:g} Hz, {args.channels} channel(s), latency {stream.latency:.3f} s",
          file=sys.stderr)
    if hasattr(signal, "SIGPIPE"):  # a closed reader (| head) ends the stream quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    def stop(signum, frame):  # kill (SIGTERM) ends the stream as Ctrl-C does: what was read comes out
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        pipe_stream(stream, sys.stdin.buffer, sys.stdout.buffer, format=args.format)
    except KeyboardInterrupt:
        return 130
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _posterior_samples(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 posterior samples to estimate a spread, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _unit_interval(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within [0, 1], got {text}")
    return value


DENOISE_EPILOG = """\
examples:
  sigdenoise denoise recordings/ -o clean/
  sigdenoise denoise 'logs/**/*.csv' plant.h5 -o clean/ --uncertainty 8 --workers 4
  sigdenoise denoise big/ -o clean/ --backend dask --scheduler tcp://10.0.0.5:8786

Outputs keep each input's format (NPY/Parquet: shape and dtype; CSV: its time column as
written), and mirror the input tree under OUTDIR; a file that exists there and is not an earlier output of a run into OUTDIR is
never written over. Every file gets a line in OUTDIR/manifest.jsonl (input, output, sha256
checksums of both, rate, duration, model, steps, status, error, seconds, output_warnings);
rerunning the same command skips the files whose settings and outputs are unchanged.
Exit status: 0 all files done, 1 some files failed (see the manifest), 2 usage error."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sigdenoise", description=(
        "Few-step diffusion denoiser for voice recordings and sensor logs."))
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train or fine-tune a model from a TOML config (resumes after a kill)")
    p.add_argument("--config", required=True, help="TOML file, e.g. configs/speech.toml")
    p.add_argument("--init", help="start from this model (a name in checkpoints/ or a .safetensors path)")
    p.add_argument("--out", help="output folder (overrides out_dir)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field, e.g. steps=100")
    p.add_argument("--restart", action="store_true", help="ignore a saved state in the output folder")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("calibrate", help="fit the fallback threshold (sensor) and the uncertainty band's scale "
                                         "(writes a copy)")
    p.add_argument("model", help="a .safetensors checkpoint (e.g. runs/sensor/model.safetensors)")
    p.add_argument("-o", "--out", required=True, help="where to write the calibrated checkpoint")
    p.add_argument("--examples", type=int, default=256, help="held-out examples to fit on (default 256)")
    p.add_argument("--num-samples", type=int, default=8, help="posterior samples per example (default 8)")
    p.add_argument("--target", type=float, default=0.90, help="coverage of mean ± 1.645 std to aim for (0.90)")
    p.add_argument("--fallback-windows", type=int, default=32,
                   help="training-split windows (x every recipe) to fit a sensor model's fallback on; 0 skips it")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("fetch-data", help="download and prepare the training corpora into ~/.cache/sigdenoise")
    p.add_argument("roles", nargs="*", metavar="ROLE", help="speech, speech-more, noise, noise-wide, noise-more, noise-ambience, heldout-speech, heldout-noise and/or sensor (default: speech noise)")
    p.set_defaults(func=cmd_fetch_data)

    p = sub.add_parser("info", help="show a model's config, rate, parameters and data summary")
    p.add_argument("model", help="a name in checkpoints/ (speech, sensor) or a .safetensors path")
    p.add_argument("--json", action="store_true", help="print everything stored in the checkpoint as JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("denoise", help="denoise files, folders and globs into an output folder (resumable)",
                       description="Denoise audio files and sensor logs in bulk, in parallel, resumably.",
                       epilog=DENOISE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="files, folders (searched recursively) or glob patterns ('**' recurses)")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR",
                   help="output folder (created; must not be inside an input folder)")
    p.add_argument("--model", metavar="speech|sensor|PATH",
                   help="model for every file (default: speech for audio, sensor for sensor logs)")
    p.add_argument("--steps", type=_positive_int, metavar="N", help="sampler steps (default: the model's own)")
    p.add_argument("--uncertainty", type=_posterior_samples, default=1, metavar="K",
                   help="average K posterior samples and write their std beside the values: <name>_std "
                        "columns in sensor logs, a <stem>_std file beside audio")
    p.add_argument("--seed", type=int, default=0, help="sampler seed; the same seed gives the same output (default 0)")
    p.add_argument("--strength", type=_unit_interval, metavar="S",
                   help="1 = fully denoised, 0 = the input unchanged, a dry/wet mix between "
                        "(default: the model's own; `sigdenoise info MODEL` shows it)")
    p.add_argument("--shifts", type=_positive_int, default=1, metavar="N",
                   help="average N placements of the STFT frame grid, at N times the compute (default 1; "
                        "2 gave the speech model +0.13 dB SI-SDR on held-out validation mixtures)")
    p.add_argument("--keep-mains", action="store_true",
                   help="sensor logs whose own signal is at 50/60 Hz (mains current or voltage): do not treat "
                        "mains lines as hum (by default they are removed as hum)")
    p.add_argument("--workers", type=_positive_int, metavar="N",
                   help="parallel worker processes (default: one per CPU core, at most 8; 1 with a GPU)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where the model runs (default auto: a GPU when the worker has one)")
    p.add_argument("--backend", choices=["local", "dask"], default="local",
                   help="local process pool (default) or a dask.distributed cluster")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://host:8786 (default: a local cluster of --workers)")
    p.add_argument("--sample-rate", type=_positive_float, metavar="HZ",
                   help="rate for sensor logs whose file gives none (NPY, CSV without a time column); "
                        "a rate the file states is kept, and audio files always use their own")
    p.add_argument("--time-column", metavar="NAME",
                   help="sensor tables (CSV, Parquet, TDMS): the column that holds the time (default: found by "
                        "name: time, timestamp, t, datetime, ...); its values are written back unchanged")
    p.add_argument("--columns", metavar="A,B,...",
                   help="sensor logs: denoise only these channels (comma-separated names); the others pass "
                        "through unchanged")
    p.set_defaults(func=cmd_denoise)

    p = sub.add_parser("stream", help="denoise a live stream from standard input to standard output",
                       description="Denoise raw PCM (or one value per line, CSV lines) from stdin to stdout as it "
                                   "arrives, e.g. arecord -f S16_LE -r 16000 | sigdenoise stream --rate 16000 | "
                                   "aplay -f S16_LE -r 16000")
    p.add_argument("--rate", type=_positive_float, required=True, metavar="HZ", help="sample rate of the input")
    p.add_argument("--model", default="speech", metavar="speech|sensor|PATH", help="model (default: speech)")
    p.add_argument("--format", choices=["s16le", "f32le", "text"], default="s16le",
                   help="s16le or f32le raw PCM, channels interleaved, or text: one sample per line, channels "
                        "separated by commas (default s16le); the output has the same format")
    p.add_argument("--channels", type=_positive_int, default=1, help="channels (default 1; text: values per line)")
    p.add_argument("--latency", type=_positive_float, metavar="SECONDS",
                   help="delay; less means less look-ahead and lower quality (default: 0.5 s for speech, "
                        "2048 samples for the sensor model)")
    p.add_argument("--steps", type=_positive_int, metavar="N", help="sampler steps (default: the model's own)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument("--strength", type=_unit_interval, metavar="S", help="dry/wet mix (default: the model's own)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu", help="where the model runs (cpu)")
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("adapt", help="fine-tune a model on your own noisy recordings or logs (no clean data "
                                     "needed) and write it as a new checkpoint",
                       description="Adapt a model to your recordings or logs: the model splits them into signal and "
                                   "noise estimates and a copy learns from your noises remixed over your signals. "
                                   "A share of the files is held aside to check, without clean data, that the "
                                   "result is better; a worse one is not written unless --keep-worse. Resumes "
                                   "after a kill.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="files, folders (searched recursively) or glob patterns, as for denoise")
    p.add_argument("-o", "--output", required=True, metavar="OUT.safetensors", help="the adapted model")
    p.add_argument("--model", metavar="speech|sensor|PATH",
                   help="the model to start from (default: speech for audio, sensor for sensor logs)")
    p.add_argument("--minutes", type=_positive_float, default=10.0,
                   help="wall-clock budget for the whole run (default 10: fits 10 minutes of audio or 10 million "
                        "log samples on 2 cores)")
    p.add_argument("--keep-worse", action="store_true",
                   help="write the adapted model even when the held-aside check says it got worse")
    p.add_argument("--sample-rate", type=_positive_float, metavar="HZ",
                   help="rate for sensor logs whose file gives none (NPY, CSV without a time column)")
    p.add_argument("--time-column", metavar="NAME", help="sensor tables: the column that holds the time")
    p.add_argument("--columns", metavar="A,B,...", help="sensor logs: adapt on these channels only")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    p.set_defaults(func=cmd_adapt)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .checkpoint import CheckpointError

    try:
        return args.func(args)
    except (CheckpointError, FileNotFoundError) as exc:  # the message already says what to do
        print(f"sigdenoise {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
