"""The batch from start to end: plan, lock, run, record, summarise (``run_batch``)."""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence


from .executors import _default_workers, _run_dask, _run_local, _warm_up_pool
from .folder import _exclusive, _remove_stale_temps
from .manifest import CLAIMS_NAME, MANIFEST_NAME, _Manifest, _own_outputs, _real, read_manifest
from .plan import BatchOptions, BatchUsageError, plan_batch

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
