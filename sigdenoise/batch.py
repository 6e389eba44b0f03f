"""Denoise many files in one go: the engine behind ``sigdenoise denoise``.

Finds the inputs, plans one output per input (mirroring the input tree under the output
folder), then runs every file through read -> ``DenoiseModel.denoise_detailed`` -> write
on a local process pool or a Dask cluster, appending one JSON line per file to
``OUTDIR/manifest.jsonl``. A rerun skips what that manifest says is done, so a batch can
be killed at any moment and resumed. Only the public API of :mod:`sigdenoise.io` and
:mod:`sigdenoise.pipeline` is used; dask is imported only for ``backend="dask"``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import fnmatch
import glob
import hashlib
import itertools
import json
import math
import os
import re
import select
import shutil
import sys
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from . import jobs, sanity
from .config import check_sampler_request  # torch-free: a bad batch stops before torch or a model loads
from .sanity import OutputCheck

MANIFEST_NAME = "manifest.jsonl"
LOCK_NAME = ".sigdenoise-batch.lock"
CLAIMS_NAME = ".sigdenoise-claims"  # every output a run into this folder set out to write (relative paths, one a line)
DEFAULT_MODELS = {"audio": "speech", "sensor": "sensor"}  # which bundled model a file kind gets
MAX_AUTO_WORKERS = 8  # each worker holds its own copy of torch and the models (~0.3-0.5 GB)
_TIME_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}  # CSV time-column units (io's convention)
_STALE_TEMP = re.compile(r"^\..+\.tmp\.[A-Za-z0-9]+$")  # io.atomic_write's and our scratch names

__all__ = ["BatchOptions", "BatchSummary", "BatchUsageError", "FileJob", "MANIFEST_NAME", "plan_batch",
           "process_file", "read_manifest", "run_batch"]


class BatchUsageError(ValueError):
    """The arguments make the batch impossible before any file is touched (the CLI exits with 2)."""


# --------------------------------------------------------------------------- options and jobs
@dataclass(frozen=True)
class BatchOptions:
    """How to denoise a batch; each command-line flag of ``sigdenoise denoise`` maps to one field."""

    model: str | None = None  # a name in checkpoints/ or a .safetensors path; None: speech for audio, sensor for logs
    steps: int | None = None  # None: the model's default_steps
    uncertainty: int = 1  # posterior samples per file; >= 2 also writes their std beside the values
    seed: int = 0
    strength: float | None = None  # 1 = fully denoised, 0 = the input unchanged; None: the model's default
    remove_hum: bool = True  # False: sensor logs whose signal is at 50/60 Hz keep it (DenoiseModel.denoise)
    shifts: int = 1  # placements of the STFT frame grid to average (DenoiseModel.denoise); each is one more pass
    device: str = "auto"  # "auto", "cpu" or "cuda"
    sample_rate: float | None = None  # for sensor logs that store no rate (NPY, CSV without a time column)
    time_column: str | None = None  # tables (CSV, Parquet, TDMS): the column holding the time; None: found by name
    columns: tuple[str, ...] | None = None  # the channels to denoise (the others pass through); None: all
    workers: int | None = None  # None: one per CPU core (at most MAX_AUTO_WORKERS), 1 when a GPU is used
    backend: str = "local"  # "local" (process pool) or "dask"
    scheduler: str | None = None  # dask scheduler address; None: a LocalCluster on 127.0.0.1
    progress: bool = True  # tqdm bar on stderr
    csv_chunk_rows: int = 100_000  # rows read from a CSV at a time
    segment_values: int = 1 << 22  # CSVs are denoised in segments of at most this many values (at the model rate)

    def __post_init__(self):
        try:  # the model's own rule, checked here so that a bad batch stops before any model loads
            check_sampler_request(self.steps, self.uncertainty, self.shifts)
        except ValueError as exc:
            raise BatchUsageError(_as_flags(str(exc))) from None
        if self.strength is not None and not 0.0 <= self.strength <= 1.0:
            raise BatchUsageError(f"strength must be within [0, 1], got {self.strength}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise BatchUsageError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.sample_rate is not None and not (math.isfinite(self.sample_rate) and self.sample_rate > 0):
            raise BatchUsageError(f"sample_rate must be a positive number of Hz, got {self.sample_rate}")
        if self.workers is not None and self.workers < 1:
            raise BatchUsageError(f"workers must be >= 1, got {self.workers}")
        if self.backend not in ("local", "dask"):
            raise BatchUsageError(f"backend must be 'local' or 'dask', got {self.backend!r}")
        if self.scheduler and self.backend != "dask":
            raise BatchUsageError("--scheduler is an address of a Dask scheduler; add --backend dask")
        if self.columns is not None and (isinstance(self.columns, str) or not self.columns):
            raise BatchUsageError(f"columns must be a non-empty list of column names, got {self.columns!r}")
        if self.csv_chunk_rows < 1 or self.segment_values < 1:
            raise BatchUsageError("csv_chunk_rows and segment_values must be positive")


def _as_flags(text: str) -> str:
    """The sampler rule's message with the command line's names: ``num_samples=4`` -> ``--uncertainty 4``."""
    from .options import OPTION_NAMES

    return re.sub(r"\b(num_samples|steps|shifts)=", lambda m: OPTION_NAMES[m.group(1)]["cli"] + " ", text)


@dataclass(frozen=True)
class FileJob:
    """One input file and where its result goes; built by :func:`plan_batch`, pickled to the workers."""

    input: str  # absolute path
    output: str  # absolute path under the output folder, same extension
    kind: str | None  # "audio", "sensor", or None for an extension no reader knows
    model: str | None = None  # as chosen ("speech", "sensor" or the --model value)
    model_path: str | None = None
    std_output: str | None = None  # audio with uncertainty: the std goes to a sibling file
    settings: dict = field(default_factory=dict)  # everything besides the input that decides the output
    previous: dict | None = None  # this input's last record in the manifest, if any


# --------------------------------------------------------------------------- finding inputs
def _signal_extensions() -> tuple[frozenset, frozenset]:
    from .io import AUDIO_EXTENSIONS, SENSOR_EXTENSIONS

    return AUDIO_EXTENSIONS, SENSOR_EXTENSIONS


def _kind(path: str | Path) -> str | None:
    audio, sensor = _signal_extensions()
    ext = Path(path).suffix.lower()
    return "audio" if ext in audio else "sensor" if ext in sensor else None


def _is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _walk(folder: Path, notes: list[str]) -> Iterator[Path]:
    """Signal files under ``folder``, sorted; hidden files and folders are left out.

    Links to folders are not followed (``os.walk``'s default), so a folder loop cannot hang the search.
    """
    audio, sensor = _signal_extensions()
    ignored = 0

    def complain(error: OSError) -> None:
        notes.append(f"cannot list {error.filename}: {error.strerror}")

    for root, dirs, files in os.walk(folder, onerror=complain):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() in audio | sensor:
                yield Path(root) / name
            else:
                ignored += 1
    if ignored:
        notes.append(f"{folder}: left out {ignored} file(s) that are neither audio nor sensor logs")


def _name_matches(name: str, part: str) -> bool:
    # glob's rule: a wildcard does not match a leading dot
    return fnmatch.fnmatchcase(name, part) and (not name.startswith(".") or part.startswith("."))


def _expand_glob(folder: Path, parts: Sequence[str], seen: set, notes: list[str]) -> Iterator[Path]:
    """Paths under ``folder`` matching the pattern ``parts`` (``**``: any depth), like ``glob(recursive=True)``.

    ``glob`` follows links to folders without remembering where it has been, so a link back to a
    parent made ``'loop/**/*.wav'`` search forever; here each folder is searched once, and a link to
    one already searched is said in a note and skipped.
    """
    if not parts:
        yield folder
        return
    head, rest = parts[0], parts[1:]
    if head == "**":
        yield from _expand_glob(folder, rest, seen, notes)
        for entry in _entries(folder):
            if entry.name.startswith(".") or not _is_dir(entry):
                continue
            try:
                key = (entry.stat().st_dev, entry.stat().st_ino)
            except OSError:
                continue
            if key in seen:
                if entry.is_symlink():
                    notes.append(f"{entry.path}: a link to a folder already searched (a loop?); not searched again")
                continue
            seen.add(key)
            yield from _expand_glob(Path(entry.path), parts, seen, notes)
    elif not glob.has_magic(head):
        child = folder / head
        if rest:
            if child.is_dir():
                yield from _expand_glob(child, rest, seen, notes)
        elif os.path.lexists(child):
            yield child
    else:
        for entry in _entries(folder):
            if _name_matches(entry.name, head):
                if not rest:
                    yield Path(entry.path)
                elif _is_dir(entry):
                    yield from _expand_glob(Path(entry.path), rest, seen, notes)


def _entries(folder: Path) -> list:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:
        return []


def _is_dir(entry) -> bool:
    try:
        return entry.is_dir()  # follows links; a looping link is not a folder
    except OSError:
        return False


def _real(path: Path) -> Path:
    """``path`` with its links resolved; a looping or broken link resolves as far as it can (never raises)."""
    return Path(os.path.realpath(path))


def find_inputs(patterns: Sequence[str], *, skip: set | None = None) -> tuple[list[Path], list[Path], list[str]]:
    """Expand files, folders (recursively) and globs into absolute file paths.

    Returns ``(files, bases, notes)``: ``bases`` are the folders the output tree mirrors (a
    folder argument itself, a glob's fixed prefix, a file's parent); ``notes`` are things
    the user should hear about. Files whose real path is in ``skip`` (this output folder's
    own earlier outputs) are left out. A folder given by name (even one called ``x.wav``)
    is searched. Raises BatchUsageError for a path that neither exists nor is a glob.
    """
    files: list[Path] = []
    bases: list[Path] = []
    notes: list[str] = []
    for pattern in patterns:
        expanded_pattern = os.path.expanduser(pattern)
        path = Path(os.path.abspath(expanded_pattern))
        if glob.has_magic(pattern):
            parts = Path(expanded_pattern).parts
            fixed = list(itertools.takewhile(lambda part: not glob.has_magic(part), parts))
            base = Path(os.path.abspath(os.path.join(*fixed) if fixed else "."))
            bases.append(base)
            seen: set = set()
            with contextlib.suppress(OSError):
                seen.add((base.stat().st_dev, base.stat().st_ino))
            found = sorted(dict.fromkeys(_expand_glob(base, parts[len(fixed):], seen, notes)))
            expanded = []
            for match in found:
                expanded.extend(_walk(match, notes) if match.is_dir() else [match])
            if not expanded:
                notes.append(f"{pattern}: no files match")
            files.extend(expanded)
        elif path.is_dir():
            bases.append(path)
            found = list(_walk(path, notes))
            if not found:
                notes.append(f"{pattern}: a folder with no audio files or sensor logs in it")
            files.extend(found)
        elif path.exists() or path.is_symlink():
            bases.append(path.parent)
            files.append(path)
        else:
            raise BatchUsageError(f"{pattern}: no such file or folder (and not a glob pattern)")
    unique: dict[Path, None] = {}
    for f in files:
        if skip and _real(f) in skip:
            continue
        unique.setdefault(f, None)
    return list(unique), bases, notes


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def plan_batch(inputs: Sequence[str], out_dir: str | Path, options: BatchOptions) -> tuple[list[FileJob], list[str]]:
    """Turn the inputs into :class:`FileJob` s, refusing any plan that could write over a file not its own.

    The output tree mirrors the inputs relative to the deepest folder common to all of
    them (one folder argument: its contents land directly in ``out_dir``). A target may
    already exist only as an earlier output of a run into ``out_dir`` (its manifest says
    so); an input, or any other file, is never written over.
    """
    if not inputs:
        raise BatchUsageError("no inputs given")
    out_abs = Path(os.path.abspath(out_dir))
    out_real = _real(out_abs)
    if out_abs.exists() and not out_abs.is_dir():
        raise BatchUsageError(f"{out_abs}: the output must be a folder, and this is a file")
    for pattern in inputs:
        candidate = Path(os.path.abspath(os.path.expanduser(pattern)))
        if not glob.has_magic(pattern) and candidate.is_dir() and _is_inside(out_real, _real(candidate)):
            where = "the" if out_real == _real(candidate) else "inside the"
            raise BatchUsageError(f"the output folder {out_abs} is {where} input folder {candidate}; outputs would "
                                  "mix with (or overwrite) the inputs. Choose an output folder outside it")
    own = _own_outputs(out_abs / MANIFEST_NAME)
    files, bases, notes = find_inputs(inputs, skip=own)
    if not files:
        raise BatchUsageError("no input files found" + (f" ({'; '.join(notes)})" if notes else ""))
    root = Path(os.path.commonpath([str(b) for b in bases]))

    models = _resolve_models({_kind(f) for f in files}, options)
    input_real = {_real(f): f for f in files}
    jobs, outputs = [], {}
    for f in files:
        kind = _kind(f)
        rel = f.relative_to(root) if _is_inside(f, root) else Path(f.name)
        output = out_abs / rel
        std_output = None
        if kind == "audio" and options.uncertainty > 1:
            std_output = output.with_name(f"{output.stem}_std{output.suffix}")
        for target in filter(None, (output, std_output)):
            real = _real(target)
            if real in input_real:
                raise BatchUsageError(f"{target} would overwrite the input {input_real[real]}; choose an output "
                                      "folder that holds no inputs")
            if target in outputs:
                raise BatchUsageError(f"{outputs[target]} and {f} would both write {target}; rename one, "
                                      "or run them into separate output folders")
            if os.path.lexists(target) and real not in own:
                raise BatchUsageError(f"{target} exists and is not an output of an earlier run into {out_abs} (its "
                                      "manifest does not list it); sigdenoise never writes over such a file. Move "
                                      "it away, or choose another output folder")
            outputs[target] = f
        name, path, digest = models.get(kind, (None, None, None))
        # Audio files always carry their own rate, so --sample-rate never decides (or re-runs) them.
        settings = {"model_sha256": digest, "steps": options.steps, "uncertainty": options.uncertainty,
                    "seed": options.seed, "strength": options.strength,
                    "sample_rate": None if kind == "audio" else options.sample_rate, "remove_hum": options.remove_hum}
        if kind == "sensor" and (options.time_column is not None or options.columns is not None):
            settings.update(time_column=options.time_column,
                            columns=None if options.columns is None else list(options.columns))
        if options.shifts != 1:  # only then: manifests written before the option existed still resume
            settings["shifts"] = options.shifts
        jobs.append(FileJob(input=str(f), output=str(output), kind=kind, model=name, model_path=path,
                            std_output=None if std_output is None else str(std_output), settings=settings))
    return jobs, notes


def _own_outputs(manifest: Path) -> set[Path]:
    """Real paths of every file a run into this manifest's folder wrote, or claimed before writing it."""
    own: set[Path] = set()
    with contextlib.suppress(OSError), open(manifest.with_name(CLAIMS_NAME), encoding="utf-8") as handle:
        own.update(_real(manifest.parent / line.rstrip("\n")) for line in handle if line.strip())
    with contextlib.suppress(OSError):
        for record in _manifest_records(manifest):
            for key in ("output", "std_output"):
                if isinstance(record.get(key), str):
                    own.add(_real(Path(record[key])))
    return own


def _resolve_models(kinds: set, options: BatchOptions) -> dict:
    """``{kind: (name, checkpoint path, sha256)}`` for the file kinds present; a missing model is a usage error."""
    from .checkpoint import CheckpointError
    from .checkpoint import resolve_checkpoint

    models = {}
    for kind in sorted(k for k in kinds if k is not None):
        name = options.model or DEFAULT_MODELS[kind]
        try:
            path = resolve_checkpoint(name)
        except CheckpointError as exc:
            what = "" if options.model else f" (the default for {kind} files; pass --model to choose another)"
            raise BatchUsageError(f"{exc}{what}") from None
        models[kind] = (name, str(path.resolve()), _sha256(path))
    return models


# --------------------------------------------------------------------------- manifest
def _manifest_records(path: str | Path) -> Iterator[dict]:
    """The manifest's records in order; lines cut short by a kill (or not objects) are skipped."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


def read_manifest(path: str | Path) -> dict[str, dict]:
    """The last record per input in a manifest; lines cut short by a kill are ignored."""
    records: dict[str, dict] = {}
    with contextlib.suppress(FileNotFoundError):
        for record in _manifest_records(path):
            if "input" in record:
                records[record["input"]] = record
    return records


class BatchDiskError(OSError):
    """The manifest could not be written (a full disk, most often); the run stops, the manifest stays whole."""


class _Manifest:
    """Appends records to ``manifest.jsonl``, each written whole and fsynced before the next file counts as done.

    Writes go straight to the file (no buffer), and a write that fails part-way (a full disk) is cut back
    to the last whole line, so the manifest never ends in half a record.
    """

    def __init__(self, path: Path):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0), 0o666)
        end = os.lseek(self.fd, 0, os.SEEK_END)
        if end:
            os.lseek(self.fd, end - 1, os.SEEK_SET)
            if os.read(self.fd, 1) != b"\n":  # a kill mid-line leaves no newline
                self._write(b"\n")

    def append(self, record: dict) -> None:
        self._write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))

    def write_lines(self, lines: Sequence[str]) -> None:
        self._write("".join(f"{line}\n" for line in lines).encode("utf-8"))

    def _write(self, data: bytes) -> None:
        end = os.lseek(self.fd, 0, os.SEEK_END)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view):]
            os.fsync(self.fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, end)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise BatchDiskError(exc.errno, f"disk full: cannot write the manifest {self.path}. Free some space "
                                                "and run the same command again: the manifest is whole, and the "
                                                "files it lists as done are skipped") from None
            raise BatchDiskError(exc.errno, f"cannot write the manifest {self.path} ({exc.strerror or exc}); "
                                            "the run stopped, and the manifest is whole") from None

    def close(self) -> None:
        os.close(self.fd)


@contextlib.contextmanager
def _exclusive(out_dir: Path):
    """Hold a lock on the output folder so that two runs cannot write the same files; the lock file goes after."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; document "one run per folder"
        yield
        return
    lock = out_dir / LOCK_NAME
    while True:
        handle = open(lock, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise BatchUsageError(f"another 'sigdenoise denoise' is writing to {out_dir}; wait for it to "
                                  "finish") from None
        try:  # a run that finished meanwhile removed the file we locked: lock the one at the path now
            if os.stat(lock).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # while still held, so no other run can hold this file meanwhile
        handle.close()


def _remove_stale_temps(folders: Iterable[Path]) -> int:
    """Delete the temp files a killed run left behind (hidden ``.*.tmp.<ext>`` names)."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if _STALE_TEMP.match(entry.name) and entry.is_file():
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed += 1
    return removed


# --------------------------------------------------------------------------- one file (runs in a worker)
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
        from .pipeline import load_model

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
                from .io import read_signal

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
    from .io import SignalFileError
    from .options import message_for

    if isinstance(exc, SignalFileError) or type(exc) is OSError:
        return message_for(exc, "cli")
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


def _with_rate_fallback(run, sample_rate: float | None):
    """Run with the rate the file states; only a file that states none gets ``--sample-rate``.

    An irregular time column is refused rather than treated as evenly spaced: the output keeps the
    log's own times, and an even rate would not match them.
    """
    from .io import IrregularTimesError, NoRateError

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
    from .io import read_audio

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
    from .io import read_sensor_log

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
        from .io import SignalFileError

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
    from .io import SensorLog, atomic_write, iter_sensor_log_chunks, write_denoised_log

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


# --------------------------------------------------------------------------- running the jobs
def _default_workers(options: BatchOptions, n_jobs: int) -> int:
    if options.workers is not None:
        return options.workers
    if options.backend == "local" and options.device != "cpu":
        import torch

        if torch.cuda.is_available():
            return 1  # one process feeds one GPU best; more would each hold a copy of the model on it
    return max(1, min(_cores(), n_jobs, MAX_AUTO_WORKERS))


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _failed(job: FileJob, reason: str) -> dict:
    return _record(job, "failed", error=reason)


# What every worker needs, imported once in the fork server. Not pandas (~0.5 s): the server answers
# no fork before its preloads are done, and audio batches never need it; CSV workers import it lazily.
_PRELOAD = ["sigdenoise.batch", "sigdenoise.pipeline", "sigdenoise.io", "soundfile", "soxr"]


def _can_fork_here(options: BatchOptions) -> bool:
    """Whether pool workers may be forked from this very process (Linux, CPU only).

    Forked workers inherit torch and the loaded models, so they start in milliseconds instead of
    importing torch again (~2.5 s of CPU per worker, which on 2 cores ate most of a short batch's
    speed-up). CUDA does not survive fork, so a process that may touch a GPU uses the fork server.
    OpenMP is safe: workers set one torch thread first thing (``_worker_init``), so they never
    enter the parent's thread pool (DataLoader workers rely on the same).
    """
    if not sys.platform.startswith("linux") or options.backend != "local":
        return False
    import torch

    return options.device == "cpu" or not torch.cuda.is_available()


def _pool_context(options: BatchOptions):
    """Linux on CPU: fork this process (see :func:`_can_fork_here`). Linux with a GPU: a fork server
    that imports torch once, in a process that never touched CUDA, and forks workers from it.
    Elsewhere: spawn (each worker imports torch and loads its model)."""
    import multiprocessing

    if _can_fork_here(options):
        return multiprocessing.get_context("fork")
    if sys.platform.startswith("linux"):
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def _warm_up_pool(options: BatchOptions) -> None:
    """Start a fork server now (when one will be used), so that its imports overlap with planning."""
    if options.backend == "local" and (options.workers or min(_cores(), MAX_AUTO_WORKERS)) > 1:
        context = _pool_context(options)
        if context.get_start_method() == "forkserver":
            from multiprocessing import forkserver

            forkserver.ensure_running()


_WORKER_DIED = ("a worker process died while denoising this file or one beside it (killed, out of memory, or it "
                "could not start: a script calling run_batch with workers > 1 needs `if __name__ == '__main__':`); "
                "rerun to retry")


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


def _run_local(jobs: list[FileJob], options: BatchOptions, workers: int, progress=None) -> Iterator[dict]:
    """This process is one worker; ``workers - 1`` more come from a pool (see :func:`_pool_context`).

    Working here as well saves one process start (torch and the models are already loaded here) and
    keeps the cores busy while the pool's processes start; without it, short batches of small files
    spent most of their time waiting for workers.
    """
    with _working_here():
        if workers == 1:
            for job in jobs:
                yield process_file(job, options, progress)
            return
        yield from _run_with_pool(jobs, options, workers - 1, progress)


def _run_with_pool(jobs: list[FileJob], options: BatchOptions, pool_size: int, progress=None) -> Iterator[dict]:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    todo = deque(jobs)
    context = _pool_context(options)
    if context.get_start_method() == "fork":  # load the models once, here: forked workers inherit them
        for path in dict.fromkeys(job.model_path for job in jobs if job.model_path):
            with contextlib.suppress(Exception):  # a model that cannot load fails again per file, in the manifest
                _model(path, options.device)
    while todo:
        pool = ProcessPoolExecutor(max_workers=pool_size, mp_context=context, initializer=_worker_init,
                                   initargs=(os.getpid(),))
        running: dict = {}

        def fill() -> None:
            # Each pool worker holds its next job too, so it never waits for this process to finish a file
            # before it gets one (a queue of one job each: a crash still loses little); and one job is
            # always left for this process.
            while len(todo) > 1 and len(running) < 2 * pool_size:
                job = todo.popleft()
                try:
                    running[pool.submit(process_file, job, options)] = job
                except BrokenProcessPool:
                    todo.appendleft(job)
                    return

        try:
            broken = False
            while (todo or running) and not broken:
                fill()
                if todo:  # this process works too, then collects whatever the pool finished meanwhile
                    yield process_file(todo.popleft(), options, progress)
                    done = {future for future in running if future.done()}
                else:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                finished = [(future, running.pop(future)) for future in done]
                fill()  # before the caller handles the results: no worker waits on the manifest
                for future, job in finished:
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        broken = True
                        yield _failed(job, _WORKER_DIED)
            for job in running.values():
                yield _failed(job, _WORKER_DIED)
        finally:
            pool.shutdown(wait=not sys.exc_info()[0], cancel_futures=True)


def _run_dask(jobs: list[FileJob], options: BatchOptions, workers: int, progress=None) -> Iterator[dict]:
    """The same jobs on dask.distributed: a given scheduler, or a LocalCluster of single-thread processes."""
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if options.scheduler:
        client = Client(options.scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = {client.submit(process_file, job, options, pure=False): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                yield future.result()
            except Exception as exc:  # the task itself never raises; this is a lost worker or a broken cluster
                yield _failed(job, f"the Dask task failed ({exc.__class__.__name__}: {exc}); rerun to retry")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------- the batch
@dataclass
class BatchSummary:
    """What a run did: its records (in completion order), wall time and manifest path."""

    records: list[dict]
    seconds: float
    manifest: Path
    workers: int
    backend: str
    notes: list[str] = field(default_factory=list)
    scheduler: str | None = None

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.records)

    @property
    def exit_code(self) -> int:
        """0 when every file is done (denoised now or before), 1 when any failed."""
        return 1 if self.count("failed") else 0

    def describe(self) -> str:
        """A few human lines: counts, throughput, the failures and where the manifest is."""
        ok, skipped, failed = self.count("ok"), self.count("skipped"), self.count("failed")
        signal = sum(r.get("duration") or 0 for r in self.records if r["status"] == "ok")
        rate = ok / self.seconds if self.seconds > 0 else float("nan")
        lines = [f"{len(self.records)} file(s): {ok} denoised, {skipped} skipped (already done), {failed} failed "
                 f"in {self.seconds:.1f} s ({rate:.2f} files/s, {_hms(signal)} of signal, "
                 + (f"Dask cluster at {self.scheduler})" if self.scheduler else
                    f"{self.workers} {self.backend} worker(s))")]
        lines += [f"  failed: {_failure_line(r)}" for r in self.records if r["status"] == "failed"]
        flagged = [r for r in self.records if r.get("output_warnings")]
        if flagged:
            lines.append(f"{len(flagged)} file(s) with a warning about the result (listen or look before using them; "
                         "the manifest's output_warnings says why):")
            lines += [f"  {r['input']}: {r['output_warnings'][0]}" for r in flagged[:10]]
            if len(flagged) > 10:
                lines.append(f"  ... and {len(flagged) - 10} more")
        lines.append(f"manifest: {self.manifest}")
        if failed:
            lines.append("fix or remove the failed files and rerun the same command; finished files are skipped")
        return "\n".join(lines)


def _failure_line(record: dict) -> str:
    error = record["error"] or "unknown error"
    return error if error.startswith(record["input"]) else f"{record['input']}: {error}"


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class _Progress:
    """Files done (with ETA) and samples denoised, on stderr."""

    def __init__(self, total: int, enabled: bool, stream):
        from tqdm import tqdm

        self.stream, self.samples, self.done, self.total = stream, 0, 0, total
        self.bar = tqdm(total=total, unit="file", file=stream, dynamic_ncols=True, smoothing=0.1,
                        desc="denoise") if enabled else None

    def within_file(self, fraction: float) -> None:
        """The file this process denoises is ``fraction`` done: the bar moves within a long file too."""
        if self.bar is not None:
            self.bar.n = round(self.done + min(max(fraction, 0.0), 0.999), 3)
            self.bar.refresh()

    def update(self, record: dict) -> None:
        self.done += 1
        self.samples += int(record.get("samples") or 0)
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.bar.format_sizeof(self.samples)} samples", refresh=False)
            self.bar.n = self.done
            self.bar.refresh()

    def say(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_batch(inputs: Sequence[str], out_dir: str | Path, options: BatchOptions = BatchOptions(), *,
              stream=None) -> BatchSummary:
    """Denoise every input file into ``out_dir``, resumably; returns a :class:`BatchSummary`.

    ``inputs`` are files, folders (searched recursively) and glob patterns. Progress,
    notes and per-file failures go to ``stream`` (default ``sys.stderr``). Raises
    :class:`BatchUsageError` before touching any file when the request cannot work.
    """
    stream = sys.stderr if stream is None else stream
    if options.backend == "dask":
        try:
            import dask.distributed  # noqa: F401  (fail now, not after planning)
        except ImportError:
            raise BatchUsageError("--backend dask needs dask.distributed: pip install 'sigdenoise[dask]'") from None
    if options.device == "cuda" and options.backend == "local":
        import torch

        if not torch.cuda.is_available():
            raise BatchUsageError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    _warm_up_pool(options)
    jobs, notes = plan_batch(inputs, out_dir, options)
    out_dir = Path(os.path.abspath(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = _default_workers(options, len(jobs))
    started = time.perf_counter()
    records: list[dict] = []
    with _exclusive(out_dir):
        manifest_path = out_dir / MANIFEST_NAME
        previous = read_manifest(manifest_path)
        jobs = [dataclasses.replace(job, previous=previous.get(job.input)) for job in jobs]
        removed = _remove_stale_temps({Path(job.output).parent for job in jobs})
        if removed:
            notes.append(f"removed {removed} temp file(s) left by an interrupted run")
        progress = _Progress(len(jobs), options.progress, stream)
        for note in notes:
            progress.say(f"note: {note}")
        manifest = _Manifest(manifest_path)
        run_id = time.strftime("%Y-%m-%dT%H:%M:%S")
        runner = _run_dask if options.backend == "dask" else _run_local
        try:
            # Claim every new target before writing any: a kill between an output's rename and its record
            # must not leave a file that the next run takes for someone else's (and refuses to replace).
            own = _own_outputs(manifest_path)
            claims = [os.path.relpath(target, out_dir) for job in jobs for target in (job.output, job.std_output)
                      if target is not None and _real(Path(target)) not in own]
            if claims:
                ledger = _Manifest(out_dir / CLAIMS_NAME)
                try:
                    ledger.write_lines(claims)
                finally:
                    ledger.close()
            for record in runner(jobs, options, workers, progress.within_file):
                record["run"] = run_id
                manifest.append(record)
                records.append(record)
                progress.update(record)
                if record["status"] == "failed":
                    progress.say(f"failed: {_failure_line(record)}")
                for warning in record.get("warnings", []):
                    progress.say(f"warning: {warning}")
        finally:
            progress.close()
            manifest.close()
            # A worker killed mid-write (a Dask worker, whose task then ran elsewhere) leaves its temp file.
            late = _remove_stale_temps({Path(job.output).parent for job in jobs})
            if late:
                notes.append(f"removed {late} temp file(s) left by a worker that stopped mid-write")
    return BatchSummary(records, time.perf_counter() - started, manifest_path, workers, options.backend, notes,
                        options.scheduler)
