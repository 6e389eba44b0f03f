"""Denoise many files in one go: the engine behind ``sigdenoise denoise``.

Finds the inputs, plans one output per input (mirroring the input tree under the output
folder), then runs every file through read -> ``DenoiseModel.denoise_detailed`` -> write
on a local process pool or a Dask cluster, appending one JSON line per file to
``OUTDIR/manifest.jsonl``. A rerun skips what that manifest says is done, so a batch can
be killed at any moment and resumed. Only the public API of :mod:`sigdenoise.io` and
:mod:`sigdenoise.pipeline` is used; dask is imported only for ``backend="dask"``.
"""
from .folder import LOCK_NAME
from .manifest import MANIFEST_NAME, BatchDiskError, read_manifest
from .plan import BatchOptions, BatchUsageError, FileJob, find_inputs, plan_batch
from .runner import BatchSummary, run_batch
from .work import process_file

__all__ = ["BatchDiskError", "BatchOptions", "BatchSummary", "BatchUsageError", "FileJob", "LOCK_NAME", "MANIFEST_NAME",
           "find_inputs", "plan_batch", "process_file", "read_manifest", "run_batch"]
