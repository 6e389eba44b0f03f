"""Where the files are denoised: this process, a local process pool, or a Dask cluster, behind one iterator."""
from __future__ import annotations

import contextlib
import os
import sys
from collections import deque
from typing import Iterator


from .plan import BatchOptions, FileJob, MAX_AUTO_WORKERS
from .work import _model, _record, _worker_init, _working_here, process_file

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
