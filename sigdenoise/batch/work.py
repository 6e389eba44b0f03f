"""One file, start to finish, inside a worker process: read -> denoise -> write, and its manifest record."""
from __future__ import annotations

import contextlib
import itertools
import os
import select
import shutil
import threading
import time
import warnings
from collections import deque
from pathlib import Path

import numpy as np

from .. import jobs, sanity
from ..sanity import OutputCheck
from .plan import BatchOptions, FileJob, _TIME_UNIT_SECONDS, _sha256

_MODELS: dict = {}  # (checkpoint path, device) -> DenoiseModel, one per worker process
_PROCESS_READY = False


def _prepare_process() -> None:
    """One torch thread per worker (N workers then share N cores without oversubscription).

    It also makes outputs identical whatever the worker count or backend: torch's CPU
    kernels round differently with different thread counts.
    """
    global _PROCESS_READY
    if not _PROCESS_READY:
        import torch

        torch.set_num_threads(1)
        _PROCESS_READY = True


def _worker_init(batch_pid: int) -> None:
    """Pool initializer: one torch thread, and exit as soon as the batch process is gone.

    A worker waits on its task queue forever, and under a fork server its parent is the
    server, not the batch; so after a ``kill -9`` of the batch it would live on, finish its
    file and race the rerun. A watchdog thread ends it like a kill instead (the rerun then
    clears its temp file).
    """
    _prepare_process()
    threading.Thread(target=_exit_with, args=(batch_pid,), daemon=True, name="sigdenoise-watchdog").start()


def _exit_with(pid: int) -> None:
    try:
        handle = os.pidfd_open(pid)  # Linux >= 5.3: readable once the process has ended
    except (AttributeError, OSError):
        handle = None
    if handle is not None:
        select.select([handle], [], [])
    else:
        while True:
            time.sleep(1.0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
    os._exit(1)


def _model(path: str, device: str):
    key = (path, device)
    if key not in _MODELS:
        from ..pipeline import load_model

        _MODELS[key] = load_model(path, device=device)
    return _MODELS[key]


def _record(job: FileJob, status: str, **fields) -> dict:
    record = {"input": job.input, "output": job.output if status != "failed" else None, "checksum": None,
              "rate": None, "duration": None, "model": job.model, "steps": None, "status": status, "error": None,
              "seconds": None}
    record.update(fields)
    if job.std_output and status != "failed":
        record["std_output"] = job.std_output
    record["settings"] = job.settings
    return record


def _same_settings(prev: dict, job: FileJob) -> bool:
    """The settings match; ``--sample-rate`` counts only where the file had no rate of its own."""
    before, now = dict(prev.get("settings") or {}), dict(job.settings)
    if prev.get("rate_from") == "file" or job.kind == "audio":
        before.pop("sample_rate", None)
        now.pop("sample_rate", None)
    return before == now


def _already_done(job: FileJob, checksum: str) -> bool:
    """The manifest's last record for this input used these settings and the outputs are still the ones it wrote."""
    prev = job.previous
    if not (prev and prev.get("status") in ("ok", "skipped") and prev.get("checksum") == checksum
            and prev.get("output") == job.output and _same_settings(prev, job)):
        return False
    written = {job.output: prev.get("output_sha256")}
    if job.std_output is not None:
        written[job.std_output] = prev.get("std_sha256")
    try:
        return all(digest is not None and _sha256(path) == digest for path, digest in written.items())
    except OSError:
        return False


def _snapshot(path: str) -> tuple:
    """What changes when a file is rewritten: size, modification time and identity."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev


def process_file(job: FileJob, options: BatchOptions, progress=None) -> dict:
    """Denoise one file (or skip it when the manifest says it is done) and return its manifest record.

    Never raises for a bad file: the reason goes into ``record["error"]``. ``progress`` (in this
    process only) is called with the fraction of the file done.
    """
    started = time.perf_counter()
    _prepare_process()
    checksum = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            try:
                before = _snapshot(job.input)
                checksum = _sha256(job.input)
            except OSError as exc:
                raise OSError(f"{job.input}: cannot be read ({exc.strerror or exc}); check that it exists and "
                              "its permissions") from None
            if _already_done(job, checksum):
                prev = job.previous
                return _record(job, "skipped", checksum=checksum, rate=prev.get("rate"),
                               duration=prev.get("duration"), steps=prev.get("steps"),
                               seconds=round(time.perf_counter() - started, 4),
                               **{k: prev[k] for k in _CARRIED if k in prev})
            if job.kind is None:
                from ..io import read_signal

                read_signal(job.input)  # raises the reader's own "unsupported format" message
            model = _model(job.model_path, options.device)
            steps = model.resolve_steps(options.steps, num_samples=options.uncertainty)
            Path(job.output).parent.mkdir(parents=True, exist_ok=True)
            if job.kind == "audio":
                rate, samples, extra = _denoise_audio(job, model, options, progress)
            else:
                rate, samples, extra = _with_rate_fallback(
                    lambda sr: _denoise_sensor(job, model, options, sr, progress), options.sample_rate)
            if _snapshot(job.input) != before:  # what was decoded may not be what was hashed
                for target in filter(None, (job.output, job.std_output)):
                    with contextlib.suppress(OSError):
                        os.unlink(target)
                raise OSError(f"{job.input}: changed while it was being read (another program is writing it); "
                              "rerun when it is complete")
            extra["output_sha256"] = _sha256(job.output)
            if job.std_output is not None:
                extra["std_sha256"] = _sha256(job.std_output)
        except Exception as exc:  # a bad file must not stop the batch; its reason goes to the manifest
            return _record(job, "failed", checksum=checksum, error=_describe(exc),
                           seconds=round(time.perf_counter() - started, 4))
    record = _record(job, "ok", checksum=checksum, rate=rate, duration=round(samples / rate, 6), steps=steps,
                     seconds=round(time.perf_counter() - started, 4), samples=samples, **extra)
    notes = sorted({str(w.message) for w in caught})
    if notes:
        record["warnings"] = notes
    return record


# Fields a skipped file's record keeps from the run that denoised it (a later skip must still verify).
_CARRIED = ("output_sha256", "std_sha256", "rate_from", "output_warnings")


def _describe(exc: Exception) -> str:
    """The reason a file failed, in one line; io's errors already name the file and the fix (as flags)."""
    from ..io import SignalFileError
    from ..options import message_for

    if isinstance(exc, SignalFileError) or type(exc) is OSError:
        return message_for(exc, "cli")
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


def _with_rate_fallback(run, sample_rate: float | None):
    """Run with the rate the file states; only a file that states none gets ``--sample-rate``.

    An irregular time column is refused rather than treated as evenly spaced: the output keeps the
    log's own times, and an even rate would not match them.
    """
    from ..io import IrregularTimesError, NoRateError

    try:
        rate, samples, extra = run(None)
        return rate, samples, {**extra, "rate_from": "file"}
    except IrregularTimesError as exc:
        raise IrregularTimesError(
            f"{exc.finding}; sigdenoise keeps a log's own timestamps, so it does not denoise an irregular log as if "
            "it were evenly spaced: resample it onto an even time grid first (e.g. pandas "
            "df.set_index('time').resample(...).interpolate()), then run it again", path=exc.path) from None
    except NoRateError:
        if sample_rate is None:
            raise
    rate, samples, extra = run(sample_rate)
    return rate, samples, {**extra, "rate_from": "option"}


def _check_output(noisy: np.ndarray, denoised: np.ndarray, rate: float, *, audio: bool) -> dict:
    """The manifest's warning column: what :func:`sigdenoise.sanity.output_warnings` says about a result."""
    notes = sanity.output_warnings(noisy, denoised, rate, audio=audio)
    return {"output_warnings": notes} if notes else {}


def _denoise_audio(job: FileJob, model, options: BatchOptions, progress=None) -> tuple[float, int, dict]:
    from ..io import read_audio

    clip = read_audio(job.input)
    result = jobs.denoise_audio(model, clip, _settings(options), progress=progress)
    if job.std_output is not None:  # first, so that the main output existing means both are there
        jobs.write_audio_like(job.std_output, result.std, clip)
    jobs.write_audio_like(job.output, result.mean, clip)
    extra = {"repaired_samples": int(result.repaired.sum())} if result.repaired is not None else {}
    extra["rate_from"] = "file"
    extra.update(_check_output(clip.data, result.mean, clip.sample_rate, audio=True))
    return float(clip.sample_rate), int(clip.data.shape[-1]), extra


def _settings(options: BatchOptions, seed: int | None = None) -> "jobs.Settings":
    return jobs.Settings(steps=options.steps, seed=options.seed if seed is None else seed, strength=options.strength,
                         num_samples=options.uncertainty, remove_hum=options.remove_hum, shifts=options.shifts)


def _denoise_block(model, data: np.ndarray, *, rate: float, options: BatchOptions, seed: int, progress=None,
                   rows: list[int] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Denoise ``[channels, time]`` sensor values -> (mean, std or None), as :func:`sigdenoise.jobs.denoise_values`
    does for every front end (gaps filled, the channels not in ``rows`` passed through)."""
    result = jobs.denoise_values(model, data, sample_rate=rate, rows=rows, settings=_settings(options, seed),
                                 progress=progress)
    return result.mean, result.std


def _denoise_sensor(job: FileJob, model, options: BatchOptions, sample_rate: float | None,
                    progress=None) -> tuple[float, int, dict]:
    from ..io import read_sensor_log

    if Path(job.input).suffix.lower() in (".csv", ".tsv"):
        return _denoise_csv_streamed(job, model, options, sample_rate, progress)
    log = read_sensor_log(job.input, sample_rate=sample_rate, **_table_options(job.input, options))
    rows = _chosen_rows(job.input, list(log.channel_names), options)
    result = jobs.denoise_log(model, log, rows=rows, settings=_settings(options), progress=progress, source=job.input)
    jobs.write_log_like(job.output, log, result)
    extra = {"missing_samples": 0 if result.repaired is None else int(result.repaired.sum())}
    extra.update(_check_output(log.data, result.mean, log.sample_rate, audio=False))
    return float(log.sample_rate), int(log.data.shape[1]), extra


def _table_options(path: str, options: BatchOptions) -> dict:
    """``time_column`` for the formats that have named columns; arrays (NPY, HDF5, ...) take none."""
    if Path(path).suffix.lower() not in (".csv", ".tsv", ".parquet", ".tdms"):
        return {}
    return {"time_column": options.time_column}


def _chosen_rows(path: str, names: list[str], options: BatchOptions) -> list[int] | None:
    """Indices of the ``--columns`` channels (None: all); every other channel passes through unchanged."""
    if options.columns is None:
        return None
    missing = [c for c in options.columns if c not in names]
    if missing:
        from ..io import SignalFileError

        raise SignalFileError(f"{path}: --columns {missing} are not in the file; its channels are {names}", path=path)
    return [names.index(c) for c in options.columns]


class _SegmentStitcher:
    """Denoise a ``[channels, time]`` stream in overlapping segments and crossfade the seams.

    Segment ``k`` covers samples ``[k*(L-O), k*(L-O)+L)``; over each ``O``-sample overlap the
    outputs of neighbouring segments are blended with the raised-cosine pair that
    :func:`sigdenoise.preprocess.overlap_add` uses inside one call, so a stream of any length
    is denoised with O(L) memory. A stream shorter than ``L`` is one call, exactly like a
    whole-file denoise.
    """

    def __init__(self, denoise, *, segment: int, overlap: int):
        if not (0 < overlap and 2 * overlap < segment):
            raise ValueError(f"need 0 < 2*overlap < segment, got overlap={overlap}, segment={segment}")
        self.denoise = denoise  # (data, index) -> (mean, std | None)
        self.segment, self.overlap = segment, overlap
        self.pending: np.ndarray | None = None
        self.tail: tuple | None = None
        self.ready: deque = deque()  # (mean, std) pieces ready to write, in order
        self.ready_count = 0
        self.calls = 0
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
        self.fade_in = ramp[None, :]

    def push(self, data: np.ndarray) -> None:
        self.pending = data if self.pending is None else np.concatenate([self.pending, data], axis=1)
        while self.pending.shape[1] >= self.segment:
            self._run(self.pending[:, :self.segment], last=False)
            self.pending = np.ascontiguousarray(self.pending[:, self.segment - self.overlap:])

    def finish(self) -> None:
        if self.pending is None:
            return
        if self.tail is not None and self.pending.shape[1] <= self.overlap:
            self._emit(*self.tail)  # nothing after the last overlap: the previous segment already covers it
        else:
            self._run(self.pending, last=True)
        self.pending, self.tail = None, None

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The next ``n`` output samples (``n <= ready_count``)."""
        means, stds, got = [], [], 0
        while got < n:
            mean, std = self.ready.popleft()
            need = n - got
            if mean.shape[1] > need:
                self.ready.appendleft((mean[:, need:], None if std is None else std[:, need:]))
                mean, std = mean[:, :need], None if std is None else std[:, :need]
            means.append(mean)
            stds.append(std)
            got += mean.shape[1]
        self.ready_count -= n
        std = None if stds[0] is None else np.concatenate(stds, axis=1)
        return np.concatenate(means, axis=1), std

    def _emit(self, mean: np.ndarray, std) -> None:
        if mean.shape[1]:
            self.ready.append((mean, std))
            self.ready_count += mean.shape[1]

    def _run(self, data: np.ndarray, *, last: bool) -> None:
        mean, std = self.denoise(data, self.calls)
        self.calls += 1
        o, start = self.overlap, 0
        if self.tail is not None:
            tail_mean, tail_std = self.tail
            w = self.fade_in
            head_std = None if std is None else tail_std * (1 - w) + std[:, :o] * w
            self._emit(tail_mean * (1 - w) + mean[:, :o] * w, head_std)
            start = o
        end = mean.shape[1] if last else mean.shape[1] - o
        self._emit(mean[:, start:end], None if std is None else std[:, start:end])
        self.tail = None if last else (mean[:, end:].copy(), None if std is None else std[:, end:].copy())


def _denoise_csv_streamed(job: FileJob, model, options: BatchOptions,
                          sample_rate: float | None, progress=None) -> tuple[float, int, dict]:
    """Denoise a CSV/TSV of any size: read in pieces, denoise in overlapping segments, append to a temp file.

    The output is written piece by piece (one piece per input piece, with its own times),
    each through ``write_denoised_log`` into a scratch file that is appended to the temp
    output; ``atomic_write`` renames the temp file only when the whole log is done.
    """
    from ..io import SensorLog, atomic_write, iter_sensor_log_chunks, write_denoised_log

    output = Path(job.output)
    table = _table_options(job.input, options)
    pieces = iter_sensor_log_chunks(job.input, chunk_rows=options.csv_chunk_rows, sample_rate=sample_rate, **table)
    first = next(pieces)  # the file's layout and rate are read (and checked) here
    rate, names, channels = first.sample_rate, list(first.channel_names), first.data.shape[0]
    rows = _chosen_rows(job.input, names, options)
    # Seams overlap as much as the pipeline's own chunks do.
    model_rate = model.config.sample_rate or rate
    overlap_at_model_rate = model.chunk_samples()[1]
    overlap = max(8, int(round(overlap_at_model_rate * rate / model_rate)))
    per_sample = channels * max(1.0, model_rate / rate) * options.uncertainty
    segment = max(4 * overlap, int(options.segment_values / per_sample))
    done = {"samples": 0}

    def denoise_segment(data: np.ndarray, k: int):
        report = None
        if progress is not None:
            report = lambda f, base=done["samples"], n=data.shape[1]: progress(min(1.0, (base + f * n) / samples))
        result = _denoise_block(model, data, rate=rate, options=options,
                                seed=options.seed + k * options.uncertainty, progress=report, rows=rows)
        done["samples"] += data.shape[1] - overlap
        return result

    stitcher = _SegmentStitcher(denoise_segment, segment=segment, overlap=overlap)
    scratch = output.with_name(f".{output.stem}.part.tmp{output.suffix}")
    # One cheap reading pass first: whether the log has gaps decides its columns (the header is written
    # with the first block), and a log with no values at all is refused before any denoising.
    samples = missing = 0
    for piece in iter_sensor_log_chunks(job.input, chunk_rows=options.csv_chunk_rows, sample_rate=sample_rate,
                                        **table):
        samples += piece.data.shape[1]
        missing += int((~np.isfinite(piece.data if rows is None else piece.data[rows])).sum())
    if missing == samples * (channels if rows is None else len(rows)):
        raise jobs.no_values(job.input)
    counts = {"samples": 0, "blocks": 0}
    check = OutputCheck(rate, audio=False)  # the manifest's warnings, piece by piece

    def write_ready(sink, queue: deque) -> None:
        while queue and stitcher.ready_count >= queue[0][0]:
            n, start_time, metadata, gaps, noisy = queue.popleft()
            mean, std = stitcher.take(n)
            check.add(noisy, mean)
            meta = dict(metadata)
            first_sample = meta.pop("first_sample", 0)
            if counts["blocks"]:  # one header, at the top
                meta.update(header=False, header_comments=[])
            if meta.get("time_format") == "seconds":  # the writer counts times from time_start
                unit = _TIME_UNIT_SECONDS[meta.get("time_unit", "s")]
                meta["time_start"] = float(meta.get("time_start", 0.0) or 0.0) + first_sample / rate / unit
            block = SensorLog(mean, rate, names, start_time, meta)
            write_denoised_log(scratch, block, std=std, repaired=gaps)
            with open(scratch, "rb") as source:
                shutil.copyfileobj(source, sink, 1 << 20)
            counts["blocks"] += 1

    def write(tmp: Path) -> None:
        queue: deque = deque()
        with open(tmp, "wb") as sink:
            for piece in itertools.chain([first], pieces):
                counts["samples"] += piece.data.shape[1]
                gaps = None
                if missing:  # flags for the denoised channels; one that passes through keeps its gaps as gaps
                    gaps = ~np.isfinite(piece.data)
                    if rows is not None:
                        gaps[[i for i in range(channels) if i not in rows]] = False
                queue.append((piece.data.shape[1], piece.start_time, piece.metadata, gaps, piece.data))
                stitcher.push(piece.data)
                write_ready(sink, queue)
            stitcher.finish()
            write_ready(sink, queue)

    try:
        atomic_write(output, write)
    finally:
        with contextlib.suppress(OSError):
            scratch.unlink()
    extra = {"missing_samples": missing}
    if stitcher.calls > 1:
        extra["segments"] = stitcher.calls
    notes = check.notes()
    if notes:
        extra["output_warnings"] = notes
    return float(rate), counts["samples"], extra


@contextlib.contextmanager
def _working_here():
    """This process denoises files itself: one torch thread meanwhile, the caller's count restored after."""
    import torch

    global _PROCESS_READY
    threads, ready = torch.get_num_threads(), _PROCESS_READY
    try:
        yield
    finally:  # a library caller keeps its own thread count
        torch.set_num_threads(threads)
        _PROCESS_READY = ready
