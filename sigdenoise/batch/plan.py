"""Which files a batch denoises and where each result goes: options, input discovery, one job per file."""
from __future__ import annotations

import contextlib
import fnmatch
import glob
import hashlib
import itertools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence


from ..config import check_sampler_request  # torch-free: a bad batch stops before torch or a model loads
from .manifest import MANIFEST_NAME, _own_outputs, _real

DEFAULT_MODELS = {"audio": "speech", "sensor": "sensor"}  # which bundled model a file kind gets
MAX_AUTO_WORKERS = 8  # each worker holds its own copy of torch and the models (~0.3-0.5 GB)
_TIME_UNIT_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}  # CSV time-column units (io's convention)


class BatchUsageError(ValueError):
    """The arguments make the batch impossible before any file is touched (the CLI exits with 2)."""


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
    from ..options import OPTION_NAMES

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


# finding inputs
def _signal_extensions() -> tuple[frozenset, frozenset]:
    from ..io import AUDIO_EXTENSIONS, SENSOR_EXTENSIONS

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


def _resolve_models(kinds: set, options: BatchOptions) -> dict:
    """``{kind: (name, checkpoint path, sha256)}`` for the file kinds present; a missing model is a usage error."""
    from ..checkpoint import CheckpointError
    from ..checkpoint import resolve_checkpoint

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
